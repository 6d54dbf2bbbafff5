"""What the customer is told of an order's money (emails; pages may use it too): its
totals, what was charged, what is still to be charged as rows ship, what waits for a pay
link and what comes back. Reads only."""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, OuterRef

from orders.models import OrderRow, RowStatus

from .models import EntryKind, EntryState, LedgerEntry, OrderTotals, PaymentPurpose, Settlement

ZERO = Decimal("0")


def paid_at_checkout(order_field: str = "order_id") -> Exists:
    """An order authorized or charged at checkout (as billing.selectors.order_is_paid), as a
    condition on a queryset whose ``order_field`` names the order."""
    return Exists(
        LedgerEntry.objects.filter(
            order=OuterRef(order_field),
            parent__isnull=True,
            kind__in=[EntryKind.AUTHORIZE, EntryKind.CAPTURE],
            state=EntryState.SUCCEEDED,
            payment__purpose=PaymentPurpose.CHECKOUT,
        )
    )


@dataclass(frozen=True)
class OrderMoney:
    totals: OrderTotals
    paid: bool  # authorized or charged at checkout
    charged: Decimal  # captures done or under way (shipping included)
    later: Decimal  # per shipment: rows not shipped yet (+ shipping until charged), failed captures
    due: Decimal  # shipment captures waiting for a pay link
    refunded: Decimal  # refunds done or on their way
    rows_left: bool  # any row not cancelled

    @property
    def prepaid(self) -> bool:
        return self.totals.settlement == Settlement.AT_CHECKOUT


def orders_money(*, order_ids) -> dict[int, OrderMoney]:
    """OrderMoney of each order that has totals: three queries for any number of orders.
    A second payment of the same order (``duplicate:``, given back whole) and its void are
    left out: the customer owes and gets back nothing through them."""
    totals = {t.pk: t for t in OrderTotals.objects.filter(pk__in=list(order_ids))}
    if not totals:
        return {}
    rows = defaultdict(list)
    for row in OrderRow.objects.filter(order_id__in=list(totals)).exclude(status=RowStatus.CANCELLED):
        rows[row.order_id].append(row)
    entries = defaultdict(list)
    chain = (
        LedgerEntry.objects.filter(order_id__in=list(totals))
        .exclude(idempotency_key__startswith="duplicate:")
        .exclude(idempotency_key__startswith="void:")
        .select_related("payment")
    )
    for entry in chain:
        entries[entry.order_id].append(entry)
    return {
        order_id: _money(order_totals, rows[order_id], entries[order_id])
        for order_id, order_totals in totals.items()
    }


def _money(totals: OrderTotals, rows: list[OrderRow], entries: list[LedgerEntry]) -> OrderMoney:
    """``rows``: the order's rows not cancelled."""
    captures = [e for e in entries if e.kind == EntryKind.CAPTURE]

    def captured(*states) -> Decimal:
        return sum((e.amount for e in captures if e.state in states), start=ZERO)

    paid = any(
        e.parent_id is None
        and e.state == EntryState.SUCCEEDED
        and e.kind in (EntryKind.AUTHORIZE, EntryKind.CAPTURE)
        and e.payment_id
        and e.payment.purpose == PaymentPurpose.CHECKOUT
        for e in entries
    )
    later = ZERO
    if paid and totals.settlement == Settlement.PER_SHIPMENT:
        left = [r for r in rows if r.status != RowStatus.SHIPPED]
        later = sum((totals.row_value(r).gross for r in left), start=ZERO)
        if left and not any(e.covers_shipping for e in captures):
            later += totals.shipping_gross
        later += captured(EntryState.FAILED)
    return OrderMoney(
        totals=totals,
        paid=paid,
        charged=captured(EntryState.SUCCEEDED, EntryState.PENDING, EntryState.UNKNOWN),
        later=later,
        due=captured(EntryState.AWAITING_PAYMENT),
        refunded=sum((e.amount for e in entries if e.kind == EntryKind.REFUND), start=ZERO),
        rows_left=bool(rows),
    )
