"""The rule that gives free stock to waiting rows: first come, first served.

Queue order: customer tier (higher first), order time, order, line, row. Sources
by the shop's sourcing strategy (priority, or fewest shipments). A batch of rows is
read off the waiting-queue index as tuples, planned in memory and written with a
constant number of set-based statements, and commits on its own, so a checkout of
the same product waits at most one batch for the stock lock and every batch
leaves the invariants true. Safe to run twice or in two workers at once: the
product and stock locks serialise them and a second run finds nothing to do.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from catalog.availability import is_preorder
from catalog.models import GlobalSettings, PartialAllocation, Product, Sourcing
from catalog.selectors import global_settings_get, product_policy
from inventory.models import Source, Stock
from inventory.selectors import stocks_in_priority
from inventory.services import stock_allocate, stock_lock, stock_lock_with_products
from inventory.sourcing import sources_choose

from ..models import QUEUE_ORDER, WAITING, OrderRow, RowStatus
from ..signals import preorders_released, rows_allocated
from .locks import QueuedRow, queue_head_lock
from .rows import Move, rows_transition

BATCH_SIZE = 1000


@dataclass(frozen=True, slots=True)
class Take:
    row: OrderRow | QueuedRow
    quantity: int
    source_id: int


@dataclass
class Plan:
    takes: list[Take] = field(default_factory=list)
    units_left: int = 0
    blocked: bool = False  # a "wait" row at the head could not be covered whole


def plan_allocation(
    *,
    rows: list,
    free_by_source: list[tuple[int, int]],
    units: int,
    partial: str,
    strategy: str = Sourcing.PRIORITY,
) -> Plan:
    """Pure: walk rows (anything with ``pk`` and ``quantity``) in queue order over
    (source_id, free) pairs in priority order.

    ``units`` caps what may be given (free stock less safety stock). With ``wait``
    a row that cannot be covered whole stops the walk: later rows never jump it. Which
    sources serve a row is the shop's sourcing strategy (inventory.sourcing).
    """
    free = [(source_id, {0: amount}) for source_id, amount in free_by_source if amount > 0]
    free_at = dict(free)  # the same dicts: a take lowers what the next row sees
    plan = Plan(units_left=units)
    for row in rows:
        if plan.units_left <= 0:
            break
        need = min(row.quantity, plan.units_left)
        if need < row.quantity and partial == PartialAllocation.WAIT:
            plan.blocked = True
            break
        plan.units_left -= need
        for _, source_id, take in sources_choose(needs={0: need}, free=free, strategy=strategy):
            plan.takes.append(Take(row=row, quantity=take, source_id=source_id))
            free_at[source_id][0] -= take
    return plan


def _waiting_statuses(product: Product, today: dt.date) -> list[str]:
    # Pre-ordered rows join the queue once the product is released.
    if is_preorder(product, today):
        return [RowStatus.BACKORDERED]
    return list(WAITING)


def _free_by_source(stocks: dict) -> list[tuple[int, int]]:
    return [(s.source_id, s.free) for s in stocks_in_priority(stocks.values())]


@dataclass
class AllocationResult:
    product_id: int
    rows: int = 0  # rows that received units
    units: int = 0
    batches: int = 0


def _allocate_batch(
    *, product_id: int, today: dt.date, batch_size: int, defaults: GlobalSettings
) -> tuple[int, int, bool]:
    """One batch in one transaction: (rows served, units given, more to do)."""
    with transaction.atomic():
        products, stocks = stock_lock_with_products(product_ids=[product_id])
        product = products[product_id]  # as locked: the policy read under the lock
        policy = product_policy(product=product, defaults=defaults)
        free_by_source = _free_by_source(stocks)
        units = sum(amount for _, amount in free_by_source) - policy.safety_stock
        if units <= 0:
            return 0, 0, False
        rows = queue_head_lock(
            product_id=product_id, statuses=_waiting_statuses(product, today), limit=batch_size
        )
        plan = plan_allocation(
            rows=rows,
            free_by_source=free_by_source,
            units=units,
            partial=policy.partial_allocation,
            strategy=defaults.sourcing,
        )
        if not plan.takes:
            return 0, 0, False
        by_source: dict[int, int] = defaultdict(int)  # summed first: each stock row written once
        for take in plan.takes:
            by_source[take.source_id] += take.quantity
        stock_allocate(
            takes=[(stocks[(source_id, product_id)], units) for source_id, units in by_source.items()]
        )
        allocated = rows_transition(
            moves=[
                Move(t.row, RowStatus.ALLOCATED, quantity=t.quantity, source_id=t.source_id)
                for t in plan.takes
            ],
            reason="Restock allocation",
        )
        rows_allocated.send(sender=OrderRow, rows=allocated)
        served = len({t.row.pk for t in plan.takes})
        more = len(rows) == batch_size and plan.units_left > 0 and not plan.blocked
        return served, sum(t.quantity for t in plan.takes), more


def backorders_allocate(
    *, product_id: int, today: dt.date | None = None, batch_size: int = BATCH_SIZE
) -> AllocationResult:
    """Give the product's free stock to its waiting rows, batch after batch."""
    today = today or timezone.localdate()
    defaults = global_settings_get()  # shop-wide, read once per run (a run takes seconds)
    result = AllocationResult(product_id=product_id)
    more = True
    while more:
        served, units, more = _allocate_batch(
            product_id=product_id, today=today, batch_size=batch_size, defaults=defaults
        )
        if not units:
            break
        result.rows += served
        result.units += units
        result.batches += 1
    return result


@dataclass(frozen=True)
class PreviewLine:
    row: OrderRow
    quantity: int
    source_id: int
    whole: bool  # the row would be covered entirely


def allocation_preview(
    *, product_id: int, source_id: int, units: int, today: dt.date | None = None, limit: int = 500
) -> tuple[list[PreviewLine], int]:
    """Dry run: which rows a restock of ``units`` at ``source_id`` would serve. Writes nothing.

    Returns the lines (at most ``limit``) and the units that would be left free.
    """
    today = today or timezone.localdate()
    product = Product.objects.get(pk=product_id)
    defaults = global_settings_get()
    policy = product_policy(product=product, defaults=defaults)
    stocks = {
        (s.source_id, s.product_id): s
        for s in Stock.objects.filter(product_id=product_id).select_related("source")
    }
    free = dict(_free_by_source(stocks))
    free[source_id] = free.get(source_id, 0) + units
    priority = dict(Source.objects.filter(pk__in=free).values_list("pk", "priority"))
    order = sorted(free, key=lambda sid: (priority[sid], sid))
    rows = list(
        OrderRow.objects.filter(product_id=product_id, status__in=_waiting_statuses(product, today))
        .select_related("order")
        .order_by(*QUEUE_ORDER)[:limit]
    )
    total = sum(free.values()) - policy.safety_stock
    plan = plan_allocation(
        rows=rows,
        free_by_source=[(sid, free[sid]) for sid in order],
        units=max(0, total),
        partial=policy.partial_allocation,
        strategy=defaults.sourcing,
    )
    given = defaultdict(int)
    for take in plan.takes:
        given[take.row.pk] += take.quantity
    lines = [
        PreviewLine(
            row=t.row, quantity=t.quantity, source_id=t.source_id, whole=given[t.row.pk] == t.row.quantity
        )
        for t in plan.takes
    ]
    return lines, plan.units_left


def preorders_release(*, today: dt.date | None = None, batch_size: int = BATCH_SIZE) -> list[int]:
    """Products past their release date: allocate their pre-orders in queue order, the rest
    wait as backorders in their original place. Returns the released product ids."""
    today = today or timezone.localdate()
    product_ids = list(
        OrderRow.objects.filter(status=RowStatus.PREORDERED, product__release_date__lte=today)
        .values_list("product_id", flat=True)
        .distinct()
        .order_by("product_id")
    )
    for product_id in product_ids:
        backorders_allocate(product_id=product_id, today=today, batch_size=batch_size)
        while True:
            with transaction.atomic():
                stock_lock(product_ids=[product_id])
                rows = queue_head_lock(
                    product_id=product_id, statuses=[RowStatus.PREORDERED], limit=batch_size
                )
                if rows:
                    moved = rows_transition(
                        moves=[Move(row, RowStatus.BACKORDERED) for row in rows], reason="Product released"
                    )
                    preorders_released.send(sender=OrderRow, rows=moved)
            if len(rows) < batch_size:
                break
    return product_ids
