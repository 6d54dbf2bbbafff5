"""Reads of billing that need more than one line: the money invariants, orders to expire."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Exists, F, OuterRef, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from orders.models import WAITING, Order, OrderRow, ReturnRequest, ReturnStatus, RowStatus

from .models import (
    OPEN_STATES,
    RETURN_REFUND_KEY,
    EntryKind,
    EntryState,
    LedgerEntry,
    LedgerLine,
    MoneyWaitingSummary,
    OrderTotals,
    PaymentPurpose,
    Settlement,
)
from .money import unit_value

ZERO = Decimal("0")


@dataclass(frozen=True)
class Finding:
    order: str  # the order's number
    message: str

    def __str__(self) -> str:
        return f"{self.order}: {self.message}"


@dataclass
class Reconciliation:
    violations: list[Finding]  # an invariant is broken
    open: list[Finding]  # not settled yet (a job pending, a pay link due, a refused capture)


def ledger_reconcile(*, order_ids: list[int] | None = None) -> Reconciliation:
    """Check DESIGN.md's money invariants for every order with totals (or those named):
    per shipment, captured = shipped rows' value + shipping (on the first); prepaid,
    captured − refunded = value of the rows not cancelled (+ shipping while any is not)
    − what returns gave back; never a capture of a cancelled row; never a refund above its
    capture; a return's refund is its units' value, and a refunded return has one."""
    totals_qs = OrderTotals.objects.select_related("order").order_by("pk")
    if order_ids is not None:
        totals_qs = totals_qs.filter(pk__in=order_ids)
    result = Reconciliation([], [])
    for chunk in _chunks(list(totals_qs), 500):
        ids = [t.pk for t in chunk]
        rows = defaultdict(list)
        for row in OrderRow.objects.filter(order_id__in=ids):
            rows[row.order_id].append(row)
        entries = defaultdict(list)
        for entry in LedgerEntry.objects.filter(order_id__in=ids).select_related("payment"):
            entries[entry.order_id].append(entry)
        lines = defaultdict(list)
        for line in LedgerLine.objects.filter(entry__order_id__in=ids):
            lines[line.entry_id].append(line)
        returns = defaultdict(list)
        for ret in ReturnRequest.objects.filter(row__order_id__in=ids).select_related("row"):
            returns[ret.row.order_id].append(ret)
        for totals in chunk:
            _check_order(totals, rows[totals.pk], entries[totals.pk], lines, result)
            _check_returns(totals, returns[totals.pk], entries[totals.pk], result)
    return result


def _chunks(items, size):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _check_order(totals, rows, entries, lines, result: Reconciliation) -> None:
    number = totals.order.number
    by_pk = {r.pk: r for r in rows}

    def violation(message):
        result.violations.append(Finding(number, message))

    for entry in entries:
        if entry.state in OPEN_STATES:
            result.open.append(
                Finding(
                    number,
                    f"{entry.get_kind_display().lower()} of {entry.amount} "
                    f"is {entry.get_state_display().lower()} (entry {entry.pk})",
                )
            )
        children = [e for e in entries if e.parent_id == entry.pk]
        drawn = sum((e.amount for e in children), start=ZERO)
        if drawn != entry.drawn:
            violation(f"entry {entry.pk} has {entry.drawn} drawn but its entries add up to {drawn}")
        refunds = sum((e.amount for e in children if e.kind == EntryKind.REFUND), start=ZERO)
        if entry.kind == EntryKind.CAPTURE and refunds > entry.amount:
            violation(f"refunds of {refunds} above capture {entry.pk} of {entry.amount}")
        for line in lines.get(entry.pk, []):
            row = by_pk.get(line.row_id)
            if row is None:
                violation(f"entry {entry.pk} covers row {line.row_id} of another order")
            elif entry.kind == EntryKind.CAPTURE and entry.shipment_id and row.status == RowStatus.CANCELLED:
                violation(f"capture {entry.pk} charges cancelled row {row.pk}")
            elif entry.kind == EntryKind.REFUND and line.amount > totals.row_value(row).gross:
                violation(f"refund {entry.pk} gives back {line.amount} for row {row.pk}, worth less")

    done = [e for e in entries if e.state == EntryState.SUCCEEDED]
    checkout = [
        e
        for e in done
        if e.parent_id is None
        and e.payment_id
        and e.payment.purpose == PaymentPurpose.CHECKOUT
        and not e.idempotency_key.startswith("duplicate:")
    ]
    prepaid = totals.settlement == Settlement.AT_CHECKOUT and any(
        e.kind == EntryKind.CAPTURE for e in checkout
    )
    if prepaid:
        if any(e.kind == EntryKind.REFUND and e.state in OPEN_STATES for e in entries):
            return  # refunds under way: listed as open
        captured = sum((e.amount for e in done if e.kind == EntryKind.CAPTURE), start=ZERO)
        refunded = sum((e.amount for e in done if e.kind == EntryKind.REFUND), start=ZERO)
        live = [r for r in rows if r.status != RowStatus.CANCELLED]
        expected = sum((totals.row_value(r).gross for r in live), start=ZERO)
        expected += totals.shipping_gross if live else ZERO
        # Returns give back units of rows still live, and maybe shipping while rows are live.
        returned = sum((e.amount for e in done if _is_return_refund(e)), start=ZERO)
        shipping_back = sum(
            (e.amount for e in done if e.kind == EntryKind.REFUND and e.covers_shipping), start=ZERO
        )
        expected -= returned + (shipping_back if live else ZERO)
        if captured - refunded != expected:
            violation(
                f"prepaid: captured {captured} − refunded {refunded} ≠ {expected}, the rows not cancelled"
                + (" and shipping" if live and totals.shipping_gross else "")
                + (" less returns" if returned or (live and shipping_back) else "")
            )
        return
    shipping_captures = [e for e in entries if e.kind == EntryKind.CAPTURE and e.covers_shipping]
    if len(shipping_captures) > 1:
        violation(f"shipping charged {len(shipping_captures)} times")
    shipments = {r.shipment_id for r in rows if r.shipment_id}
    for shipment_id in sorted(shipments):
        captures = [e for e in entries if e.kind == EntryKind.CAPTURE and e.shipment_id == shipment_id]
        if not captures:
            violation(f"shipment {shipment_id} has no capture")
            continue
        capture = captures[0]
        for refund in entries:
            if refund.parent_id == capture.pk and not (
                _is_return_refund(refund) or refund.idempotency_key.startswith("refund:shipping:")
            ):
                violation(f"refund {refund.pk} of shipment {shipment_id}'s capture is not for a return")
        expected = sum(
            (totals.row_value(r).gross for r in rows if r.shipment_id == shipment_id), start=ZERO
        ) + (totals.shipping_gross if capture.covers_shipping else ZERO)
        if capture.amount != expected:
            violation(
                f"shipment {shipment_id}: capture of {capture.amount} ≠ {expected}, its rows + shipping"
            )


def _is_return_refund(entry) -> bool:
    return entry.kind == EntryKind.REFUND and entry.idempotency_key.startswith(RETURN_REFUND_KEY)


def _check_returns(totals, returns, entries, result: Reconciliation) -> None:
    """Each return's refund gives back its units' value, once; a refunded return has one."""
    number = totals.order.number
    by_key = {e.idempotency_key: e for e in entries if _is_return_refund(e)}
    for ret in returns:
        refund = by_key.pop(f"{RETURN_REFUND_KEY}{ret.pk}", None)
        if refund is None:
            if ret.status == ReturnStatus.REFUNDED:
                result.violations.append(Finding(number, f"return {ret.pk} is refunded but has no refund"))
            continue
        worth = (totals.unit(ret.row.unit_price) * ret.quantity).gross
        if refund.amount != worth:
            result.violations.append(
                Finding(
                    number,
                    f"refund {refund.pk} of return {ret.pk} gives back {refund.amount}; "
                    f"its {ret.quantity} unit(s) are worth {worth}",
                )
            )
        if ret.status != ReturnStatus.REFUNDED:
            result.violations.append(Finding(number, f"return {ret.pk} has a refund but is {ret.status}"))
    for refund in by_key.values():
        result.violations.append(Finding(number, f"refund {refund.pk} is for a return of another order"))


def orders_payment_expired(*, now: dt.datetime | None = None):
    """Orders whose time to pay has run out with no authorization or capture, and with rows
    still to cancel: for the expiry job."""
    now = now or timezone.now()
    paid = LedgerEntry.objects.filter(
        order=OuterRef("pk"),
        parent__isnull=True,
        kind__in=[EntryKind.AUTHORIZE, EntryKind.CAPTURE],
        state=EntryState.SUCCEEDED,
        payment__purpose=PaymentPurpose.CHECKOUT,
    )
    return (
        Order.objects.filter(totals__pay_by__lt=now)
        .exclude(Exists(paid))
        .filter(rows__status__in=[RowStatus.ALLOCATED, RowStatus.BACKORDERED, RowStatus.PREORDERED])
        .distinct()
    )


def pay_links_overdue(*, now: dt.datetime | None = None):
    """Shipment captures waiting for a pay link longer than BILLING_PAY_LINK_ALERT_DAYS."""
    now = now or timezone.now()
    return LedgerEntry.objects.filter(
        kind=EntryKind.CAPTURE,
        state=EntryState.AWAITING_PAYMENT,
        created_at__lt=now - dt.timedelta(days=settings.BILLING_PAY_LINK_ALERT_DAYS),
    ).select_related("order", "shipment")


EXPIRING_WITHIN = dt.timedelta(days=2)


def authorizations_expiring(*, now: dt.datetime | None = None, within: dt.timedelta = EXPIRING_WITHIN):
    """Checkout authorizations with money left and rows still to ship whose validity
    (BILLING_AUTHORIZATION_DAYS) ends within ``within``: shipped later, those rows need a pay
    link. For the admin's filter and the dashboard."""
    now = now or timezone.now()
    ends = now - dt.timedelta(days=settings.BILLING_AUTHORIZATION_DAYS)
    left = OrderRow.objects.filter(
        order=OuterRef("order"), status__in=[RowStatus.ALLOCATED, RowStatus.BACKORDERED, RowStatus.PREORDERED]
    )
    return (
        LedgerEntry.objects.filter(
            kind=EntryKind.AUTHORIZE,
            state=EntryState.SUCCEEDED,
            parent__isnull=True,
            payment__purpose=PaymentPurpose.CHECKOUT,
            drawn__lt=F("amount"),
            created_at__gte=ends,
            created_at__lt=ends + within,
        )
        .exclude(idempotency_key__startswith="duplicate:")
        .filter(Exists(left))
    )


def order_is_paid(*, order_id: int) -> bool:
    """Authorized or captured at checkout: the order's emails may go out."""
    return LedgerEntry.objects.filter(
        order_id=order_id,
        parent__isnull=True,
        kind__in=[EntryKind.AUTHORIZE, EntryKind.CAPTURE],
        state=EntryState.SUCCEEDED,
        payment__purpose=PaymentPurpose.CHECKOUT,
    ).exists()


class RowPayment(models.TextChoices):
    AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment")
    PAID = "paid", _("Paid")
    CHARGED_WHEN_SHIPPED = "charged_when_shipped", _("To be charged when it ships")
    BEING_CHARGED = "being_charged", _("Being charged")
    PAY_LINK_DUE = "pay_link_due", _("Payment due (pay link)")
    NOT_CHARGED = "not_charged", _("Not charged")
    REFUND_PENDING = "refund_pending", _("Refund on its way")
    REFUNDED = "refunded", _("Refunded")
    RETURN_REFUNDED = "return_refunded", _("Paid; returned items refunded")


def rows_payment_state(*, order_id: int) -> dict[int, str]:
    """What each row of the order means for the customer's money (account and guest pages,
    emails): paid, to be charged when it ships, refunded, a pay link due... Four queries."""
    rows = list(OrderRow.objects.filter(order_id=order_id))
    entries = list(LedgerEntry.objects.filter(order_id=order_id).select_related("payment"))
    lines = defaultdict(list)
    for line in LedgerLine.objects.filter(entry__order_id=order_id).select_related("entry"):
        lines[line.row_id].append(line.entry)
    checkout = [
        e
        for e in entries
        if e.parent_id is None
        and e.state == EntryState.SUCCEEDED
        and e.kind in (EntryKind.AUTHORIZE, EntryKind.CAPTURE)
        and e.payment_id
        and e.payment.purpose == PaymentPurpose.CHECKOUT
        and not e.idempotency_key.startswith("duplicate:")
    ]
    if not checkout:
        return {r.pk: RowPayment.AWAITING_PAYMENT for r in rows}
    prepaid = checkout[0].kind == EntryKind.CAPTURE
    found = {}
    for row in rows:
        refunds = [e for e in lines[row.pk] if e.kind == EntryKind.REFUND]
        captures = [e for e in lines[row.pk] if e.kind == EntryKind.CAPTURE and e.shipment_id]
        if refunds and all(_is_return_refund(e) for e in refunds):  # some units came back
            done = all(e.state == EntryState.SUCCEEDED for e in refunds)
            found[row.pk] = RowPayment.RETURN_REFUNDED if done else RowPayment.REFUND_PENDING
        elif refunds:
            done = all(e.state == EntryState.SUCCEEDED for e in refunds)
            found[row.pk] = RowPayment.REFUNDED if done else RowPayment.REFUND_PENDING
        elif row.status == RowStatus.CANCELLED:  # cancelled before it was paid for
            found[row.pk] = RowPayment.NOT_CHARGED
        elif prepaid:
            found[row.pk] = RowPayment.PAID
        elif not captures:
            found[row.pk] = RowPayment.CHARGED_WHEN_SHIPPED
        elif captures[0].state == EntryState.SUCCEEDED:
            found[row.pk] = RowPayment.PAID
        elif captures[0].state == EntryState.AWAITING_PAYMENT:
            found[row.pk] = RowPayment.PAY_LINK_DUE
        else:
            found[row.pk] = RowPayment.BEING_CHARGED
    return found


# -- money waiting (the merchant's dashboard) ---------------------------------------------


def money_waiting_counted() -> dict[str, Decimal]:
    """What the waiting (backordered, pre-ordered) rows are worth to their customers, per
    currency, as each order's totals snapshot values them: one grouped query joining every
    waiting row to its order's totals (what the snapshot job runs, not a page). Currencies
    with nothing waiting are left out."""
    waiting: dict[str, Decimal] = {}
    groups = (
        OrderRow.objects.filter(status__in=WAITING, order__totals__isnull=False)
        .values(
            "unit_price",
            "order__totals__currency",
            "order__totals__tax_rate",
            "order__totals__prices_include_tax",
        )
        .annotate(units=Sum("quantity"))
        .order_by()
    )
    for g in groups:  # one per price and tax rule: as few as the catalogue's prices
        currency = g["order__totals__currency"]
        unit = unit_value(
            g["unit_price"],
            tax_rate=g["order__totals__tax_rate"],
            prices_include_tax=g["order__totals__prices_include_tax"],
            currency=currency,
        )
        waiting[currency] = waiting.get(currency, ZERO) + unit.gross * g["units"]
    return {currency: amount for currency, amount in waiting.items() if amount}


@dataclass(frozen=True)
class MoneyWaiting:
    amounts: dict[str, Decimal]  # per currency with something waiting
    as_of: dt.datetime | None  # the snapshot's time; None when the rows were valued just now


def money_waiting(*, now: dt.datetime | None = None) -> MoneyWaiting:
    """Money waiting per currency for the dashboard, one query, from the snapshot the job
    refresh_money_waiting_summary keeps: valuing every waiting row on each page view does not
    scale to a million order rows. A snapshot that is empty, not from one run, or older than
    BILLING_WAITING_SUMMARY_MAX_AGE seconds (beat not running, as in the demo) is not
    trusted: the rows are valued instead (a second query; with nothing waiting, which is
    when the job leaves the snapshot empty, that reads no rows)."""
    now = now or timezone.now()
    snapshot = list(MoneyWaitingSummary.objects.all())
    runs = {s.computed_at for s in snapshot}
    max_age = dt.timedelta(seconds=settings.BILLING_WAITING_SUMMARY_MAX_AGE)
    if len(runs) == 1 and now - (as_of := runs.pop()) <= max_age:
        return MoneyWaiting(amounts={s.currency: s.amount for s in snapshot}, as_of=as_of)
    return MoneyWaiting(amounts=money_waiting_counted(), as_of=None)
