"""The one order-row lock.

Lock order everywhere: products, then their stock rows (inventory.services.stock_lock),
then order rows, each in primary-key order; one order for every caller means no deadlocks.
"""

from collections.abc import Iterable
from operator import attrgetter

from django.db.models import QuerySet

from ..models import QUEUE_ORDER, OrderRow


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


def rows_lock_queue(queue: QuerySet, *, limit: int) -> list[OrderRow]:
    """Lock the first ``limit`` rows of ``queue`` (a filter of order rows) in primary-key
    order, and return them in queue order (QUEUE_ORDER, sorted here as SQL sorts it)."""
    rows = rows_lock(row_ids=queue.order_by(*QUEUE_ORDER).values("pk")[:limit])
    for field in reversed(QUEUE_ORDER):  # stable sorts, last key first
        rows.sort(key=attrgetter(field.lstrip("-")), reverse=field.startswith("-"))
    return rows
