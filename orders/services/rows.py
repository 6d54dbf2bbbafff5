"""Row status moves and what merchants and customers do to rows after checkout.

Lock order everywhere: products, then their stock rows (inventory.services.stock_lock),
then order rows (.locks.rows_lock), each in primary-key order.
"""

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from inventory.models import Source
from inventory.services import stock_allocate, stock_lock, stock_release, stock_ship

from ..exceptions import InvalidTracking, InvalidTransition, NotAllowed, NotEnoughFreeStock
from ..models import ALLOWED_MOVES, WAITING, Order, OrderRow, RowEvent, RowStatus, Shipment
from ..signals import rows_cancelled, shipment_created
from .locks import QueuedRow, rows_lock

ROW_RELATED = ("order", "product", "source")  # what the row services below read and name


@dataclass
class Move:
    """Move ``quantity`` units of ``row`` (all when None) to ``to``."""

    row: OrderRow | QueuedRow
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
    """Row events (what moved, who, when, why) for rows already written, one insert. The
    rows must have their keys; the checkout calls it, and rows_transition where the
    database cannot write the events in the statement that moves the rows."""
    RowEvent.objects.bulk_create(
        RowEvent(
            row_id=change.row.pk,
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


@dataclass
class _Split:
    """Part of a row moving: the moved units become a new row."""

    origin: OrderRow | QueuedRow
    from_status: str
    to: str
    quantity: int
    source_id: int | None
    shipment: Shipment | None
    target: OrderRow | QueuedRow | None = None  # the new row, once written


def rows_transition(*, moves: list[Move], user=None, reason: str = "") -> list[OrderRow | QueuedRow]:
    """The one place row statuses change: checks the map, splits, records events.

    ``Move.row`` is an OrderRow or, from the restock queue, a QueuedRow (pk, status,
    quantity only); both are updated in place and returned, in move order, with the new
    rows of splits in their moves' places. An allocated row moved to another source
    (``to`` allocated, a new ``source_id``) is a move like any other. A move of part of
    a row splits it: the moved units go to a new row that keeps the original queue
    position and links to its origin.

    Set-based, whatever the number of moves: on PostgreSQL one statement per distinct
    (from status, to status, source, shipment) of whole-row moves, moving the rows and
    writing their events (UPDATE ... RETURNING feeding INSERT ... SELECT), and one for
    all splits; elsewhere (SQLite) an UPDATE per such group, the split rows' updates and
    inserts, and one insert of events. Callers hold the locks.
    """
    now = timezone.now()
    whole: dict[tuple, list] = defaultdict(list)  # (from, to, source, shipment) -> [(row, quantity)]
    splits: list[_Split] = []
    results: list = []  # in move order: a row, or a _Split whose target is written below
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
            split = _Split(row, from_status, move.to, quantity, source_id, move.shipment)
            row.quantity -= quantity
            splits.append(split)
            results.append(split)
        else:
            shipment_id = move.shipment.pk if move.shipment else None
            whole[(from_status, move.to, source_id, shipment_id)].append((row, quantity))
            row.status, row.source_id, row.shipment = move.to, source_id, move.shipment
            results.append(row)
        row.updated_at = now
    write = _write_sql if connection.vendor == "postgresql" else _write_orm
    write(whole=whole, splits=splits, user=user, reason=reason, now=now)
    return [item.target if isinstance(item, _Split) else item for item in results]


def _write_orm(*, whole: dict, splits: list[_Split], user, reason: str, now: dt.datetime) -> None:
    """Any database: an UPDATE per group, the split rows through the ORM, one events insert."""
    changes = []
    for (from_status, to, source_id, shipment_id), moved in whole.items():
        OrderRow.objects.filter(pk__in=[row.pk for row, _ in moved]).update(
            status=to, source_id=source_id, shipment_id=shipment_id, updated_at=now
        )
        changes += [Change(row, from_status, to, quantity, source_id) for row, quantity in moved]
    if splits:  # at most one per source and batch when allocating
        light = [s.origin.pk for s in splits if not isinstance(s.origin, OrderRow)]
        full = OrderRow.objects.in_bulk(light) if light else {}
        origins, created = {}, []
        for split in splits:
            origin = split.origin if isinstance(split.origin, OrderRow) else full[split.origin.pk]
            origin.quantity = split.origin.quantity  # what the moves left on it
            origin.updated_at = now
            origins[origin.pk] = origin
            created.append(_split_row(split, origin))
        OrderRow.objects.bulk_update(origins.values(), ["quantity", "updated_at"])
        OrderRow.objects.bulk_create(created)  # split rows get their keys before their events
        for split, row in zip(splits, created, strict=True):
            split.target = row if isinstance(split.origin, OrderRow) else _queued(split, row.pk)
            changes.append(Change(split.target, split.from_status, split.to, split.quantity, split.source_id))
    row_events_write(changes=changes, user=user, reason=reason, at=now)


def _queued(split: _Split, pk: int) -> QueuedRow:
    origin = split.origin
    return QueuedRow(
        pk, origin.product_id, split.to, split.quantity, split.source_id, split.shipment, origin.updated_at
    )


_ROWS, _EVENTS = OrderRow._meta.db_table, RowEvent._meta.db_table

# One group of whole-row moves: the rows (still in their from status) move, and each
# moved row's event is written from what the UPDATE returned. The INSERT's row count
# is the number of rows moved.
# (The f-strings put in table names from the models, never input: S608.)
_MOVE_WHOLE = f"""WITH moved AS (
    UPDATE {_ROWS}
    SET status = %(to)s, source_id = %(source)s, shipment_id = %(shipment)s, updated_at = %(now)s
    WHERE id = ANY(%(ids)s) AND status = %(from)s
    RETURNING id
)
INSERT INTO {_EVENTS} (row_id, from_status, to_status, quantity, source_id, user_id, reason, created_at)
SELECT moved.id, %(from)s::varchar, %(to)s::varchar, q.quantity, %(source)s::bigint, %(user)s::bigint,
    %(reason)s::varchar, %(now)s::timestamptz
FROM moved JOIN unnest(%(ids)s::bigint[], %(quantities)s::integer[]) AS q (id, quantity) USING (id)
"""  # noqa: S608

# Every split of the call: the origins lose the moved units, the new rows copy their
# queue position (keys drawn first, so each event names its row), the events follow.
_SPLIT = f"""WITH spec AS MATERIALIZED (
    SELECT s.*, nextval(pg_get_serial_sequence('{_ROWS}', 'id')) AS new_id
    FROM unnest(
        %(origins)s::bigint[], %(quantities)s::integer[], %(froms)s::varchar[], %(tos)s::varchar[],
        %(sources)s::bigint[], %(shipments)s::bigint[]
    ) WITH ORDINALITY AS s (origin, quantity, from_status, to_status, source_id, shipment_id, pos)
), shrunk AS (
    UPDATE {_ROWS} AS r SET quantity = r.quantity - d.quantity, updated_at = %(now)s
    FROM (SELECT origin, sum(quantity) AS quantity FROM spec GROUP BY origin) AS d
    WHERE r.id = d.origin
    RETURNING r.id
), created AS (
    INSERT INTO {_ROWS} (
        id, order_id, product_id, status, quantity, source_id, unit_price, list_price, discount,
        queue_tier, queue_at, line_no, split_from_id, shipment_id, promise_date, created_at, updated_at
    )
    SELECT s.new_id, o.order_id, o.product_id, s.to_status, s.quantity, s.source_id, o.unit_price,
        o.list_price, o.discount, o.queue_tier, o.queue_at, o.line_no, o.id, s.shipment_id,
        CASE WHEN s.to_status = ANY(%(waiting)s::varchar[]) THEN o.promise_date END,
        %(now)s::timestamptz, %(now)s::timestamptz
    FROM spec AS s JOIN {_ROWS} AS o ON o.id = s.origin
    RETURNING id
), events AS (
    INSERT INTO {_EVENTS} (row_id, from_status, to_status, quantity, source_id, user_id, reason, created_at)
    SELECT new_id, from_status, to_status, quantity, source_id, %(user)s::bigint, %(reason)s::varchar,
        %(now)s::timestamptz
    FROM spec
)
SELECT s.new_id, (SELECT count(*) FROM created) FROM spec AS s ORDER BY s.pos
"""  # noqa: S608


def _write_sql(*, whole: dict, splits: list[_Split], user, reason: str, now: dt.datetime) -> None:
    """PostgreSQL: one statement per group of whole-row moves, one for all splits."""
    user_id = user.pk if user is not None else None
    with connection.cursor() as cursor:
        for (from_status, to, source_id, shipment_id), moved in whole.items():
            ids = [row.pk for row, _ in moved]
            cursor.execute(
                _MOVE_WHOLE,
                {
                    "ids": ids,
                    "quantities": [quantity for _, quantity in moved],
                    "from": from_status,
                    "to": to,
                    "source": source_id,
                    "shipment": shipment_id,
                    "user": user_id,
                    "reason": reason,
                    "now": now,
                },
            )
            if cursor.rowcount != len(ids):  # the callers' locks make this impossible
                raise InvalidTransition(row_id=ids[0], from_status=from_status, to_status=to)
        if not splits:
            return
        cursor.execute(
            _SPLIT,
            {
                "origins": [s.origin.pk for s in splits],
                "quantities": [s.quantity for s in splits],
                "froms": [s.from_status for s in splits],
                "tos": [s.to for s in splits],
                "sources": [s.source_id for s in splits],
                "shipments": [s.shipment.pk if s.shipment else None for s in splits],
                "waiting": list(WAITING),
                "user": user_id,
                "reason": reason,
                "now": now,
            },
        )
        written = cursor.fetchall()
        if written[0][1] != len(splits):  # an origin gone: the callers' locks make this impossible
            raise NotAllowed(f"Rows {sorted({s.origin.pk for s in splits})} changed while being split.")
        for split, (pk, _) in zip(splits, written, strict=True):
            split.target = _split_target(split, pk)


def _split_target(split: _Split, pk: int) -> OrderRow | QueuedRow:
    """The new row of a split, as its origin's kind (an OrderRow is not read back)."""
    if isinstance(split.origin, OrderRow):
        return _split_row(split, split.origin, pk=pk, updated_at=split.origin.updated_at)
    return _queued(split, pk)


def _split_row(split: _Split, origin: OrderRow, **known) -> OrderRow:
    """The new row of a split: the moved units, at the origin's place in the queue."""
    return OrderRow(
        order_id=origin.order_id,
        product_id=origin.product_id,
        status=split.to,
        quantity=split.quantity,
        source_id=split.source_id,
        unit_price=origin.unit_price,
        list_price=origin.list_price,  # the discount snapshot stays with the units
        discount=origin.discount,
        queue_tier=origin.queue_tier,
        queue_at=origin.queue_at,
        line_no=origin.line_no,
        split_from=origin,
        shipment=split.shipment,
        promise_date=origin.promise_date if split.to in WAITING else None,
        **known,
    )


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


TRACKING_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9 -]{2,62}[A-Za-z0-9]")


def tracking_clean(*, carrier: str, tracking_number: str) -> tuple[str, str]:
    """A carrier of settings.SHIPPING_CARRIERS (or none) and a plausible tracking number (or
    none; a number needs its carrier). Raises InvalidTracking naming the field."""
    carrier, number = (carrier or "").strip(), (tracking_number or "").strip()
    carriers = settings.SHIPPING_CARRIERS
    if carrier and carrier not in carriers:
        known = ", ".join(sorted(carriers)) or "none"
        raise InvalidTracking(
            field="carrier", value=carrier, message=f"Unknown carrier {carrier!r} (known: {known})."
        )
    if number and not carrier:
        raise InvalidTracking(
            field="carrier", value=carrier, message=f"Tracking number {number!r} needs its carrier."
        )
    if number and not TRACKING_NUMBER.fullmatch(number):
        raise InvalidTracking(
            field="tracking_number",
            value=number,
            message=f"Tracking number {number!r}: 4 to 64 letters, digits, spaces or dashes.",
        )
    return carrier, number


def shipment_create(
    *,
    order: Order,
    source: Source,
    row_ids: list[int] | None = None,
    user=None,
    carrier: str = "",
    tracking_number: str = "",
) -> Shipment:
    """Ship the order's allocated rows at one source (all of them, or those named), with the
    parcel's carrier and tracking number when given."""
    carrier, tracking_number = tracking_clean(carrier=carrier, tracking_number=tracking_number)
    with transaction.atomic():
        candidates = order.rows.filter(status=RowStatus.ALLOCATED, source=source)
        if row_ids is not None:
            candidates = candidates.filter(pk__in=row_ids)
        rows, stocks = _lock_rows_and_stock(list(candidates.values_list("pk", flat=True)))
        rows = [r for r in rows if r.status == RowStatus.ALLOCATED and r.source_id == source.pk]
        if not rows:
            raise NotAllowed(f"Order {order.number} has nothing allocated at {source.name} to ship.")
        shipment = Shipment.objects.create(
            order=order, source=source, shipped_by=user, carrier=carrier, tracking_number=tracking_number
        )
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
