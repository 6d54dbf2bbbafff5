"""Every write billing does: totals snapshots, payments, the ledger's intents and outcomes.

Lock order: what orders holds (products, stock, order rows), then the order's OrderTotals
row, which is billing's lock per order: every ledger write for an order happens under it.
Gateway calls happen only in entry_settle, outside any transaction, after the intent
(with its idempotency key) has committed.
"""

import datetime as dt
import json
import logging
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from payments import PaymentStatus

from orders.exceptions import OrderError
from orders.models import WAITING, Order, OrderRow, ReturnStatus, RowStatus, Shipment
from orders.services import return_lock, return_refunded, row_cancel

from . import gateway
from .exceptions import (
    AmountNotOrders,
    CaptureOfCancelledRow,
    NotPayable,
    RefundAboveCapture,
    ReturnNotRefundable,
    RowNotInOrder,
    RowNotRefundable,
)
from .models import (
    RETURN_REFUND_KEY,
    EntryKind,
    EntryState,
    LedgerEntry,
    LedgerLine,
    MoneyWaitingSummary,
    OrderTotals,
    Payment,
    PaymentPurpose,
    Settlement,
)
from .money import Pricing, totals_compute
from .signals import order_paid, refunds_written, shipment_charged

ZERO = Decimal("0")
log = logging.getLogger(__name__)
LEFT_TO_SHIP = (RowStatus.ALLOCATED, *WAITING)


def pricing_from_settings() -> Pricing:
    free_from = settings.BILLING_FREE_SHIPPING_FROM
    return Pricing(
        currency=settings.BILLING_CURRENCY,
        shipping=Decimal(settings.BILLING_SHIPPING),
        free_shipping_from=Decimal(free_from) if free_from not in ("", None) else None,
        tax_rate=Decimal(settings.BILLING_TAX_RATE),
        prices_include_tax=settings.BILLING_PRICES_INCLUDE_TAX,
    )


def order_totals_snapshot(*, order: Order, rows: list[OrderRow]) -> OrderTotals:
    """The order's totals from its rows and today's settings, written once (checkout's transaction)."""
    pricing = pricing_from_settings()
    totals = totals_compute(lines=[(row.unit_price, row.quantity) for row in rows], pricing=pricing)
    return OrderTotals.objects.create(
        order=order,
        currency=totals.currency,
        subtotal=totals.subtotal,
        shipping=totals.shipping,
        shipping_tax=totals.shipping_tax,
        tax=totals.tax,
        total=totals.total,
        tax_rate=pricing.tax_rate,
        prices_include_tax=pricing.prices_include_tax,
        settlement=settings.BILLING_SETTLEMENT,
        pay_by=order.placed_at + dt.timedelta(minutes=settings.BILLING_PAYMENT_WINDOW_MINUTES),
    )


def _lock_totals(order_id: int) -> OrderTotals:
    return OrderTotals.objects.select_for_update(of=("self",)).select_related("order").get(pk=order_id)


def _enqueue_after_commit(entry: LedgerEntry) -> None:
    from .tasks import enqueue_settle

    transaction.on_commit(partial(enqueue_settle, entry.pk))


def _checkout_entries(order_ids: list[int]) -> dict[int, LedgerEntry]:
    """The checkout's authorization or capture each order is paid by (the first that succeeded)."""
    found: dict[int, LedgerEntry] = {}
    entries = (
        LedgerEntry.objects.filter(
            order_id__in=order_ids,
            payment__purpose=PaymentPurpose.CHECKOUT,
            kind__in=[EntryKind.AUTHORIZE, EntryKind.CAPTURE],
            state__in=[EntryState.SUCCEEDED, EntryState.PENDING],
            parent__isnull=True,
        )
        .exclude(idempotency_key__startswith="duplicate:")
        .order_by("pk")
    )
    for entry in entries:
        found.setdefault(entry.order_id, entry)
    return found


def _checkout_entry(order_id: int) -> LedgerEntry | None:
    return _checkout_entries([order_id]).get(order_id)


# --- paying for an order ----------------------------------------------------------------


def payment_start(*, order_id: int, now: dt.datetime | None = None, variant: str | None = None) -> Payment:
    """The order's payment with the provider, awaiting the customer: the one already waiting
    (two tabs pay the same payment), or a new one after a decline. Refused once paid,
    after the window, or with nothing left to pay. ``variant`` defaults to PAYMENT_VARIANT
    (the demo data names the dummy provider whatever the shop is set to)."""
    now = now or timezone.now()
    with transaction.atomic():
        try:
            totals = _lock_totals(order_id)
        except OrderTotals.DoesNotExist:
            number = Order.objects.filter(pk=order_id).values_list("number", flat=True).first()
            raise NotPayable(order=number or str(order_id), reason="it has no totals to pay.") from None
        order = totals.order
        if _checkout_entry(order_id) is not None:
            raise NotPayable(order=order.number, reason="it is paid already.")
        if now > totals.pay_by:
            raise NotPayable(order=order.number, reason="the time to pay has run out.")
        live = [r for r in order.rows.all() if r.status != RowStatus.CANCELLED]
        if not live:
            raise NotPayable(order=order.number, reason="every row is cancelled.")
        waiting = order.payments.filter(
            purpose=PaymentPurpose.CHECKOUT, status__in=[PaymentStatus.WAITING, PaymentStatus.INPUT]
        ).first()
        if waiting is not None:
            return waiting
        goods = sum((totals.row_value(r) for r in live), start=totals.unit(ZERO))
        first, _, last = order.full_name.partition(" ")
        return Payment.objects.create(
            order=order,
            purpose=PaymentPurpose.CHECKOUT,
            variant=variant or settings.PAYMENT_VARIANT,
            currency=totals.currency,
            total=goods.gross + totals.shipping_gross,
            tax=goods.tax + totals.shipping_tax,
            delivery=totals.shipping_gross,
            description=f"Order {order.number}",
            billing_email=order.email,
            billing_first_name=first,
            billing_last_name=last,
            # the rows this amount pays for (django-payments' attrs live in extra_data)
            extra_data=json.dumps({"rows": [r.pk for r in live]}),
        )


def payment_status_changed(*, payment_id: int) -> LedgerEntry | None:
    """The provider moved a payment (django-payments' status_changed): record what it means."""
    with transaction.atomic():
        payment = Payment.objects.get(pk=payment_id)
        totals = _lock_totals(payment.order_id)
        payment.refresh_from_db()  # as of the lock
        if payment.purpose == PaymentPurpose.PAY_LINK:
            return _record_pay_link(payment)
        return _record_checkout_payment(totals, payment)


def _record_checkout_payment(totals: OrderTotals, payment: Payment) -> LedgerEntry | None:
    if payment.status not in (PaymentStatus.PREAUTH, PaymentStatus.CONFIRMED):
        return None
    mine = LedgerEntry.objects.filter(payment=payment, parent__isnull=True).first()
    if mine is not None:
        return None  # recorded already (a capture of ours moves an authorization to CONFIRMED)
    paid_by = _checkout_entry(totals.order_id)
    authorized = payment.status == PaymentStatus.PREAUTH
    entry = LedgerEntry.objects.create(
        order_id=totals.order_id,
        kind=EntryKind.AUTHORIZE if authorized else EntryKind.CAPTURE,
        state=EntryState.SUCCEEDED,
        amount=payment.total,
        currency=payment.currency,
        payment=payment,
        covers_shipping=not authorized,
        idempotency_key=f"{'duplicate:' if paid_by else ''}checkout:payment:{payment.pk}",
        provider_reference=payment.transaction_id,
        settled_at=timezone.now(),
    )
    if paid_by is not None:
        # Paid twice (another attempt got through first): give this one back whole.
        _intent(
            totals,
            kind=EntryKind.RELEASE if authorized else EntryKind.REFUND,
            parent=entry,
            amount=entry.amount,
            key=f"void:payment:{payment.pk}",
        )
        return entry
    # The order settles as the provider paid it: an authorization per shipment, a charge as prepaid.
    settlement = Settlement.PER_SHIPMENT if authorized else Settlement.AT_CHECKOUT
    if totals.settlement != settlement:
        totals.settlement = settlement
        totals.save(update_fields=["settlement"])
    if not authorized:
        # The rows the payment was started for, even one cancelled since: _settle refunds it.
        paid_for = json.loads(payment.extra_data or "{}").get("rows")
        rows = totals.order.rows.filter(pk__in=paid_for) if paid_for else totals.order.rows.all()
        LedgerLine.objects.bulk_create(
            LedgerLine(entry=entry, row=r, amount=totals.row_value(r).gross) for r in rows
        )
    order_paid.send(sender=LedgerEntry, order_id=totals.order_id, entry=entry)
    _settle(totals)
    return entry


def _record_pay_link(payment: Payment) -> LedgerEntry | None:
    entry = LedgerEntry.objects.select_for_update().get(pk=payment.entry_id)
    if entry.state != EntryState.AWAITING_PAYMENT:
        return None
    if payment.status == PaymentStatus.CONFIRMED:
        entry.state, entry.settled_at = EntryState.SUCCEEDED, timezone.now()
        entry.provider_reference = payment.transaction_id
    elif payment.status == PaymentStatus.PREAUTH:
        entry.state = EntryState.PENDING  # authorized for this amount: capture it
        _enqueue_after_commit(entry)
    else:
        return None
    entry.payment = payment
    entry.save(update_fields=["state", "settled_at", "provider_reference", "payment"])
    return entry


def pay_link_create(*, entry_id: int) -> Payment:
    """A payment for one shipment's capture that no valid authorization covers."""
    with transaction.atomic():
        order_id = LedgerEntry.objects.values_list("order_id", flat=True).get(pk=entry_id)
        totals = _lock_totals(order_id)
        entry = LedgerEntry.objects.get(pk=entry_id)
        if entry.state != EntryState.AWAITING_PAYMENT:
            raise NotPayable(order=totals.order.number, reason="this shipment is paid already.")
        waiting = entry.pay_links.filter(status__in=[PaymentStatus.WAITING, PaymentStatus.INPUT]).first()
        if waiting is not None:
            return waiting
        return Payment.objects.create(
            order=totals.order,
            purpose=PaymentPurpose.PAY_LINK,
            entry=entry,
            variant=settings.PAYMENT_VARIANT,
            currency=entry.currency,
            total=entry.amount,
            description=f"Order {totals.order.number}, shipment {entry.shipment_id}",
            billing_email=totals.order.email,
        )


EXPIRED_REASON = "Payment not completed"


def unpaid_orders_expire(*, now: dt.datetime | None = None, limit: int = 100) -> list[int]:
    """Cancel the rows of orders whose time to pay ran out unpaid (orders' own cancellation:
    allocated units go to waiting rows first, backorder headroom comes back). A payment that
    lands meanwhile is given back by the cancellation's settlement. Returns the order ids."""
    from .selectors import orders_payment_expired

    expired = list(orders_payment_expired(now=now).order_by("pk").values_list("pk", flat=True)[:limit])
    done = []
    for order_id in expired:
        live = OrderRow.objects.filter(order_id=order_id, status__in=LEFT_TO_SHIP).values_list(
            "pk", flat=True
        )
        try:
            row_cancel(row_ids=list(live), reason=EXPIRED_REASON)
        except OrderError as error:  # a row shipped meanwhile: the next sweep sees the rest
            log.warning("Order %s not expired: %s", order_id, error)
            continue
        done.append(order_id)
    return done


# --- intents: captures, refunds, releases ------------------------------------------------


def _intent(
    totals: OrderTotals,
    *,
    kind: str,
    parent: LedgerEntry | None,
    amount: Decimal,
    key: str,
    state: str = EntryState.PENDING,
    shipment: Shipment | None = None,
    covers_shipping: bool = False,
    lines: list[tuple[OrderRow, Decimal]] = (),
) -> LedgerEntry:
    """Write one intent; draw its amount from its parent (the database refuses an overdraw)."""
    if parent is not None:
        LedgerEntry.objects.filter(pk=parent.pk).update(drawn=F("drawn") + amount)
        parent.drawn += amount
    entry = LedgerEntry.objects.create(
        order_id=totals.order_id,
        kind=kind,
        state=state,
        amount=amount,
        currency=totals.currency,
        parent=parent,
        payment=parent.payment if parent is not None else None,
        shipment=shipment,
        covers_shipping=covers_shipping,
        idempotency_key=key,
    )
    LedgerLine.objects.bulk_create(LedgerLine(entry=entry, row=row, amount=value) for row, value in lines)
    if state == EntryState.PENDING:
        _enqueue_after_commit(entry)
    return entry


def shipment_capture(
    *, shipment: Shipment, rows: list[OrderRow], now: dt.datetime | None = None
) -> LedgerEntry | None:
    """Charge a shipment (per-shipment settlement): its rows' value, plus shipping on the
    order's first. From the checkout's authorization while it is valid and covers it; else
    no capture: the entry waits for a pay link (awaiting payment). Prepaid orders: nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        try:
            totals = _lock_totals(shipment.order_id)
        except OrderTotals.DoesNotExist:
            return None  # placed before billing existed
        if totals.settlement != Settlement.PER_SHIPMENT:
            return None
        existing = LedgerEntry.objects.filter(shipment=shipment, kind=EntryKind.CAPTURE).first()
        if existing is not None:
            return existing
        cancelled = [r.pk for r in rows if r.status == RowStatus.CANCELLED]
        if cancelled:
            raise CaptureOfCancelledRow(order=totals.order.number, row_ids=cancelled)
        foreign = [r.pk for r in rows if r.order_id != shipment.order_id or r.shipment_id != shipment.pk]
        if foreign:
            raise RowNotInOrder(order=totals.order.number, row_ids=foreign)
        lines = [(row, totals.row_value(row).gross) for row in rows]
        first = not LedgerEntry.objects.filter(
            order_id=totals.order_id, kind=EntryKind.CAPTURE, covers_shipping=True
        ).exists()
        amount = sum((value for _, value in lines), start=ZERO) + (totals.shipping_gross if first else ZERO)
        auth = _checkout_entry(totals.order_id)
        valid = (
            auth is not None
            and auth.kind == EntryKind.AUTHORIZE
            and auth.state == EntryState.SUCCEEDED
            and auth.created_at >= now - dt.timedelta(days=settings.BILLING_AUTHORIZATION_DAYS)
            and auth.available >= amount
        )
        entry = _intent(
            totals,
            kind=EntryKind.CAPTURE,
            parent=auth if valid else None,
            amount=amount,
            key=f"capture:shipment:{shipment.pk}",
            state=EntryState.PENDING if valid else EntryState.AWAITING_PAYMENT,
            shipment=shipment,
            covers_shipping=first,
            lines=lines,
        )
        shipment_charged.send(sender=LedgerEntry, entry=entry)
        _settle(totals)
        return entry


def rows_cancelled_settle(*, rows: list[OrderRow]) -> list[LedgerEntry]:
    """After rows are cancelled: refund them (prepaid) or release what is left (per shipment).
    Two queries for any number of unpaid orders (an expiry cancels many at once)."""
    written = []
    # No savepoint of its own: it runs inside the cancellation's transaction (orders' signal).
    with transaction.atomic(savepoint=False):
        order_ids = sorted({row.order_id for row in rows})
        locked = {
            t.pk: t
            for t in OrderTotals.objects.select_for_update(of=("self",))
            .select_related("order")
            .filter(pk__in=order_ids)
            .order_by("pk")
        }
        for order_id, paid_by in _checkout_entries(list(locked)).items():
            written += _settle(locked[order_id], paid_by=paid_by)
    return written


def _settle(totals: OrderTotals, *, paid_by: LedgerEntry | None = None) -> list[LedgerEntry]:
    """Write the intents the order's rows call for and the ledger lacks. Idempotent: each
    intent has a key (per row, per order), so running it again writes nothing."""
    paid_by = paid_by or _checkout_entry(totals.order_id)
    if paid_by is None:
        return []
    rows = list(OrderRow.objects.filter(order_id=totals.order_id))
    if paid_by.kind == EntryKind.CAPTURE:
        cancelled = [r.pk for r in rows if r.status == RowStatus.CANCELLED]
        refunded = set(
            LedgerLine.objects.filter(row_id__in=cancelled, entry__kind=EntryKind.REFUND).values_list(
                "row_id", flat=True
            )
        )
        charged = _charged(paid_by, rows)
        due = [pk for pk in cancelled if pk not in refunded and pk in charged]
        return _refund(totals, paid_by, [r for r in rows if r.pk in due], rows)
    left = any(r.status in LEFT_TO_SHIP for r in rows)
    if left or paid_by.available <= 0:
        return []
    if LedgerEntry.objects.filter(parent=paid_by, kind=EntryKind.RELEASE).exists():
        return []
    return [
        _intent(
            totals,
            kind=EntryKind.RELEASE,
            parent=paid_by,
            amount=paid_by.available,
            key=f"release:authorization:{paid_by.pk}",
        )
    ]


def _charged(capture: LedgerEntry, rows: list[OrderRow]) -> set[int]:
    """The rows ``capture`` charged: those it has a line for, and rows split from them since."""
    charged = set(capture.lines.values_list("row_id", flat=True))
    for row in sorted(rows, key=lambda r: r.pk):  # a split row is newer than its origin
        if row.split_from_id in charged:
            charged.add(row.pk)
    return charged


def _refund(
    totals: OrderTotals, capture: LedgerEntry, due: list[OrderRow], rows: list[OrderRow]
) -> list[LedgerEntry]:
    """A refund per row (keyed by the row), and shipping once every row is cancelled: a few
    queries whatever the number of rows (an expiry or a merchant cancels many at once)."""
    refunds = [(row, totals.row_value(row).gross) for row in due]
    requested = sum((value for _, value in refunds), start=ZERO)
    if requested > capture.available:
        raise RefundAboveCapture(order=totals.order.number, requested=requested, available=capture.available)
    new = partial(
        LedgerEntry,
        order_id=totals.order_id,
        kind=EntryKind.REFUND,
        currency=totals.currency,
        parent=capture,
        payment_id=capture.payment_id,
    )
    entries = [new(amount=value, idempotency_key=f"refund:row:{row.pk}") for row, value in refunds]
    key = f"refund:shipping:{totals.order_id}"
    shipping = min(totals.shipping_gross, capture.available - requested)
    if (
        all(r.status == RowStatus.CANCELLED for r in rows)
        and capture.covers_shipping
        and shipping > 0
        and not LedgerEntry.objects.filter(idempotency_key=key).exists()
    ):
        entries.append(new(amount=shipping, idempotency_key=key, covers_shipping=True))
    if not entries:
        return []
    drawn = sum((e.amount for e in entries), start=ZERO)
    LedgerEntry.objects.filter(pk=capture.pk).update(drawn=F("drawn") + drawn)
    capture.drawn += drawn
    LedgerEntry.objects.bulk_create(entries)
    LedgerLine.objects.bulk_create(
        LedgerLine(entry=entry, row=row, amount=value)
        for entry, (row, value) in zip(entries[: len(refunds)], refunds, strict=True)
    )
    for entry in entries:
        _enqueue_after_commit(entry)
    refunds_written.send(sender=LedgerEntry, order_id=totals.order_id, entries=entries)
    return entries


def rows_refund(
    *, order_id: int, row_ids: list[int], amount: Decimal | None = None, currency: str | None = None
) -> list[LedgerEntry]:
    """Refund cancelled rows of a prepaid order (the merchant's action; cancelling does it
    on its own). ``amount``, when given, must be the rows' value in the order's currency:
    bad input raises before anything is written."""
    with transaction.atomic():
        totals = _lock_totals(order_id)
        order = totals.order
        rows = list(OrderRow.objects.filter(order_id=order_id))
        by_pk = {r.pk: r for r in rows}
        foreign = [pk for pk in row_ids if pk not in by_pk]
        if foreign:
            raise RowNotInOrder(order=order.number, row_ids=foreign)
        for pk in row_ids:
            if by_pk[pk].status != RowStatus.CANCELLED:
                raise RowNotRefundable(order=order.number, row_id=pk, status=by_pk[pk].status)
        if currency is not None and currency != totals.currency:
            raise AmountNotOrders(
                order=order.number, amount=amount, currency=currency, expected_currency=totals.currency
            )
        capture = _checkout_entry(order_id)
        available = capture.available if capture and capture.kind == EntryKind.CAPTURE else ZERO
        requested = sum((totals.row_value(by_pk[pk]).gross for pk in row_ids), start=ZERO)
        if amount is not None and amount != requested:
            raise AmountNotOrders(
                order=order.number, amount=amount, currency=totals.currency, expected_currency=totals.currency
            )
        already = set(
            LedgerLine.objects.filter(row_id__in=row_ids, entry__kind=EntryKind.REFUND).values_list(
                "row_id", flat=True
            )
        )
        due = [by_pk[pk] for pk in row_ids if pk not in already]
        due_value = sum((totals.row_value(r).gross for r in due), start=ZERO)
        if capture is None or due_value > available or not {r.pk for r in due} <= _charged(capture, rows):
            raise RefundAboveCapture(order=order.number, requested=due_value, available=available)
        return _refund(totals, capture, due, rows)


def return_refund(*, return_id: int, include_shipping: bool = False, user=None) -> list[LedgerEntry]:
    """Refund a received (or written-off) return: its units' share of the row, at the row's
    snapshotted unit price (tax per unit, as charged), and the order's shipping when the
    merchant chooses it (once per order: the key cancellations use too). Drawn from the
    capture that charged the row (the checkout's when prepaid, the shipment's otherwise),
    which must be settled; the database refuses a refund above it. The return moves to
    refunded in the same transaction; the provider is called by the job after commit.
    Refunding a refunded return again writes nothing."""
    with transaction.atomic():
        ret = return_lock(return_id=return_id)
        row = ret.row
        totals = _lock_totals(row.order_id)
        number = totals.order.number
        key = f"{RETURN_REFUND_KEY}{ret.pk}"
        if ret.status == ReturnStatus.REFUNDED:
            return []
        return_refunded(locked=ret, user=user, reason="Refund written")
        rows = list(OrderRow.objects.filter(order_id=totals.order_id))
        capture = _row_capture(totals, row, rows)
        if capture is None or capture.state != EntryState.SUCCEEDED:
            state = capture.get_state_display().lower() if capture else "not charged"
            raise ReturnNotRefundable(
                order=number,
                return_id=ret.pk,
                reason=f"the charge for its row is {state}; refund it once settled.",
            )
        amount = (totals.unit(row.unit_price) * ret.quantity).gross
        if amount > capture.available:
            raise RefundAboveCapture(order=number, requested=amount, available=capture.available)
        entries = [
            _intent(
                totals, kind=EntryKind.REFUND, parent=capture, amount=amount, key=key, lines=[(row, amount)]
            )
        ]
        if include_shipping:
            entries.append(_shipping_refund(totals, capture, return_id=ret.pk))
        refunds_written.send(sender=LedgerEntry, order_id=totals.order_id, entries=entries)
    return entries


def _row_capture(totals: OrderTotals, row: OrderRow, rows: list[OrderRow]) -> LedgerEntry | None:
    """The capture that charged this shipped row: the checkout's (prepaid) or its shipment's."""
    paid_by = _checkout_entry(totals.order_id)
    if paid_by is not None and paid_by.kind == EntryKind.CAPTURE:
        return paid_by if row.pk in _charged(paid_by, rows) else None
    return LedgerEntry.objects.filter(kind=EntryKind.CAPTURE, shipment_id=row.shipment_id).first()


def _shipping_refund(totals: OrderTotals, goods_capture: LedgerEntry, *, return_id: int) -> LedgerEntry:
    number = totals.order.number
    key = f"refund:shipping:{totals.order_id}"
    if LedgerEntry.objects.filter(idempotency_key=key).exists():
        raise ReturnNotRefundable(
            order=number, return_id=return_id, reason="its shipping was refunded already."
        )
    capture = LedgerEntry.objects.filter(
        order_id=totals.order_id, kind=EntryKind.CAPTURE, covers_shipping=True, state=EntryState.SUCCEEDED
    ).first()
    if capture is not None and capture.pk == goods_capture.pk:
        capture = goods_capture  # the same row: keep what was just drawn from it
    amount = totals.shipping_gross
    if capture is None or amount <= 0:
        raise ReturnNotRefundable(order=number, return_id=return_id, reason="no shipping was charged.")
    if amount > capture.available:
        raise RefundAboveCapture(order=number, requested=amount, available=capture.available)
    return _intent(
        totals, kind=EntryKind.REFUND, parent=capture, amount=amount, key=key, covers_shipping=True
    )


# --- the provider call and its outcome (a job, after commit) -----------------------------


def entry_settle(*, entry_id: int, now: dt.datetime | None = None) -> LedgerEntry:
    """Carry out a pending capture, refund or release with the provider, once.

    Claims the entry for a lease (one worker at a time); the provider gets our idempotency
    key, so a rerun after a crash between its answer and our write gets the first answer
    back. A provider without keys is not called twice: the entry is marked unknown for a
    person to check instead."""
    if any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks):
        raise RuntimeError("Gateway calls never run inside a transaction.")
    now = now or timezone.now()
    claimed = (
        LedgerEntry.objects.filter(pk=entry_id, state=EntryState.PENDING)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(
            claimed_until=now + dt.timedelta(seconds=settings.BILLING_CLAIM_SECONDS),
            attempts=F("attempts") + 1,
        )
    )
    entry = LedgerEntry.objects.select_related("payment").get(pk=entry_id)
    if not claimed:
        return entry  # done, or another worker holds it
    if entry.attempts > 1 and not gateway.has_idempotency(entry.payment):
        return _entry_record(
            entry_id, state=EntryState.UNKNOWN, error="Called before; check with the provider."
        )
    try:
        reference = gateway.perform(entry)
    except gateway.PaymentError as error:
        return _entry_record(entry_id, state=EntryState.FAILED, error=str(error))
    return _entry_record(entry_id, state=EntryState.SUCCEEDED, reference=reference)


def _entry_record(entry_id: int, *, state: str, reference: str = "", error: str = "") -> LedgerEntry:
    with transaction.atomic():
        entry = LedgerEntry.objects.select_for_update().get(pk=entry_id)
        if entry.state != EntryState.PENDING:
            return entry
        entry.state, entry.error, entry.claimed_until = state, error, None
        if state == EntryState.SUCCEEDED:
            entry.provider_reference, entry.settled_at = reference, timezone.now()
        entry.save(update_fields=["state", "error", "claimed_until", "provider_reference", "settled_at"])
        if state == EntryState.SUCCEEDED and entry.kind == EntryKind.CAPTURE:
            Payment.objects.filter(pk=entry.payment_id).update(
                captured_amount=F("captured_amount") + entry.amount
            )
    return entry


def entry_retry(*, entry_id: int) -> LedgerEntry:
    """A failed capture, refund or release goes back to pending and its job runs again."""
    with transaction.atomic():
        order_id = LedgerEntry.objects.values_list("order_id", flat=True).get(pk=entry_id)
        _lock_totals(order_id)
        entry = LedgerEntry.objects.get(pk=entry_id)
        if entry.state == EntryState.FAILED:
            entry.state, entry.error, entry.claimed_until = EntryState.PENDING, "", None
            entry.save(update_fields=["state", "error", "claimed_until"])
            _enqueue_after_commit(entry)
    return entry


def pending_entries_ids(*, now: dt.datetime | None = None) -> list[int]:
    """Pending entries whose job may have been lost (no live claim): for a periodic sweep."""
    now = now or timezone.now()
    return list(
        LedgerEntry.objects.filter(state=EntryState.PENDING)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .values_list("pk", flat=True)
    )


# --- the dashboard's money-waiting snapshot (a job) --------------------------------------


def money_waiting_summary_refresh(*, now: dt.datetime | None = None) -> list[MoneyWaitingSummary]:
    """Value the waiting rows per currency and replace the snapshot whole (one grouped query,
    one upsert, then the currencies with nothing waiting any more deleted): safe to run twice,
    and nothing accumulates between runs."""
    from .selectors import money_waiting_counted

    now = now or timezone.now()
    amounts = money_waiting_counted()
    snapshot = [
        MoneyWaitingSummary(currency=currency, amount=amount, computed_at=now)
        for currency, amount in sorted(amounts.items())
    ]
    with transaction.atomic():
        MoneyWaitingSummary.objects.bulk_create(
            snapshot,
            update_conflicts=True,
            unique_fields=["currency"],
            update_fields=["amount", "computed_at"],
        )
        MoneyWaitingSummary.objects.exclude(currency__in=list(amounts)).delete()
    return snapshot
