"""Row status moves and what merchants and customers do to rows after checkout.

Lock order everywhere: products, then their stock rows (inventory.services.stock_lock),
then order rows (.locks.rows_lock), each in primary-key order.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from inventory.models import Source
from inventory.services import stock_allocate, stock_lock, stock_release, stock_ship

from ..exceptions import InvalidTransition, NotAllowed, NotEnoughFreeStock
from ..models import ALLOWED_MOVES, WAITING, Order, OrderRow, RowEvent, RowStatus, Shipment
from ..signals import rows_cancelled, shipment_created
from .locks import rows_lock

ROW_RELATED = ("order", "product", "source")  # what the row services below read and name


@dataclass
class Move:
    """Move ``quantity`` units of ``row`` (all when None) to ``to``."""

    row: OrderRow
    to: str
    quantity: int | None = None
    source_id: int | None = None  # where an allocated row now sits
    shipment: Shipment | None = None


@dataclass(frozen=True)
class Change:
    """What one event records: the row as moved, from which status ("" when just placed)."""

    row: OrderRow
    from_status: str
    to_status: str
    quantity: int
    source_id: int | None


def row_events_write(*, changes: list[Change], user=None, reason: str, at: dt.datetime) -> None:
    """The one writer of row events (what moved, who, when, why), one insert. The rows
    must have their keys; rows_transition and the checkout call it."""
    RowEvent.objects.bulk_create(
        RowEvent(
            row=change.row,
            from_status=change.from_status,
            to_status=change.to_status,
            quantity=change.quantity,
            source_id=change.source_id,
            user=user,
            reason=reason,
            created_at=at,
        )
        for change in changes
    )


def rows_transition(*, moves: list[Move], user=None, reason: str = "") -> list[OrderRow]:
    """The one place row statuses change: checks the map, splits, records events.

    An allocated row moved to another source (``to`` allocated, a new ``source_id``)
    is a move like any other. A move of part of a row splits it: the moved units go
    to a new row that keeps the original queue position and links to its origin.
    Bulk: one UPDATE per distinct (status, source, shipment), one for split rows'
    quantities, one insert of new rows, one of events, whatever the number of moves.
    Callers hold the locks.
    """
    now = timezone.now()
    # Whole-row moves share a few (status, source, shipment) values: one UPDATE per value
    # instead of bulk_update's CASE WHEN per row and field (O(rows) Python, O(rows²) SQL).
    whole: dict[tuple, list[int]] = defaultdict(list)
    split_origins, created, changes = [], [], []
    for move in moves:
        row = move.row
        from_status = row.status
        # Not in the map: an allocated row that stays allocated, at another source.
        to_another_source = move.source_id is not None and move.source_id != row.source_id
        source_move = from_status == move.to == RowStatus.ALLOCATED and to_another_source
        if move.to not in ALLOWED_MOVES[from_status] and not source_move:
            raise InvalidTransition(row_id=row.pk, from_status=from_status, to_status=move.to)
        quantity = row.quantity if move.quantity is None else move.quantity
        if not 0 < quantity <= row.quantity:
            raise NotAllowed(f"Row {row.pk} has {row.quantity} units; cannot move {quantity}.")
        if move.to == RowStatus.ALLOCATED:
            source_id = move.source_id
        elif move.to in WAITING:
            source_id = None
        else:  # shipped and cancelled keep the source the units were at, if any
            source_id = row.source_id
        if quantity < row.quantity:
            target = OrderRow(
                order_id=row.order_id,
                product_id=row.product_id,
                status=move.to,
                quantity=quantity,
                source_id=source_id,
                unit_price=row.unit_price,
                queue_tier=row.queue_tier,
                queue_at=row.queue_at,
                line_no=row.line_no,
                split_from=row,
                shipment=move.shipment,
                promise_date=row.promise_date if move.to in WAITING else None,
            )
            row.quantity -= quantity
            created.append(target)
            split_origins.append(row)
        else:
            target = row
            target.status, target.source_id, target.shipment = move.to, source_id, move.shipment
            whole[(move.to, source_id, move.shipment.pk if move.shipment else None)].append(row.pk)
        row.updated_at = now
        changes.append(Change(target, from_status, move.to, quantity, source_id))
    for (status, source_id, shipment_id), pks in whole.items():
        OrderRow.objects.filter(pk__in=pks).update(
            status=status, source_id=source_id, shipment_id=shipment_id, updated_at=now
        )
    if split_origins:  # at most one per source and batch when allocating
        OrderRow.objects.bulk_update(split_origins, ["quantity", "updated_at"])
    OrderRow.objects.bulk_create(created)  # split rows get their keys before their events
    row_events_write(changes=changes, user=user, reason=reason, at=now)
    return [change.row for change in changes]


def _lock_rows_and_stock(row_ids) -> tuple[list[OrderRow], dict]:
    """Lock the products and stock of these rows, then the rows, in that order."""
    product_ids = OrderRow.objects.filter(pk__in=list(row_ids)).values_list("product_id", flat=True)
    stocks = stock_lock(product_ids=list(product_ids))
    return rows_lock(row_ids=row_ids, select_related=ROW_RELATED), stocks


def row_cancel(
    *, row_ids: list[int], user=None, by_customer: bool = False, reason: str = ""
) -> list[OrderRow]:
    """Cancel rows. Customers cancel waiting rows only; merchants any unshipped row.

    Allocated units are released to free stock (and announced, so waiting rows get them).
    """
    with transaction.atomic():
        rows, stocks = _lock_rows_and_stock(row_ids)
        allowed = WAITING if by_customer else (*WAITING, RowStatus.ALLOCATED)
        for row in rows:
            if row.status not in allowed:
                what = "waiting rows" if by_customer else "rows that have not shipped"
                raise NotAllowed(
                    f"{row.product.name}: this row is {row.get_status_display().lower()}; "
                    f"only {what} can be cancelled."
                )
        releases = [
            (stocks[(row.source_id, row.product_id)], row.quantity)
            for row in rows
            if row.status == RowStatus.ALLOCATED
        ]
        stock_release(releases=releases)
        why = reason or ("Cancelled by customer" if by_customer else "Cancelled by merchant")
        moved = rows_transition(moves=[Move(row, RowStatus.CANCELLED) for row in rows], user=user, reason=why)
        rows_cancelled.send(sender=OrderRow, rows=moved)
    return moved


def row_release(*, row_id: int, user=None, reason: str = "Released by merchant") -> OrderRow:
    """Merchant takes the units away from an allocated row: it waits again, in its place."""
    with transaction.atomic():
        rows, stocks = _lock_rows_and_stock([row_id])
        row = rows[0]
        if row.status != RowStatus.ALLOCATED:
            raise InvalidTransition(row_id=row.pk, from_status=row.status, to_status=RowStatus.BACKORDERED)
        stock_release(releases=[(stocks[(row.source_id, row.product_id)], row.quantity)])
        return rows_transition(moves=[Move(row, RowStatus.BACKORDERED)], user=user, reason=reason)[0]


def row_change_source(*, row_id: int, source: Source, user=None) -> OrderRow:
    """Move an allocated row's units to another source that has them free."""
    with transaction.atomic():
        product_id = OrderRow.objects.values_list("product_id", flat=True).get(pk=row_id)
        stocks = stock_lock(product_ids=[product_id], create_for=[(source.pk, product_id)])
        row = rows_lock(row_ids=[row_id], select_related=ROW_RELATED)[0]
        if row.status != RowStatus.ALLOCATED:
            raise NotAllowed(f"Only allocated rows can move to another source; this one is {row.status}.")
        if row.source_id == source.pk:
            raise NotAllowed(f"The row is already at {source.name}.")
        target = stocks[(source.pk, product_id)]
        if not source.is_active or target.free < row.quantity:
            raise NotEnoughFreeStock(
                product=row.product.name, source=source.name, needed=row.quantity, free=target.free
            )
        old = stocks[(row.source_id, product_id)]
        stock_release(releases=[(old, row.quantity)])
        stock_allocate(takes=[(target, row.quantity)])
        moved = rows_transition(
            moves=[Move(row, RowStatus.ALLOCATED, source_id=source.pk)],
            user=user,
            reason=f"Moved from {old.source.code} to {source.code}",
        )[0]
        moved.source = source
    return moved


def shipment_create(*, order: Order, source: Source, row_ids: list[int] | None = None, user=None) -> Shipment:
    """Ship the order's allocated rows at one source (all of them, or those named)."""
    with transaction.atomic():
        candidates = order.rows.filter(status=RowStatus.ALLOCATED, source=source)
        if row_ids is not None:
            candidates = candidates.filter(pk__in=row_ids)
        rows, stocks = _lock_rows_and_stock(list(candidates.values_list("pk", flat=True)))
        rows = [r for r in rows if r.status == RowStatus.ALLOCATED and r.source_id == source.pk]
        if not rows:
            raise NotAllowed(f"Order {order.number} has nothing allocated at {source.name} to ship.")
        shipment = Shipment.objects.create(order=order, source=source, shipped_by=user)
        stock_ship(
            shipped=[(stocks[(r.source_id, r.product_id)], r.quantity) for r in rows],
            reference=f"{order.number}/S{shipment.pk}",
            user=user,
        )
        shipped = rows_transition(
            moves=[Move(r, RowStatus.SHIPPED, shipment=shipment) for r in rows], user=user, reason="Shipped"
        )
        shipment_created.send(sender=Shipment, shipment=shipment, rows=shipped)
    return shipment
