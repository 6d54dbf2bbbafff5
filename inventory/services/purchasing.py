"""Purchase orders: drafted, sent (their lines become inbound supply), received line by line,
cancelled, or closed short when the supplier will not deliver the rest.

Every status move goes through purchase_order_move (PURCHASE_ORDER_MOVES). Receiving
a line is a receipt through stock_receive_many whose reference is the line's
(``PO-00042/1``, or ``PO-00042/1/<delivery>`` for a further partial delivery): the same
reference received twice adds once, more than is outstanding is refused, and what is
still outstanding stays inbound. Locks: purchase orders, then their lines, then their
inbound supply, then products and stock (stock_lock), each in primary-key order.
"""

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from catalog.models import Product

from ..exceptions import IllegalPurchaseOrderMove, InvalidQuantity, OverReceipt, PurchasingError
from ..models import (
    PURCHASE_ORDER_MOVES,
    PURCHASE_ORDER_RECEIVABLE,
    InboundStatus,
    InboundSupply,
    MovementKind,
    PurchaseOrder,
    PurchaseOrderEvent,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    Source,
    StockMovement,
    Supplier,
    SupplierProduct,
)
from ..selectors import purchase_lines_by_number
from ..signals import purchase_order_sent
from .inbound import announce_supply_changed, inbound_cancel, inbound_create
from .stock import ReceiptLine, ReceiptResult, check_quantity, stock_receive_many

PO_NUMBER_FORMAT = "PO-{:05d}"
# A receipt's reference naming a PO line: PO-00042/1, or PO-00042/1/<delivery>.
PO_REFERENCE = re.compile(r"^(PO-\d+)/(\d+)(?:/(.+))?$")
# Room for the delivery after "<PO number>/<line no>/" in a receipt's 100-character reference.
DELIVERY_MAX = 64


@dataclass(frozen=True)
class DraftLine:
    """A line to order. Empty cost and date come from the supplier's terms for the product:
    its cost price, and today + its lead time (the supplier's default when it names none)."""

    product: Product
    quantity: int
    source: Source
    unit_cost: Decimal | None = None
    expected_date: dt.date | None = None


def _terms_by_product(supplier: Supplier, product_ids: Iterable[int]) -> dict[int, SupplierProduct]:
    found = SupplierProduct.objects.filter(supplier=supplier, product_id__in=set(product_ids))
    for terms in found:
        terms.supplier = supplier  # its default lead time, without a query per line
    return {terms.product_id: terms for terms in found}


def _line_from_draft(
    draft: DraftLine, *, supplier: Supplier, terms: SupplierProduct | None, today: dt.date
) -> PurchaseOrderLine:
    check_quantity(draft.quantity)
    product = draft.product
    if terms is not None:
        if draft.quantity < terms.min_order_qty or draft.quantity % terms.pack_size:
            raise InvalidQuantity(
                field="quantity",
                value=draft.quantity,
                message=(
                    f"{product.sku}: {supplier.name} sells at least {terms.min_order_qty} in packs of "
                    f"{terms.pack_size}; {draft.quantity} is not a quantity it accepts."
                ),
            )
        lead_time = terms.effective_lead_time_days
    else:
        lead_time = supplier.lead_time_days
    unit_cost = draft.unit_cost if draft.unit_cost is not None else getattr(terms, "cost_price", None)
    if unit_cost is None:
        raise PurchasingError(
            f"{product.sku}: {supplier.name} has no terms for this product; give a unit cost."
        )
    if unit_cost < 0:
        raise InvalidQuantity(
            field="unit_cost", value=unit_cost, message=f"{product.sku}: a cost cannot be negative."
        )
    return PurchaseOrderLine(
        product=product,
        source=draft.source,
        quantity=draft.quantity,
        unit_cost=unit_cost,
        expected_date=draft.expected_date or today + dt.timedelta(days=lead_time),
    )


def _build_lines(supplier: Supplier, lines: list[DraftLine]) -> list[PurchaseOrderLine]:
    terms = _terms_by_product(supplier, (line.product.pk for line in lines))
    today = timezone.localdate()
    return [
        _line_from_draft(draft, supplier=supplier, terms=terms.get(draft.product.pk), today=today)
        for draft in lines
    ]


def _add_lines(
    purchase_order: PurchaseOrder, lines: list[DraftLine], first_no: int
) -> list[PurchaseOrderLine]:
    built = _build_lines(purchase_order.supplier, lines)
    for offset, line in enumerate(built):
        line.purchase_order, line.line_no = purchase_order, first_no + offset
    return PurchaseOrderLine.objects.bulk_create(built)


def _lock_draft(purchase_order: PurchaseOrder) -> PurchaseOrder:
    order = _lock_orders([purchase_order.pk])[purchase_order.pk]
    if order.status != PurchaseOrderStatus.DRAFT:
        raise PurchasingError(
            f"Purchase order {order.number} is {order.get_status_display().lower()}; "
            "only a draft's lines change."
        )
    return order


def purchase_order_create_draft(*, supplier: Supplier, lines: list[DraftLine], user=None) -> PurchaseOrder:
    """A draft purchase order with its lines numbered 1, 2, ...; nothing is inbound yet."""
    with transaction.atomic():
        order = PurchaseOrder.objects.create(supplier=supplier, currency=supplier.currency, created_by=user)
        order.number = PO_NUMBER_FORMAT.format(order.pk)
        order.save(update_fields=["number"])
        PurchaseOrderEvent.objects.create(
            purchase_order=order, from_status="", to_status=PurchaseOrderStatus.DRAFT, user=user
        )
        _add_lines(order, lines, first_no=1)
    return order


def purchase_order_add_lines(
    *, purchase_order: PurchaseOrder, lines: list[DraftLine]
) -> list[PurchaseOrderLine]:
    """More lines on a draft (the admin's inline), numbered after the last one."""
    with transaction.atomic():
        order = _lock_draft(purchase_order)
        last = order.lines.order_by("-line_no").values_list("line_no", flat=True).first() or 0
        return _add_lines(order, lines, first_no=last + 1)


def purchase_order_check_lines(*, supplier: Supplier, lines: list[DraftLine]) -> None:
    """Raise what drafting these lines would raise, writing nothing (a form asks first)."""
    _build_lines(supplier, lines)


def purchase_order_set_lines(
    *, purchase_order: PurchaseOrder, lines: list[DraftLine]
) -> list[PurchaseOrderLine]:
    """A draft's lines replaced by these, numbered 1, 2, ... (the admin's inline saves this way;
    nothing refers to a draft's lines yet)."""
    with transaction.atomic():
        order = _lock_draft(purchase_order)
        order.lines.all().delete()
        return _add_lines(order, lines, first_no=1)


def _lock_orders(ids: Iterable[int]) -> dict[int, PurchaseOrder]:
    rows = (
        PurchaseOrder.objects.select_for_update(of=("self",))
        .select_related("supplier")
        .filter(pk__in=sorted(set(ids)))
        .order_by("pk")
    )
    return {order.pk: order for order in rows}


def purchase_order_move(
    *, purchase_order: PurchaseOrder, to_status: str, user=None, note: str = ""
) -> PurchaseOrder:
    """The one place a purchase order's status changes: on a row locked by the caller's
    transaction, refused with IllegalPurchaseOrderMove when the map forbids it."""
    was = purchase_order.status
    if to_status not in PURCHASE_ORDER_MOVES[was]:
        raise IllegalPurchaseOrderMove(number=purchase_order.number, from_status=was, to_status=to_status)
    now = timezone.now()
    purchase_order.status = to_status
    stamp = {
        PurchaseOrderStatus.SENT: "sent_at",
        PurchaseOrderStatus.RECEIVED: "received_at",
        PurchaseOrderStatus.CANCELLED: "cancelled_at",
    }.get(to_status)
    fields = ["status", "updated_at"]
    if stamp:
        setattr(purchase_order, stamp, now)
        fields.append(stamp)
    purchase_order.save(update_fields=fields)
    PurchaseOrderEvent.objects.create(
        purchase_order=purchase_order, from_status=was, to_status=to_status, user=user, note=note
    )
    return purchase_order


def purchase_order_send(*, purchase_order: PurchaseOrder, user=None) -> PurchaseOrder:
    """Draft → sent: each line becomes inbound supply under its reference (promise dates move
    after commit, through supply_changed), and purchase_order_sent is announced inside this
    transaction so the supplier's email is written with it."""
    with transaction.atomic():
        order = _lock_orders([purchase_order.pk])[purchase_order.pk]
        lines = list(order.lines.select_related("product", "source").order_by("line_no"))
        if order.status == PurchaseOrderStatus.DRAFT and not lines:
            raise PurchasingError(f"Purchase order {order.number} has no lines; nothing to send.")
        purchase_order_move(purchase_order=order, to_status=PurchaseOrderStatus.SENT, user=user)
        for line in lines:
            line.purchase_order = order
            line.inbound = inbound_create(
                source=line.source,
                product=line.product,
                quantity=line.quantity,
                expected_date=line.expected_date,
                reference=line.reference,
            )
        PurchaseOrderLine.objects.bulk_update(lines, ["inbound"])
        purchase_order_sent.send(sender=PurchaseOrder, purchase_order=order, lines=lines)
    return order


def purchase_order_cancel(*, purchase_order: PurchaseOrder, user=None) -> PurchaseOrder:
    """Draft or sent → cancelled; a sent order's inbound supply is cancelled with it."""
    with transaction.atomic():
        order = _lock_orders([purchase_order.pk])[purchase_order.pk]
        purchase_order_move(purchase_order=order, to_status=PurchaseOrderStatus.CANCELLED, user=user)
        supplies = InboundSupply.objects.filter(
            purchase_line__purchase_order=order, status=InboundStatus.OPEN
        )
        for supply in supplies.order_by("pk"):
            inbound_cancel(supply=supply)
    return order


def purchase_order_close_short(*, purchase_order: PurchaseOrder, user, reason: str) -> PurchaseOrder:
    """Partly received → closed short: the supplier will not deliver the rest. What its lines
    still expected is no longer inbound (promise dates move after commit, through
    supply_changed, as for a cancel), and the event keeps the reason with the units not
    delivered per line. An order with nothing received is cancelled instead."""
    reason = reason.strip()
    if not reason:
        raise InvalidQuantity(
            field="reason", value=reason, message="Say why the rest of the order will not come."
        )
    with transaction.atomic():
        order = _lock_orders([purchase_order.pk])[purchase_order.pk]
        if PurchaseOrderStatus.CLOSED_SHORT not in PURCHASE_ORDER_MOVES[order.status]:
            why = (
                "nothing of it was received: cancel it instead"
                if order.status == PurchaseOrderStatus.SENT
                else "only a partly received order is closed short"
            )
            raise PurchasingError(
                f"Purchase order {order.number} is {order.get_status_display().lower()}; {why}."
            )
        # Receipts change lines under the order's lock, which this transaction holds.
        lines = order.lines.select_related("product").order_by("line_no")
        short = [
            f"{order.number}/{line.line_no} ({line.product.sku}): {line.outstanding} of {line.quantity}"
            for line in lines
            if line.outstanding
        ]
        note = f"{reason}\nNot delivered: {'; '.join(short)}."
        purchase_order_move(
            purchase_order=order, to_status=PurchaseOrderStatus.CLOSED_SHORT, user=user, note=note
        )
        supplies = InboundSupply.objects.filter(
            purchase_line__purchase_order=order, status=InboundStatus.OPEN
        )
        for supply in supplies.order_by("pk"):
            inbound_cancel(supply=supply)
    return order


# -- receiving -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LineReceipt:
    """What to receive against a PO line: ``delivery`` tells a further partial delivery apart
    (the receipt's reference is then <line>/<delivery>); ``source`` defaults to the line's."""

    line: PurchaseOrderLine
    quantity: int
    source: Source | None = None
    delivery: str = ""


def receipt_reference(line: PurchaseOrderLine, delivery: str = "") -> str:
    """The reference a receipt against ``line`` carries: the line's, with the delivery after it."""
    delivery = delivery.strip()
    return f"{line.reference}/{delivery}" if delivery else line.reference


@dataclass(frozen=True)
class LineReceiptResult:
    line: PurchaseOrderLine  # as it is after the receipt
    receipt: ReceiptResult

    @property
    def created(self) -> bool:
        return self.receipt.created

    @property
    def message(self) -> str:
        line = self.line
        return (
            f"{self.receipt.message} {line.reference}: {line.received_quantity} of {line.quantity} received."
        )


def _status_from_lines(lines: list[PurchaseOrderLine]) -> str:
    if all(line.outstanding == 0 for line in lines):
        return PurchaseOrderStatus.RECEIVED
    if any(line.received_quantity for line in lines):
        return PurchaseOrderStatus.PARTLY_RECEIVED
    return PurchaseOrderStatus.SENT


def purchase_order_receive_many(*, receipts: list[LineReceipt], user=None) -> list[LineReceiptResult]:
    """Receive against PO lines in one transaction, all or nothing (see the module's doc)."""
    return _receive(receipts, [], user=user)[0]


def _receive(
    receipts: list[LineReceipt], plain: list[ReceiptLine], *, user
) -> tuple[list[LineReceiptResult], list[ReceiptResult]]:
    """PO receipts, and plain receipts with them in one stock_receive_many call, so every
    product is locked at once, after the purchase orders (the lock order of this module)."""
    for receipt in receipts:
        check_quantity(receipt.quantity)
        if len(receipt.delivery.strip()) > DELIVERY_MAX:
            raise InvalidQuantity(
                field="delivery",
                value=receipt.delivery,
                message=f"A delivery reference has at most {DELIVERY_MAX} characters.",
            )
    if not receipts:
        return [], stock_receive_many(lines=plain, user=user) if plain else []
    with transaction.atomic():
        orders = _lock_orders(r.line.purchase_order_id for r in receipts)
        lines = {
            line.pk: line
            for line in PurchaseOrderLine.objects.select_for_update()
            .filter(pk__in=sorted({r.line.pk for r in receipts}))
            .order_by("pk")
        }
        supplies = {
            supply.pk: supply
            for supply in InboundSupply.objects.select_for_update()
            .filter(pk__in=sorted({line.inbound_id for line in lines.values() if line.inbound_id}))
            .order_by("pk")
        }
        products = {
            p.pk: p for p in Product.objects.filter(pk__in={line.product_id for line in lines.values()})
        }
        for line in lines.values():
            line.purchase_order, line.product = orders[line.purchase_order_id], products[line.product_id]
        references = [receipt_reference(lines[r.line.pk], r.delivery) for r in receipts]
        received = set(
            StockMovement.objects.filter(
                kind=MovementKind.RECEIPT, product_id__in=products, reference__in=set(references)
            ).values_list("product_id", "reference")
        )
        sources = {s.pk: s for s in Source.objects.filter(pk__in={line.source_id for line in lines.values()})}
        planned, new = [], []
        for receipt, reference in zip(receipts, references, strict=True):
            line = lines[receipt.line.pk]
            order = line.purchase_order
            stock_line = ReceiptLine(
                source=receipt.source or sources[line.source_id],
                product=line.product,
                quantity=receipt.quantity,
                reference=reference,
            )
            # Any source: a line's reference is received once, wherever the units went.
            if (line.product_id, reference) in received:
                planned.append((line, ReceiptResult(line=stock_line, created=False)))
                continue
            if order.status not in PURCHASE_ORDER_RECEIVABLE:
                raise PurchasingError(
                    f"{line.reference} ({line.product.sku}): purchase order {order.number} is "
                    f"{order.get_status_display().lower()}; only a sent order is received."
                )
            if receipt.quantity > line.outstanding:
                raise OverReceipt(
                    line=line.reference,
                    product=line.product.sku,
                    quantity=receipt.quantity,
                    outstanding=line.outstanding,
                )
            received.add((line.product_id, reference))
            line.received_quantity += receipt.quantity
            planned.append((line, None))
            new.append(stock_line)
        done = iter(stock_receive_many(lines=[*new, *plain], user=user))
        results = [LineReceiptResult(line=line, receipt=result or next(done)) for line, result in planned]
        plain_results = list(done)
        touched = {line.pk: line for line, result in planned if result is None}
        PurchaseOrderLine.objects.bulk_update(touched.values(), ["received_quantity"])
        _settle_inbound(touched.values(), supplies)
        _follow_lines(orders.values(), lines.values(), user=user)
    return results, plain_results


def _settle_inbound(lines: Iterable[PurchaseOrderLine], supplies: dict[int, InboundSupply]) -> None:
    """What a line still expects stays inbound; a fully received line's supply is closed."""
    changed = []
    for line in lines:
        supply = supplies.get(line.inbound_id)
        if supply is None or supply.status != InboundStatus.OPEN:
            continue
        if line.outstanding:
            supply.quantity = line.outstanding
        else:
            supply.status = InboundStatus.RECEIVED
        supply.updated_at = timezone.now()  # bulk_update skips auto_now
        changed.append(supply)
    InboundSupply.objects.bulk_update(changed, ["quantity", "status", "updated_at"])
    announce_supply_changed(supply.product_id for supply in changed)


def _follow_lines(orders: Iterable[PurchaseOrder], locked: Iterable[PurchaseOrderLine], *, user) -> None:
    by_order: dict[int, list[PurchaseOrderLine]] = {}
    for line in PurchaseOrderLine.objects.filter(purchase_order__in=[o.pk for o in orders]).only(
        "pk", "purchase_order_id", "quantity", "received_quantity"
    ):
        by_order.setdefault(line.purchase_order_id, []).append(line)
    fresh = {line.pk: line for line in locked}
    for order in orders:
        lines = [fresh.get(line.pk, line) for line in by_order[order.pk]]
        status = _status_from_lines(lines)
        if status != order.status:
            purchase_order_move(purchase_order=order, to_status=status, user=user)


def purchase_order_line_receive(
    *, line: PurchaseOrderLine, quantity: int, source: Source | None = None, delivery: str = "", user=None
) -> LineReceiptResult:
    """Receive ``quantity`` against one line (see purchase_order_receive_many)."""
    receipt = LineReceipt(line=line, quantity=quantity, source=source, delivery=delivery)
    return purchase_order_receive_many(receipts=[receipt], user=user)[0]


def po_reference_parse(reference: str) -> tuple[str, int, str] | None:
    """(PO number, line no, delivery) of a receipt reference naming a PO line, else None."""
    found = PO_REFERENCE.match(reference.strip())
    return (found[1], int(found[2]), (found[3] or "").strip()) if found else None


def receipts_apply(*, lines: list[ReceiptLine], user=None) -> list[ReceiptResult]:
    """Receipts from a file, the command or an API, in one transaction, all or nothing: a line
    whose reference names a PO line (po_reference_parse) is received against it, the others
    through stock_receive_many. Results in the lines' order."""
    parsed = [po_reference_parse(line.reference) for line in lines]
    if not any(parsed):
        return stock_receive_many(lines=lines, user=user)
    found = purchase_lines_by_number({(p[0], p[1]) for p in parsed if p})
    receipts, plain = [], []
    for line, ref in zip(lines, parsed, strict=True):
        if ref is None:
            plain.append(line)
            continue
        po_line = found.get(ref[:2])
        if po_line is None:
            raise PurchasingError(
                f"{line.reference} ({line.product.sku}): there is no such purchase order line."
            )
        if po_line.product_id != line.product.pk:
            raise PurchasingError(
                f"{line.reference}: the purchase order line is for {po_line.product.sku}, "
                f"not {line.product.sku}."
            )
        receipts.append(
            LineReceipt(line=po_line, quantity=line.quantity, source=line.source, delivery=ref[2])
        )
    po_results, plain_results = _receive(receipts, plain, user=user)
    po_iter, plain_iter = iter(po_results), iter(plain_results)
    return [next(po_iter).receipt if ref else next(plain_iter) for ref in parsed]
