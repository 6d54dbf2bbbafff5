"""The one order-row lock.

Lock order everywhere: products, then their stock rows (inventory.services.stock_lock),
then order rows, each in primary-key order; one order for every caller means no deadlocks.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import QuerySet

from ..models import QUEUE_ORDER, OrderRow


@dataclass(slots=True)
class QueuedRow:
    """A waiting row as the restock queue needs it, read as a tuple (no model instance:
    a batch is 1,000 rows). rows_transition moves it like an OrderRow; the other
    attributes are set by the move."""

    pk: int
    product_id: int
    status: str
    quantity: int
    source_id: int | None = None
    shipment: object = None
    updated_at: object = None


def rows_lock(*, row_ids: Iterable[int] | QuerySet, select_related: Iterable[str] = ()) -> list[OrderRow]:
    """Lock these order rows (not the rows they join) and return them in primary-key order.

    ``row_ids`` may be a query of ids, e.g. the head of a queue: it runs as a subquery, so
    the lock is one query either way. Must run inside transaction.atomic().
    """
    ids = row_ids if isinstance(row_ids, QuerySet) else list(row_ids)
    return list(
        OrderRow.objects.select_for_update(of=("self",))
        .filter(pk__in=ids)
        .select_related(*select_related)
        .order_by("pk")
    )


def queue_head_lock(*, product_id: int, statuses: Iterable[str], limit: int) -> list[QueuedRow]:
    """Lock the first ``limit`` rows of the product's queue in these statuses, in
    primary-key order like rows_lock, and return them in queue order as QueuedRows.

    Two short queries: the head's ids in queue order (off the partial index
    row_waiting_queue, which stops after ``limit`` rows), then the lock of those rows
    returning only what planning needs (no model instances, no timestamps). The status
    is checked again under the lock.
    Must run inside transaction.atomic(), after the product's stock lock.
    """
    statuses = list(statuses)
    if len(statuses) == 1:
        # One status (a product not yet released, or the release moving its pre-orders):
        # written as a range of one value, which row_fifo_queue (status before the queue
        # keys) reads in order and which does not imply row_waiting_queue's predicate. That
        # index holds both statuses: read for one, it would step over every row of the other
        # ahead (during a release, all the pre-orders already moved), batch after batch.
        (status,) = statuses
        head = OrderRow.objects.filter(product_id=product_id, status__gte=status, status__lte=status)
        head = head.order_by("status", *QUEUE_ORDER)
    else:
        head = OrderRow.objects.filter(product_id=product_id, status__in=statuses).order_by(*QUEUE_ORDER)
    ids = list(head.values_list("pk", flat=True)[:limit])
    # By the ids read: as a subquery the planner hashes it against the whole table.
    locked = {
        pk: (status, quantity)
        for pk, status, quantity in OrderRow.objects.select_for_update(of=("self",))
        .filter(pk__in=ids, status__in=statuses)
        .order_by("pk")
        .values_list("pk", "status", "quantity")
    }
    return [QueuedRow(pk, product_id, *locked[pk]) for pk in ids if pk in locked]
