"""Allocation benchmark: the set-based service beside a naive per-row ORM loop.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/restock_bench \\
        .venv/bin/python bench/allocation.py [--rows 10000] [--repeat 3] [--profile]

For each contender and each repeat: wipe the app tables, bulk-insert ``--rows``
waiting backordered rows (one order each, quantity 1) for one product, receive a
restock covering them through ``inventory.services.stock_receive`` (with the
shop's reactions muted, ``stock_freed`` first, so nothing allocates during setup),
then time only the allocation and count its queries. Both end states are checked;
a wrong one stops the run with exit status 1. See bench/README.md.

The database is created if missing and migrated. The run refuses a database whose
name does not contain "bench" (it wipes tables) and SQLite unless --allow-sqlite.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file: the repository root

from bench.common import (  # noqa: E402
    TIMING_HEADER,
    BenchError,
    Run,
    analyze,
    bench_parser,
    best,
    format_table,
    measuring,
    muted,
    positive,
    run_contenders,
    run_main,
    server_line,
    setup_quiet,
    start,
    timing_cells,
    where_time_went,
    wipe,
)

TARGET_FACTOR = 10.0  # against the naive loop in one transaction, the fairer baseline
TARGET_SECONDS = 5.0  # for 10,000 rows
TARGET_ROWS = 10_000
MAX_RECEIPT = 100_000  # inventory's limit for one receipt line
YARDSTICK_TARGET_SECONDS = 0.6  # issue 12, for 10,000 rows (two-sources and release jobs)


# -- The data: not measured ---------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """What a run allocates: ``rows`` waiting rows of one product (quantity 1, or 1-3 in
    a fixed irregular pattern), and a restock at each source of a share of the units."""

    name: str
    rows: int
    quantities: str  # "one" or "one-to-three"
    shares: tuple[float, ...]  # per source, by priority: a share of the waiting units
    status: str = "backordered"  # "preordered" for a pre-order release

    def quantity(self, i: int) -> int:
        """The i-th row's quantity (i from 1), the same as QUANTITY_SQL computes."""
        return 1 if self.quantities == "one" else 1 + (i * i + i // 7) % 3

    def units(self) -> int:
        return sum(self.quantity(i) for i in range(1, self.rows + 1))

    def restock(self) -> list[int]:
        units = self.units()
        return [int(units * share) for share in self.shares]


QUANTITY_SQL = {"one": "1", "one-to-three": "1 + (i::bigint * i + i / 7) %% 3"}


def build_waiting_rows(job: Job) -> int:
    """One product allowing backorders (or a pre-order released today), ``job.rows``
    waiting rows in queue order (one order each), and the job's restock at its sources
    received through the inventory service. Returns the product id."""
    with setup_quiet():
        product_id = _build(job)
    analyze()
    return product_id


def _build(job: Job) -> int:
    from django.db import connection
    from django.utils import timezone

    from catalog.models import Backorders, GlobalSettings, Product
    from inventory.models import Source
    from inventory.services import stock_receive

    GlobalSettings.get_solo()  # created on first read: not the allocation's work
    released = job.status == "preordered"
    product = Product.objects.create(
        sku="BENCH-1",
        name="Bench widget",
        slug="bench-widget",
        price=Decimal("9.90"),
        backorders=Backorders.ALLOW,
        use_global_backorders=False,
        preorder_enabled=released,
        release_date=timezone.localdate() if released else None,
    )
    first = timezone.now() - timedelta(days=30)
    if connection.vendor == "postgresql":
        _insert_rows_sql(job, product, first)
    else:
        _insert_rows_orm(job, product, first)
    for n, units in enumerate(job.restock(), start=1):
        source = Source.objects.create(code=f"bench-{n}", name=f"Bench warehouse {n}", priority=n)
        for part, first in enumerate(range(0, units, MAX_RECEIPT)):  # a receipt is capped
            quantity = min(MAX_RECEIPT, units - first)
            stock_receive(source=source, product=product, quantity=quantity, reference=f"BENCH-{n}-{part}")
    return product.pk


def _insert_rows_sql(job: Job, product, first) -> None:
    """Set-based: a million orders and rows in two statements (generate_series)."""
    from django.db import connection

    from orders.models import Order, OrderRow

    orders, rows = Order._meta.db_table, OrderRow._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {orders} (number, email, full_name, address, language, placed_at)
            SELECT 'BENCH' || lpad(i::text, 9, '0'), 'customer' || i || '@bench.invalid',
                'Customer ' || i, '1 Bench Street', 'en', %s + i * interval '1 second'
            FROM generate_series(1, %s) AS i""",  # noqa: S608 - table names from the models
            [first, job.rows],
        )
        cursor.execute(
            f"""INSERT INTO {rows} (order_id, product_id, status, quantity, unit_price, queue_tier,
                queue_at, line_no, created_at, updated_at)
            SELECT o.id, %s, %s, {QUANTITY_SQL[job.quantities]}, %s, 0, o.placed_at, 1, now(), now()
            FROM {orders} AS o JOIN generate_series(1, %s) AS i ON o.id = i
            ORDER BY o.id""",  # noqa: S608
            [product.pk, job.status, product.price, job.rows],
        )


def _insert_rows_orm(job: Job, product, first) -> None:
    """SQLite (--allow-sqlite): the same rows through bulk_create."""
    from orders.models import Order, OrderRow

    orders = Order.objects.bulk_create(
        [
            Order(
                number=f"BENCH{i:09d}",
                email=f"customer{i}@bench.invalid",
                full_name=f"Customer {i}",
                address="1 Bench Street",
                placed_at=first + timedelta(seconds=i),
            )
            for i in range(1, job.rows + 1)
        ],
        batch_size=2000,
    )
    OrderRow.objects.bulk_create(
        [
            OrderRow(
                order=order,
                product=product,
                status=job.status,
                quantity=job.quantity(i),
                unit_price=product.price,
                queue_at=order.placed_at,
                line_no=1,
            )
            for i, order in enumerate(orders, start=1)
        ],
        batch_size=2000,
    )


def expected_takes(job: Job, source_ids: list[int]) -> dict[tuple[int, int], int]:
    """{(row number, source id): units} by the rule, computed here and not by the code
    under test: units of each source in priority order, rows in queue order, a row split
    where a source runs out (interval arithmetic over running sums)."""
    takes: dict[tuple[int, int], int] = {}
    bounds, top = [], 0
    for source_id, units in zip(source_ids, job.restock(), strict=True):
        bounds.append((source_id, top, top + units))
        top += units
    end = 0
    for i in range(1, job.rows + 1):
        start, end = end, end + job.quantity(i)
        if start >= top:
            break
        for source_id, low, high in bounds:
            units = min(end, high) - max(start, low)
            if units > 0:
                takes[(i, source_id)] = units
    return takes


def check_end_state(*, product_id: int, job: Job) -> None:
    """Each row got exactly the units the rule gives it, from the right sources, the rest
    still waits (backordered); one event per allocated row; the counters agree."""
    from django.db.models import Count, Sum

    from inventory.models import Stock
    from orders.models import OrderRow, RowEvent, RowStatus

    rows = OrderRow.objects.filter(product_id=product_id)
    number = {
        pk: i
        for i, pk in enumerate(
            rows.filter(split_from=None).order_by("queue_at", "pk").values_list("pk", flat=True), 1
        )
    }
    sources = list(
        Stock.objects.filter(product_id=product_id)
        .order_by("source__priority")
        .values_list("source_id", flat=True)
    )
    expected = expected_takes(job, sources)
    merged: dict[tuple[int, int], int] = defaultdict(int)
    for origin, pk, source_id, units in rows.filter(status=RowStatus.ALLOCATED).values_list(
        "split_from", "pk", "source", "quantity"
    ):
        merged[(number[origin or pk], source_id)] += units
    problems = []
    if dict(merged) != expected:
        wrong = sorted(set(merged.items()) ^ set(expected.items()))[:5]
        problems.append(f"allocations differ from the rule, e.g. (row, source, units) {wrong}")
    waiting = rows.exclude(status=RowStatus.ALLOCATED).aggregate(units=Sum("quantity"), n=Count("id"))
    if set(rows.exclude(status=RowStatus.ALLOCATED).values_list("status", flat=True).distinct()) - {
        RowStatus.BACKORDERED
    }:
        problems.append("rows left neither allocated nor backordered")
    if (waiting["units"] or 0) != job.units() - sum(expected.values()):
        problems.append(
            f"{waiting['units']} units still waiting, expected {job.units() - sum(expected.values())}"
        )
    allocated_rows = rows.filter(status=RowStatus.ALLOCATED)
    events = RowEvent.objects.filter(row__product_id=product_id, to_status=RowStatus.ALLOCATED)
    if (
        events.count() != allocated_rows.count()
        or allocated_rows.exclude(events__to_status=RowStatus.ALLOCATED).exists()
    ):
        problems.append(f"{events.count()} allocation events for {allocated_rows.count()} allocated rows")
    for source_id, stock in zip(
        sources, Stock.objects.filter(product_id=product_id).order_by("source__priority"), strict=True
    ):
        units = sum(u for (_, s), u in expected.items() if s == source_id)
        if stock.allocated != units:
            problems.append(f"stock at source {source_id}: {stock.allocated} allocated, expected {units}")
    if problems:
        raise BenchError("Wrong end state:\n  " + "\n  ".join(problems))


# -- The contenders ----------------------------------------------------------------


def run_service(*, product_id: int, job: Job, notify: bool) -> None:
    from orders.services import backorders_allocate, preorders_release

    if job.status == "preordered":
        released = preorders_release()
        if released != [product_id]:
            raise BenchError(f"preorders_release released {released}, expected [{product_id}]")
        return
    result = backorders_allocate(product_id=product_id)
    if result.units != sum(job.restock()):
        raise BenchError(f"backorders_allocate reported {result}, expected {sum(job.restock())} units")


# The yardsticks: the same job written by hand in SQL for PostgreSQL, set-based, with
# nothing else around it (no product lock, no policy, no signals). Each row covers an
# interval of the queue's running sum of units, each source an interval of the running
# sum of free units by priority: where they overlap is a take. A row covered whole
# moves (to its last source); the other takes become split rows; one event per
# allocated row; each stock row updated once. With a limit: one batch of the queue.
YARDSTICK_SQL = """
WITH locked AS (
    SELECT st.id, st.source_id, st.on_hand - st.allocated AS free, src.priority
    FROM inventory_stock AS st JOIN inventory_source AS src ON src.id = st.source_id
    WHERE st.product_id = %(product)s AND src.is_active AND st.on_hand > st.allocated
    FOR NO KEY UPDATE OF st
), stock AS (
    SELECT id AS stock_id, source_id, free,
        sum(free) OVER (ORDER BY priority, source_id) AS hi
    FROM locked
), head AS (
    SELECT id, quantity, status, queue_tier, queue_at, order_id, line_no
    FROM orders_orderrow
    WHERE product_id = %(product)s AND status IN ('backordered', 'preordered')
    ORDER BY queue_tier DESC, queue_at, order_id, line_no, id
    LIMIT %(limit)s
    FOR UPDATE
), queue AS (
    SELECT id, quantity, status,
        sum(quantity) OVER (ORDER BY queue_tier DESC, queue_at, order_id, line_no, id) AS hi
    FROM head
), overlap AS (
    SELECT q.id, q.quantity, q.status, s.source_id, s.stock_id,
        LEAST(q.hi, s.hi) - GREATEST(q.hi - q.quantity, s.hi - s.free) AS units,
        s.hi AS source_hi
    FROM queue AS q JOIN stock AS s ON s.hi - s.free < q.hi AND s.hi > q.hi - q.quantity
), takes AS MATERIALIZED (
    SELECT *, sum(units) OVER (PARTITION BY id) AS covered,
        row_number() OVER (PARTITION BY id ORDER BY source_hi DESC) AS from_last
    FROM overlap
), moved AS (
    UPDATE orders_orderrow AS r
    SET status = CASE WHEN t.covered = t.quantity THEN 'allocated' ELSE r.status END,
        source_id = CASE WHEN t.covered = t.quantity THEN t.source_id END,
        quantity = CASE WHEN t.covered = t.quantity THEN t.units ELSE t.quantity - t.covered END,
        updated_at = now()
    FROM takes AS t WHERE t.id = r.id AND t.from_last = 1
    RETURNING r.id
), split AS (
    INSERT INTO orders_orderrow (order_id, product_id, status, quantity, source_id, unit_price,
        queue_tier, queue_at, line_no, split_from_id, created_at, updated_at)
    SELECT o.order_id, o.product_id, 'allocated', t.units, t.source_id, o.unit_price,
        o.queue_tier, o.queue_at, o.line_no, o.id, now(), now()
    FROM takes AS t JOIN orders_orderrow AS o ON o.id = t.id
    WHERE t.from_last > 1 OR t.covered < t.quantity
    RETURNING id, quantity, source_id, split_from_id
), events AS (
    INSERT INTO orders_rowevent (row_id, from_status, to_status, quantity, source_id, reason, created_at)
    SELECT t.id, t.status, 'allocated', t.units, t.source_id, 'Restock allocation', now()
    FROM takes AS t WHERE t.from_last = 1 AND t.covered = t.quantity
    UNION ALL
    SELECT s.id, t.status, 'allocated', s.quantity, s.source_id, 'Restock allocation', now()
    FROM split AS s JOIN takes AS t ON t.id = s.split_from_id AND t.source_id = s.source_id
), stock_written AS (
    UPDATE inventory_stock AS st SET allocated = st.allocated + g.units
    FROM (SELECT stock_id, sum(units) AS units FROM takes GROUP BY stock_id) AS g
    WHERE st.id = g.stock_id
    RETURNING st.id
)
SELECT (SELECT count(*) FROM head), (SELECT count(DISTINCT id) FROM takes),
    (SELECT coalesce(sum(units), 0) FROM takes), (SELECT count(*) FROM moved)
"""


def _yardstick(product_id: int, limit: int | None) -> tuple[int, int, int]:
    """One statement: (rows read, rows served, units given)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(YARDSTICK_SQL, {"product": product_id, "limit": limit})
        read, served, units, _ = cursor.fetchone()
    return read, served, units


def run_batched_sql(*, product_id: int, job: Job, notify: bool, batch: int = 1000) -> None:
    """The yardstick in batches of 1,000 rows, each its own transaction (as the service)."""
    from django.db import transaction

    given = 0
    while True:
        with transaction.atomic():
            read, served, units = _yardstick(product_id, batch)
        given += units
        if read < batch or served < read or not units:
            break
    if given != sum(job.restock()):
        raise BenchError(f"batched SQL gave {given} units, expected {sum(job.restock())}")


def run_one_statement(*, product_id: int, job: Job, notify: bool) -> None:
    """The yardstick over the whole queue in one statement (one transaction, no batches:
    it holds the stock lock throughout, which a shop taking orders could not afford)."""
    from django.db import transaction

    with transaction.atomic():
        _, _, units = _yardstick(product_id, None)
    if units != sum(job.restock()):
        raise BenchError(f"one statement gave {units} units, expected {sum(job.restock())}")


def run_naive(*, product_id: int, job: Job, notify: bool, one_transaction: bool = False) -> None:
    """The same rule written the obvious way: a few queries per row, and a commit per row
    (or, with ``one_transaction``, the same loop in one transaction with no savepoints).

    Lean in queries (no product or row lock, the policy read once, whole rows from the
    first source that has them), but the per-row commits cost it about half its time:
    the one-transaction variant is the fairer baseline for the queries alone (it holds
    the stock lock for the whole run, which the service's 1,000-row batches avoid).
    With ``notify`` it announces each row as the service announces a batch.
    """
    from django.db import transaction
    from django.utils import timezone

    from catalog.availability import is_preorder
    from catalog.models import Product
    from catalog.selectors import product_policy
    from orders.models import QUEUE_ORDER, WAITING, OrderRow, RowStatus

    product = Product.objects.get(pk=product_id)
    policy = product_policy(product=product)
    statuses = [RowStatus.BACKORDERED] if is_preorder(product, timezone.localdate()) else list(WAITING)
    waiting = OrderRow.objects.filter(product_id=product_id, status__in=statuses).order_by(*QUEUE_ORDER)
    served = 0
    outer, per_row = (
        (transaction.atomic, nullcontext) if one_transaction else (nullcontext, transaction.atomic)
    )
    with outer():
        served = _naive_rows(waiting, product_id, policy, per_row, notify)
    if served != job.rows:
        raise BenchError(f"naive loop served {served} rows, expected {job.rows}")


def _naive_rows(waiting, product_id, policy, per_row, notify) -> int:
    from inventory.models import Stock
    from orders.models import OrderRow, RowEvent, RowStatus
    from orders.signals import rows_allocated

    served = 0
    for row in waiting:
        with per_row():
            stocks = list(
                Stock.objects.select_for_update(of=("self",))
                .select_related("source")
                .filter(product_id=product_id, source__is_active=True)
                .order_by("source__priority", "source_id")
            )
            if sum(s.free for s in stocks) - policy.safety_stock < row.quantity:
                break
            stock = next((s for s in stocks if s.free >= row.quantity), None)
            if stock is None:
                break
            stock.allocated += row.quantity
            stock.save()
            from_status = row.status
            row.status = RowStatus.ALLOCATED
            row.source = stock.source
            row.save()
            RowEvent.objects.create(
                row=row,
                from_status=from_status,
                to_status=RowStatus.ALLOCATED,
                quantity=row.quantity,
                source=stock.source,
                reason="Restock allocation",
            )
            if notify:
                rows_allocated.send(sender=OrderRow, rows=[row])
        served += 1
    return served


def run_naive_one_transaction(*, product_id: int, job: Job, notify: bool) -> None:
    run_naive(product_id=product_id, job=job, notify=notify, one_transaction=True)


SERVICE, NAIVE, NAIVE_ONE = "service", "naive loop", "naive, 1 txn"
BATCHED, ONE_STATEMENT = "batched SQL", "one statement"
JOBS: dict[str, dict[str, Callable[..., None]]] = {
    # issue 4: quantity 1, one source covering every row, against per-row ORM loops
    "one-source": {SERVICE: run_service, NAIVE: run_naive, NAIVE_ONE: run_naive_one_transaction},
    # issue 12: the yardsticks' job: two sources by priority holding 40 % and 30 % of the
    # waiting units, quantities 1-3, rows split where a source runs out
    "two-sources": {SERVICE: run_service, BATCHED: run_batched_sql, ONE_STATEMENT: run_one_statement},
    # a pre-order release: the same two restocks, the rows pre-ordered, the product released
    # today; preorders_release allocates what the stock covers and the rest wait as backorders
    "release": {SERVICE: run_service},
}
CONTENDER_NAMES = sorted({name for contenders in JOBS.values() for name in contenders})


def job_of(name: str, rows: int) -> Job:
    if name == "one-source":
        return Job(name, rows, "one", (1.0,))
    status = "preordered" if name == "release" else "backordered"
    return Job(name, rows, "one-to-three", (0.4, 0.3), status)


# -- Measuring ---------------------------------------------------------------------


def measure(contender: str, *, job: Job, notify: bool, cprofile: bool = False) -> Run:
    from orders.signals import preorders_released, rows_allocated

    wipe()
    product_id = build_waiting_rows(job)
    run = Run(contender, job.rows)
    with ExitStack() as quiet:
        if not notify:
            quiet.enter_context(muted(rows_allocated))
            quiet.enter_context(muted(preorders_released))
        with measuring(run, cprofile=cprofile):
            JOBS[job.name][contender](product_id=product_id, job=job, notify=notify)
    check_end_state(product_id=product_id, job=job)
    return run


# -- Reporting ---------------------------------------------------------------------


def table(results: dict[str, list[Run]]) -> str:
    """Each contender beside the baselines of its job: the naive loops (committing every
    row, and in one transaction), or the SQL yardsticks (in batches, one statement)."""
    baselines = [name for name in (NAIVE, NAIVE_ONE, BATCHED, ONE_STATEMENT) if name in results]
    header = (*TIMING_HEADER, "db s", *(f"÷ {name}" for name in baselines))
    lines = []
    for name, runs in results.items():
        run = best(runs)
        ratios = (f"{run.seconds / best(results[base]).seconds:.2f}" for base in baselines)
        lines.append((*timing_cells(name, runs), f"{run.db_seconds:.3f}", *ratios))
    return format_table(header, lines)


def environment(*, notify: bool, job: Job) -> str:
    from orders.services import BATCH_SIZE
    from orders.signals import rows_allocated

    return server_line(
        f"job {job.name}: {job.rows:,} rows, {job.units():,} units waiting, restock {job.restock()}; "
        f"batch size {BATCH_SIZE}; rows_allocated receivers: {len(rows_allocated.receivers)} "
        f"({'connected: emails included' if notify else 'muted: allocation only'}); "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


def verdict(results: dict[str, list[Run]]) -> tuple[bool, list[str]]:
    """Issue 4's targets against the naive loop (one-source), issue 12's in seconds."""
    service = best(results[SERVICE])
    if NAIVE_ONE not in results:
        limit = YARDSTICK_TARGET_SECONDS * service.rows / TARGET_ROWS
        fast = service.seconds <= limit
        return fast, [
            f"service {service.seconds:.2f} s for {service.rows:,} rows (issue 12 target ≤ {limit:.1f} s, "
            f"0.6 s per 10,000 rows): {'met' if fast else 'MISSED'}"
        ]
    naive = best(results[NAIVE_ONE])
    factor = naive.seconds / service.seconds
    # The time target is for 10,000 rows; scale it linearly for other sizes.
    limit = TARGET_SECONDS * service.rows / TARGET_ROWS
    fast = service.seconds < limit
    ahead = factor >= TARGET_FACTOR
    lines = [
        f"service {factor:.1f}× the naive loop in one transaction (target ≥ {TARGET_FACTOR:.0f}×): "
        f"{'met' if ahead else 'MISSED'}",
        f"service {service.seconds:.2f} s for {service.rows:,} rows (target < {limit:.1f} s): "
        f"{'met' if fast else 'MISSED'}",
    ]
    if NAIVE in results:
        per_row = best(results[NAIVE]).seconds
        lines.append(
            f"the loop's per-row commits: {per_row:.1f} s vs {naive.seconds:.1f} s in one transaction "
            f"({100 * (per_row - naive.seconds) / per_row:.0f}% of the per-row loop's time)"
        )
    return fast and ahead, lines


# -- Command line ------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(
        "Allocation benchmark: orders.services.backorders_allocate beside naive loops or SQL yardsticks.",
        CONTENDER_NAMES,
    )
    parser.add_argument("--rows", type=positive, default=TARGET_ROWS, help="waiting rows (default 10000)")
    parser.add_argument(
        "--job",
        choices=sorted(JOBS),
        default="one-source",
        help="one-source (issue 4, naive loops), two-sources (issue 12, SQL yardsticks) or release",
    )
    parser.add_argument(
        "--notify",
        action="store_true",
        help="keep rows_allocated receivers (customer emails) connected while timing",
    )
    parser.add_argument("--strict", action="store_true", help="exit with status 3 when a target is missed")
    args = parser.parse_args(argv)
    job = job_of(args.job, args.rows)
    start(allow_sqlite=args.allow_sqlite)
    if args.job != "one-source" and args.allow_sqlite and (set(args.only or JOBS[args.job]) - {SERVICE}):
        raise BenchError("The SQL yardsticks are written for PostgreSQL: use --only service on SQLite.", 2)
    print(environment(notify=args.notify, job=job))
    contenders = JOBS[args.job]
    results = run_contenders(
        contenders,
        only=[name for name in args.only or contenders if name in contenders],
        repeat=args.repeat,
        measure=lambda name: measure(name, job=job, notify=args.notify, cprofile=args.cprofile),
    )

    print()
    print(table(results))
    targets = SERVICE in results and (NAIVE_ONE in results or args.job != "one-source")
    ok = True
    if targets:
        ok, lines = verdict(results)
        print()
        print("\n".join(lines))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.profile or args.cprofile or not ok or not targets:
        print()
        for runs in results.values():
            print(where_time_went(best(runs)))
    return 3 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(run_main(main))
