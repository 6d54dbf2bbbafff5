"""What the customer's pages show about an order's money, gathered from billing: the totals
snapshot, each row's payment state, whether the order may still be paid, pay links due."""

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from billing.models import EntryKind, EntryState, LedgerEntry, OrderTotals
from billing.money import Totals, totals_compute
from billing.selectors import RowPayment, order_is_paid, rows_payment_state
from billing.services import pricing_from_settings
from orders.models import Order, RowStatus


def cart_totals(lines) -> Totals:
    """A preview of what the cart would cost by billing's totals rule and today's settings,
    each line part by part (waiting units maybe discounted); the checkout snapshots its own."""
    return totals_compute(
        lines=[part for line in lines for part in line.price.lines()], pricing=pricing_from_settings()
    )


@dataclass
class OrderMoney:
    totals: OrderTotals | None
    paid: bool = False
    payable: bool = False  # awaiting payment, the window still open
    expired: bool = False  # awaiting payment, the window closed
    states: dict[int, str] = field(default_factory=dict)  # row id -> RowPayment label
    pay_links: list[LedgerEntry] = field(default_factory=list)  # shipments awaiting a payment

    @property
    def pay_by(self) -> dt.datetime | None:
        return self.totals.pay_by if self.totals else None

    @property
    def currency(self) -> str | None:
        return self.totals.currency if self.totals else None


def order_money(order: Order, *, now: dt.datetime | None = None) -> OrderMoney:
    """Order needs ``totals`` loaded (select_related) or it costs one query more."""
    try:
        totals = order.totals
    except OrderTotals.DoesNotExist:  # placed before billing existed
        return OrderMoney(totals=None)
    now = now or timezone.now()
    paid = order_is_paid(order_id=order.pk)
    live = any(r.status != RowStatus.CANCELLED for r in order.rows.all())
    states = rows_payment_state(order_id=order.pk)
    if (
        not paid
    ):  # billing reads every row of an unpaid order as awaiting payment; a cancelled one never will be
        cancelled = {r.pk for r in order.rows.all() if r.status == RowStatus.CANCELLED}
        states = {pk: RowPayment.NOT_CHARGED if pk in cancelled else state for pk, state in states.items()}
    states = {pk: RowPayment(state).label for pk, state in states.items()}
    pay_links = []
    if paid:
        pay_links = list(
            LedgerEntry.objects.filter(
                order_id=order.pk, kind=EntryKind.CAPTURE, state=EntryState.AWAITING_PAYMENT
            ).order_by("pk")
        )
    open_window = now <= totals.pay_by
    return OrderMoney(
        totals=totals,
        paid=paid,
        payable=not paid and open_window and live,
        expired=not paid and not open_window,
        states=states,
        pay_links=pay_links,
    )
