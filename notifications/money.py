"""The money in the emails: an order's totals and what was charged, is to be charged,
waits for a pay link or comes back (billing.statements), the pay-link email, the
merchants' alert of pay links left unpaid, and the refund email once refunds are settled."""

from collections import defaultdict
from decimal import Decimal

from babel.numbers import format_percent
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import translation
from django.utils.functional import lazy

from billing.models import RETURN_REFUND_KEY, EntryState, LedgerEntry, LedgerLine
from billing.money import money_format
from billing.selectors import pay_links_overdue
from billing.services import pay_link_create
from billing.statements import OrderMoney, orders_money
from orders.links import order_url
from orders.models import ReturnRequest

from .links import pay_url
from .models import OutboxMessage, RefundNote
from .outbox import outbox_message, outbox_write

ZERO = Decimal("0")


def _percent(rate: Decimal) -> str:
    locale = translation.to_locale(translation.get_language() or settings.LANGUAGE_CODE)
    return format_percent(rate, locale=locale, decimal_quantization=False)


# Formatted when the email is rendered, in the language of its recipient (outbox_message),
# not in whatever language the job or request that gathered the figures runs in.
money_text = lazy(money_format, str)
percent_text = lazy(_percent, str)


def money_lines(money: OrderMoney | None) -> dict | None:
    """What _money.txt/.html show: the order's totals and its money so far, formatted."""
    if money is None:
        return None  # placed before billing
    t = money.totals

    def fmt(amount: Decimal) -> str:
        return money_text(amount, t.currency)

    return {
        "currency": t.currency,
        "subtotal": fmt(t.subtotal),
        "shipping": fmt(t.shipping),
        "tax": fmt(t.tax),
        "tax_rate": percent_text(t.tax_rate),
        "tax_included": t.prices_include_tax,
        "total": fmt(t.total),
        "paid": money.paid,
        "prepaid": money.prepaid,
        "charged": fmt(money.charged),
        "later": fmt(money.later) if money.later else "",
        "due": fmt(money.due) if money.due else "",
        "refunded": fmt(money.refunded) if money.refunded else "",
        "rows_left": money.rows_left,
    }


def orders_money_lines(order_ids) -> dict[int, dict]:
    return {order_id: money_lines(m) for order_id, m in orders_money(order_ids=order_ids).items()}


# --- pay links --------------------------------------------------------------------------


def notify_pay_link(*, entry: LedgerEntry) -> None:
    """A shipment's capture no valid authorization covers: email the customer a link to pay
    that shipment (billing.pay_link_create; the same link while it waits). Once per link."""
    payment = pay_link_create(entry_id=entry.pk)
    order = payment.order
    context = {
        "order": order,
        "shipment": entry.shipment,
        "amount": money_text(entry.amount, entry.currency),
        "pay_url": pay_url(entry),
        "order_url": order_url(order),
        "money": orders_money_lines([order.pk]).get(order.pk),
    }
    outbox_write(
        messages=[
            outbox_message(
                kind="pay_link", key=f"{payment.pk}", to=order.email, context=context, language=order.language
            )
        ]
    )


def pay_links_overdue_alert() -> int:
    """Tell merchants of each pay link still unpaid after BILLING_PAY_LINK_ALERT_DAYS, once
    per link (the outbox key; links already told of are skipped before rendering)."""
    entries = list(pay_links_overdue().order_by("pk"))
    keys = {
        (entry.pk, to): f"pay_link_overdue:{entry.pk}:{to.lower()}"[:200]
        for entry in entries
        for to in settings.MERCHANT_EMAILS
    }
    told = set(OutboxMessage.objects.filter(key__in=keys.values()).values_list("key", flat=True))
    messages = []
    for entry in entries:
        context = {
            "order": entry.order,
            "shipment": entry.shipment,
            "amount": money_text(entry.amount, entry.currency),
            "since": entry.created_at,
            "days": settings.BILLING_PAY_LINK_ALERT_DAYS,
            "admin_path": f"/admin/orders/order/{entry.order_id}/change/",
        }
        messages += [
            outbox_message(
                kind="pay_link_overdue",
                key=str(entry.pk),
                to=to,
                context=context,
                language=settings.ADMIN_LANGUAGE_CODE,
            )
            for to in settings.MERCHANT_EMAILS
            if keys[(entry.pk, to)] not in told
        ]
    outbox_write(messages=messages)
    return len({m.key.split(":")[1] for m in messages})


# --- refunds ----------------------------------------------------------------------------


def note_refunds(*, order_id: int, entries) -> None:
    """In the refunds' transaction: remember to tell the customer once they are settled."""
    note = RefundNote.objects.create(order_id=order_id)
    note.entries.add(*entries)


def refund_notes_render(*, limit: int = 100) -> int:
    """Refund emails of notes whose refunds are all settled (run by the send job). Claimed
    with SKIP LOCKED and deleted with the messages they write: each is told once."""
    unsettled = RefundNote.entries.through.objects.filter(refundnote_id=OuterRef("pk")).exclude(
        ledgerentry__state=EntryState.SUCCEEDED
    )
    due = RefundNote.objects.exclude(Exists(unsettled))
    if not due.exists():
        return 0
    with transaction.atomic():
        notes = list(due.select_for_update(skip_locked=True).select_related("order").order_by("pk")[:limit])
        if not notes:
            return 0
        links = RefundNote.entries.through.objects.filter(refundnote__in=notes).select_related("ledgerentry")
        entries = defaultdict(list)
        for link in links:
            entries[link.refundnote_id].append(link.ledgerentry)
        lines = defaultdict(list)
        entry_ids = [e.pk for found in entries.values() for e in found]
        for line in LedgerLine.objects.filter(entry_id__in=entry_ids).select_related("row__product"):
            lines[line.entry_id].append(line)
        money = orders_money_lines({n.order_id for n in notes})
        returned = _returned_units(e for found in entries.values() for e in found)
        messages = []
        for note in notes:
            mine = entries[note.pk]
            currency = mine[0].currency if mine else ""
            rows = [
                {
                    "row": line.row,
                    "product": line.row.product,
                    "amount": money_text(line.amount, currency),
                    # a return refunds some units of its row; a cancelled row's refund all of them
                    "quantity": returned.get(entry.idempotency_key, line.row.quantity),
                    "returned": entry.idempotency_key in returned,
                }
                for entry in mine
                for line in lines[entry.pk]
            ]
            shipping = sum((e.amount for e in mine if e.covers_shipping), start=ZERO)
            context = {
                "order": note.order,
                "amount": money_text(sum((e.amount for e in mine), start=ZERO), currency),
                "rows": rows,
                "shipping": money_text(shipping, currency) if shipping else "",
                "money": money.get(note.order_id),
                "order_url": order_url(note.order),
            }
            messages.append(
                outbox_message(
                    kind="refund",
                    key=f"{note.order.number}:{note.pk}",
                    to=note.order.email,
                    context=context,
                    language=note.order.language,
                )
            )
        outbox_write(messages=messages)
        RefundNote.objects.filter(pk__in=[n.pk for n in notes]).delete()
    return len(notes)


def _returned_units(entries) -> dict[str, int]:
    """Units each return refund among ``entries`` gives back, by its key (one query)."""
    ids = {
        int(e.idempotency_key.removeprefix(RETURN_REFUND_KEY)): e.idempotency_key
        for e in entries
        if e.idempotency_key.startswith(RETURN_REFUND_KEY)
    }
    if not ids:
        return {}
    return {
        ids[pk]: quantity
        for pk, quantity in ReturnRequest.objects.filter(pk__in=ids).values_list("pk", "quantity")
    }
