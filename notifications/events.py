"""What each event tells customers and merchants: outbox messages, written in the
event's own transaction (called from receivers.py)."""

import datetime as dt
import hashlib
import logging
from collections import defaultdict
from decimal import Decimal
from functools import partial
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, Q
from django.utils import timezone
from django.utils.functional import lazy

from billing.models import EntryKind, LedgerEntry
from billing.money import money_format
from billing.services import EXPIRED_REASON
from billing.statements import paid_at_checkout
from catalog.models import Product
from catalog.selectors import global_settings_get, product_policy
from inventory.models import Source
from inventory.selectors import is_low_on_stock, products_low_on_stock
from orders.links import order_url
from orders.models import Order, OrderRow, RowEvent, RowStatus, Shipment
from orders.presentation import rows_for_customer
from orders.selectors import age_bucket_of, age_buckets, aged_bucket, rows_waiting_in

from .links import row_cancel_url
from .models import OrderPlacedNote
from .money import money_text, orders_money_lines, refund_notes_render
from .outbox import (
    SendResult,
    _check_header,
    outbox_announce,
    outbox_message,
    outbox_send_batch,
    outbox_write,
)

log = logging.getLogger(__name__)


def _event_key(rows) -> str:
    """One key per event: the same rows in the same state give the same key."""
    parts = sorted(f"{r.pk}@{r.updated_at.timestamp() if r.updated_at else ''}" for r in rows)
    return hashlib.sha1("|".join(parts).encode(), usedforsecurity=False).hexdigest()[:16]


def _row_lines(rows, *, defaults=None, currency: str | None = None) -> list[dict]:
    """What an email says of each row: its status as the customer reads it (silent backorders
    read as "Preparing"), for a waiting one its date and cancel link, and for a discounted
    one its unit price and why (the checkout's snapshot, in the order's currency)."""
    currency = currency or settings.BILLING_CURRENCY
    lines = []
    for shown in rows_for_customer(sorted(rows, key=lambda r: (r.line_no, r.pk)), defaults=defaults):
        row = shown.row
        waiting = row.is_waiting
        expected = None
        if waiting:
            if row.status == RowStatus.PREORDERED:
                expected = row.product.release_date
            expected = row.promise_date or expected or row.product.expected_restock_date
        lines.append(
            {
                "row": row,
                "product": row.product,
                "status": shown.status,
                "waiting": waiting,
                "expected": expected,
                "cancel_url": row_cancel_url(row) if waiting else "",
                "discount": _discount_text(row, currency),
            }
        )
    return lines


def _discount_text(row: OrderRow, currency: str) -> dict | None:
    discount = row.discount_applied
    if discount is None:
        return None
    return {
        "unit_price": money_text(row.unit_price, currency),
        "list_price": money_text(discount.list_price, currency),
        # worded when the email is rendered, in its recipient's language
        "reason": lazy(discount.reason, str)(partial(money_format, currency=currency)),
    }


def _orders_with_rows(order_ids):
    rows = OrderRow.objects.select_related("product", "source", "order").order_by("line_no", "pk")
    return Order.objects.filter(pk__in=order_ids).prefetch_related(Prefetch("rows", queryset=rows))


def notify_order_placed(*, order: Order, rows, decisions) -> None:
    """In the checkout's transaction: record what the order's emails will say, in one
    insert and without rendering them.

    Row locks last until commit, so rendering here would hold the product and stock
    locks for it (issue 9.6); the send job renders the note after commit
    (order_notes_render). The snapshot keeps the emails as they were: each row as
    placed, whom to tell about backorders (allow_notify), free stock after the order.
    """
    _check_header("recipient", order.email)  # refused with the order, as rendering here did
    lines = {row.line_no: row.product_id for row in rows}
    snapshot = {
        "day": timezone.localdate().isoformat(),
        "rows": {
            str(r.pk): [r.status, r.quantity, r.source_id, r.promise_date and r.promise_date.isoformat()]
            for r in rows
        },
        "notify": sorted(lines[n] for n, d in enumerate(decisions, start=1) if d.notify_customer),
        "free": {
            str(lines[n]): d.free - d.from_stock for n, d in enumerate(decisions, start=1) if d.from_stock
        },
    }
    OrderPlacedNote.objects.create(order=order, snapshot=snapshot)
    outbox_announce()  # the send job renders the note


def order_notes_render(*, limit: int = 100) -> int:
    """Render the emails of placed orders from their notes (run by the send job first).

    Low-stock alerts go out on a note's first render; the order's confirmation (and the
    merchants' backorder-placed email) once the order is paid, when the note is deleted. An
    order that ends unpaid drops its note (notify_rows_cancelled). The notes are claimed with
    SKIP LOCKED, and each is deleted or marked in the transaction that writes its outbox
    messages (unique keys): rendered once, and one that fails to render stays for the next
    run. Returns the notes rendered.
    """
    due = OrderPlacedNote.objects.filter(Q(alerts_written=False) | paid_at_checkout())
    if not due.exists():
        return 0
    with transaction.atomic():
        notes = list(
            due.select_for_update(skip_locked=True).annotate(paid=paid_at_checkout()).order_by("pk")[:limit]
        )
        if not notes:
            return 0
        orders = {order.pk: order for order in _orders_with_rows([n.order_id for n in notes])}
        money = orders_money_lines([n.order_id for n in notes if n.paid])
        defaults = global_settings_get()
        messages, done, alerted = [], [], []
        for note in notes:
            try:
                messages += _order_placed_messages(
                    orders[note.order_id], note, defaults, money=money.get(note.order_id)
                )
            except Exception:
                log.exception(
                    "Order %s: its emails could not be rendered; kept for the next run", note.order_id
                )
                continue
            (done if note.paid else alerted).append(note.pk)
        unique = {}
        for message in messages:
            unique.setdefault(message.key, message)  # one low-stock alert a day, from the first order
        outbox_write(messages=list(unique.values()))
        OrderPlacedNote.objects.filter(pk__in=done).delete()
        if alerted:
            OrderPlacedNote.objects.filter(pk__in=alerted).update(alerts_written=True)
    return len(done) + len(alerted)


def emails_send_batch(*, batch_size: int = 100) -> SendResult:
    """One round of the send job: render the emails of orders placed (or paid) and of refunds
    settled since the last round, then send one batch of due messages."""
    order_notes_render(limit=batch_size)
    refund_notes_render(limit=batch_size)
    return outbox_send_batch(batch_size=batch_size)


def _as_placed(order: Order, placed: dict) -> list:
    """The order's rows as the checkout wrote them (a row may have moved on since)."""
    rows = []
    for row in order.rows.all():
        if str(row.pk) not in placed:
            continue  # split off an original row after the order was placed
        status, quantity, source_id, promise = placed[str(row.pk)]
        if row.source_id != source_id:
            row.source = Source.objects.filter(pk=source_id).first() if source_id else None
        row.status, row.quantity = status, quantity
        row.promise_date = dt.date.fromisoformat(promise) if promise else None
        rows.append(row)
    return rows


def _order_placed_messages(order: Order, note: OrderPlacedNote, defaults, *, money: dict | None) -> list:
    snapshot = note.snapshot
    rows = _as_placed(order, snapshot["rows"])
    # allow_notify: say plainly how many units of each product are backordered.
    backordered = defaultdict(int)
    ordered = defaultdict(int)
    for row in rows:
        ordered[row.product] += row.quantity
        if row.status == RowStatus.BACKORDERED:
            backordered[row.product] += row.quantity
    notices = [
        {"product": p, "backordered": n, "ordered": ordered[p]}
        for p, n in backordered.items()
        if p.pk in snapshot["notify"]
    ]
    messages = []
    if note.paid:
        context = {
            "order": order,
            "lines": _row_lines(rows, defaults=defaults, currency=money["currency"] if money else None),
            "notices": notices,
            "order_url": order_url(order),
            "money": money,
        }
        messages.append(
            outbox_message(
                kind="order_confirmation",
                key=order.number,
                to=order.email,
                context=context,
                language=order.language,
            )
        )
        if notices:
            messages += [
                outbox_message(
                    kind="backorder_placed",
                    key=order.number,
                    to=to,
                    context=context,
                    language=settings.ADMIN_LANGUAGE_CODE,
                )
                for to in settings.MERCHANT_EMAILS
            ]
    if note.alerts_written:
        return messages
    products = {row.product_id: row.product for row in rows}
    free = {products[int(pk)]: units for pk, units in snapshot["free"].items()}
    return messages + _low_stock_messages(free, defaults=defaults, day=dt.date.fromisoformat(snapshot["day"]))


def _defaults_if_backordered(rows):
    """The global settings, read once for all orders, when a backordered row needs them
    (silent backorders); None otherwise, so nothing is read."""
    return global_settings_get() if any(r.status == RowStatus.BACKORDERED for r in rows) else None


def _per_order(kind: str, rows, *, with_money: bool = False) -> None:
    """One email per order for an event touching many rows, in a constant number of queries
    (three more with the orders' money)."""
    fresh = OrderRow.objects.select_related("product", "source", "order").filter(pk__in=[r.pk for r in rows])
    by_order = defaultdict(list)
    for row in fresh:
        by_order[row.order].append(row)
    messages = []
    defaults = _defaults_if_backordered(fresh)
    money = orders_money_lines([order.pk for order in by_order]) if with_money else {}
    for order, order_rows in sorted(by_order.items(), key=lambda item: item[0].pk):
        context = {
            "order": order,
            "lines": _row_lines(order_rows, defaults=defaults),
            "order_url": order_url(order),
            "money": money.get(order.pk),
        }
        key = f"{order.number}:{_event_key(order_rows)}"
        messages.append(
            outbox_message(kind=kind, key=key, to=order.email, context=context, language=order.language)
        )
    outbox_write(messages=messages)


def notify_rows_allocated(*, rows) -> None:
    _per_order("rows_allocated", rows, with_money=True)
    low_stock_check(product_ids={r.product_id for r in rows})


def notify_preorders_released(*, rows) -> None:
    _per_order("preorder_released", rows)


def notify_shipped(*, shipment: Shipment, rows) -> None:
    order = shipment.order
    lines = _row_lines(
        OrderRow.objects.select_related("product", "source", "order").filter(shipment=shipment)
    )
    capture = LedgerEntry.objects.filter(shipment=shipment, kind=EntryKind.CAPTURE).first()
    context = {
        "order": order,
        "shipment": shipment,
        "lines": lines,
        "order_url": order_url(order),
        "money": orders_money_lines([order.pk]).get(order.pk),
        "capture": capture,
        "capture_amount": money_text(capture.amount, capture.currency) if capture else "",
    }
    outbox_write(
        messages=[
            outbox_message(
                kind="shipped", key=str(shipment.pk), to=order.email, context=context, language=order.language
            )
        ]
    )


def notify_tracking_changed(*, shipment: Shipment, was_tracking_number: str, note) -> None:
    """The customer's corrected tracking link, in the correction's transaction; keyed by the
    note recording the change: one email per change."""
    order = shipment.order
    context = {
        "order": order,
        "shipment": shipment,
        # the number it replaces, when there was one and it changed (not a carrier-only fix)
        "replaced": was_tracking_number if was_tracking_number != shipment.tracking_number else "",
        "order_url": order_url(order),
    }
    outbox_write(
        messages=[
            outbox_message(
                kind="tracking_changed",
                key=f"{shipment.pk}:{note.pk}",
                to=order.email,
                context=context,
                language=order.language,
            )
        ]
    )


def low_stock_check(*, product_ids) -> None:
    """Tell merchants when free stock has fallen to the low-stock threshold (once a day per product)."""
    if not product_ids:
        return
    day = timezone.localdate()
    low = products_low_on_stock(Product.objects.filter(pk__in=product_ids))
    outbox_write(
        messages=[m for p in low for m in _low_stock_alerts(p, free=p.free, threshold=p.threshold, day=day)]
    )


def _low_stock_messages(free: dict, *, defaults, day: dt.date) -> list:
    """The low-stock alerts for products whose free stock (counted at the order) is low."""
    messages = []
    for product, units in free.items():
        policy = product_policy(product=product, defaults=defaults)
        if is_low_on_stock(free=units, policy=policy):
            messages += _low_stock_alerts(product, free=units, threshold=policy.low_stock_threshold, day=day)
    return messages


def _low_stock_alerts(product, *, free: int, threshold: int, day: dt.date) -> list:
    context = {"product": product, "free": free, "threshold": threshold}
    return [
        outbox_message(
            kind="low_stock",
            key=f"{product.pk}:{day}",
            to=to,
            context=context,
            language=settings.ADMIN_LANGUAGE_CODE,
        )
        for to in settings.MERCHANT_EMAILS
    ]


def digest_aged_backorders(*, today: dt.date | None = None) -> int:
    """The merchants' daily digest: rows waiting (backordered or pre-ordered) at least the
    first of the ages, by product, in the age groups of orders.selectors."""
    today = today or timezone.localdate()
    now = timezone.now()
    aged = aged_bucket()
    rows = list(
        rows_waiting_in(OrderRow.objects.all(), bucket=aged, now=now)
        .select_related("product", "order")
        .order_by("product__name", "queue_at")
    )
    if not rows:
        return 0
    groups = [bucket for bucket in age_buckets() if bucket.min_days >= aged.min_days]
    products = {}
    for row in rows:
        entry = products.setdefault(
            row.product_id,
            {"product": row.product, "rows": 0, "units": 0, "oldest": 0, "buckets": defaultdict(int)},
        )
        age = (now - row.queue_at).days
        entry["rows"] += 1
        entry["units"] += row.quantity
        entry["oldest"] = max(entry["oldest"], age)
        entry["buckets"][age_bucket_of(days=age).key] += row.quantity
    table = [
        {**e, "by_age": [e["buckets"].get(b.key, 0) for b in groups]}
        for e in sorted(products.values(), key=lambda e: -e["oldest"])
    ]
    context = {
        "today": today,
        "aged": aged,
        "groups": groups,
        "products": table,
        "total_rows": len(rows),
        "rows_path": f"/admin/orders/orderrow/?{urlencode({'waited': aged.key})}",
    }
    outbox_write(
        messages=[
            outbox_message(
                kind="aged_backorders",
                key=str(today),
                to=to,
                context=context,
                language=settings.ADMIN_LANGUAGE_CODE,
            )
            for to in settings.MERCHANT_EMAILS
        ]
    )
    return len(table)


def notify_promises_slipped(*, slips) -> None:
    """One email per order whose waiting rows' promise moved later, with the new dates."""
    new_dates = {slip.row_id: slip for slip in slips}
    rows = OrderRow.objects.select_related("product", "source", "order").filter(pk__in=new_dates)
    by_order = defaultdict(list)
    for row in rows:
        by_order[row.order].append(row)
    messages = []
    defaults = _defaults_if_backordered(rows)
    for order, order_rows in sorted(by_order.items(), key=lambda item: item[0].pk):
        lines = _row_lines(order_rows, defaults=defaults)
        for line in lines:
            line["was"] = new_dates[line["row"].pk].was
        key = order.number + ":" + ",".join(sorted(f"{r.pk}>{new_dates[r.pk].now}" for r in order_rows))
        key = f"{order.number}:{hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:16]}"
        context = {"order": order, "lines": lines, "order_url": order_url(order)}
        messages.append(
            outbox_message(
                kind="promise_moved", key=key, to=order.email, context=context, language=order.language
            )
        )
    outbox_write(messages=messages)


def notify_rows_cancelled(*, rows) -> None:
    """In the cancellation's transaction (after billing wrote its refunds): one email per
    order saying what was cancelled, why, and what comes back; an order whose time to pay
    ran out gets the expiry email instead. An order that ends unpaid drops its placed-order
    note, so its confirmation never goes out. ``rows`` come from orders' row_cancel with
    their order, product and source loaded."""
    if not rows:
        return
    row_ids = [r.pk for r in rows]
    by_order = defaultdict(list)
    for row in rows:
        by_order[row.order].append(row)
    events = RowEvent.objects.filter(row_id__in=row_ids, to_status=RowStatus.CANCELLED).order_by("pk")
    reasons = dict(events.values_list("row_id", "reason"))
    money = orders_money_lines([order.pk for order in by_order])
    # What comes back: these rows' refunds, and shipping's once nothing is left (written now).
    shipping_keys = [f"refund:shipping:{pk}" for pk, m in money.items() if not m["rows_left"]]
    refunds = (
        LedgerEntry.objects.filter(kind=EntryKind.REFUND)
        .filter(Q(lines__row_id__in=row_ids) | Q(idempotency_key__in=shipping_keys))
        .distinct()
    )
    back = defaultdict(Decimal)
    for order_id, amount in refunds.values_list("order_id", "amount"):
        back[order_id] += amount
    messages, ended_unpaid = [], []
    for order, order_rows in sorted(by_order.items(), key=lambda item: item[0].pk):
        mine = money.get(order.pk)
        expired = any(reasons.get(r.pk) == EXPIRED_REASON for r in order_rows)
        if mine is not None and not mine["rows_left"] and (expired or not mine["paid"]):
            ended_unpaid.append(order.pk)
        context = {
            "order": order,
            "lines": _row_lines(order_rows),
            "reason": reasons.get(order_rows[0].pk, ""),
            "back": money_text(back[order.pk], mine["currency"]) if back[order.pk] else "",
            "money": mine,
            "order_url": order_url(order),
        }
        kind = "order_expired" if expired else "rows_cancelled"
        key = f"{order.number}:{_event_key(order_rows)}"
        messages.append(
            outbox_message(kind=kind, key=key, to=order.email, context=context, language=order.language)
        )
    outbox_write(messages=messages)
    if ended_unpaid:
        OrderPlacedNote.objects.filter(order_id__in=ended_unpaid).delete()
