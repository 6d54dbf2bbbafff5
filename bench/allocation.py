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

import sys
from collections.abc import Callable
from contextlib import nullcontext
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


# -- The data: not measured ---------------------------------------------------------


def build_waiting_rows(*, rows: int) -> int:
    """One product allowing backorders, ``rows`` waiting rows in queue order, a restock
    covering them all received through the inventory service. Returns the product id."""
    with setup_quiet():
        product_id = _build(rows=rows)
    analyze()
    return product_id


def _build(*, rows: int) -> int:
    from django.utils import timezone

    from catalog.models import Backorders, GlobalSettings, Product
    from inventory.models import Source
    from inventory.services import stock_receive
    from orders.models import Order, OrderRow, RowStatus

    GlobalSettings.get_solo()  # created on first read: not the allocation's work
    source = Source.objects.create(code="bench-main", name="Bench warehouse", priority=1)
    product = Product.objects.create(
        sku="BENCH-1",
        name="Bench widget",
        slug="bench-widget",
        price=Decimal("9.90"),
        backorders=Backorders.ALLOW,
        use_global_backorders=False,
    )
    start = timezone.now() - timedelta(days=30)
    orders = Order.objects.bulk_create(
        [
            Order(
                number=f"BENCH{i:08d}",
                email=f"customer{i}@bench.invalid",
                full_name=f"Customer {i}",
                address="1 Bench Street",
                placed_at=start + timedelta(seconds=i),
            )
            for i in range(rows)
        ],
        batch_size=2000,
    )
    OrderRow.objects.bulk_create(
        [
            OrderRow(
                order=order,
                product=product,
                status=RowStatus.BACKORDERED,
                quantity=1,
                unit_price=product.price,
                queue_at=order.placed_at,
                line_no=1,
            )
            for order in orders
        ],
        batch_size=2000,
    )
    stock_receive(source=source, product=product, quantity=rows, reference="BENCH-RESTOCK-1")
    return product.pk


def check_end_state(*, product_id: int, rows: int) -> None:
    """Every row allocated once, from a source, with its event; the counter agrees."""
    from django.db.models import Count, Sum

    from inventory.models import Stock
    from orders.models import OrderRow, RowEvent, RowStatus

    by_status = dict(
        OrderRow.objects.filter(product_id=product_id)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    allocated_units = (
        OrderRow.objects.filter(product_id=product_id, status=RowStatus.ALLOCATED).aggregate(
            units=Sum("quantity")
        )["units"]
        or 0
    )
    without_source = OrderRow.objects.filter(
        product_id=product_id, status=RowStatus.ALLOCATED, source__isnull=True
    ).count()
    events = RowEvent.objects.filter(row__product_id=product_id, to_status=RowStatus.ALLOCATED).count()
    stock = Stock.objects.get(product_id=product_id)
    problems = []
    if by_status != {RowStatus.ALLOCATED: rows}:
        problems.append(f"rows by status {by_status}, expected {{'allocated': {rows}}}")
    if allocated_units != rows:
        problems.append(f"{allocated_units} units on allocated rows, expected {rows}")
    if without_source:
        problems.append(f"{without_source} allocated rows have no source")
    if events != rows:
        problems.append(f"{events} allocation events, expected {rows}")
    if stock.allocated != rows or stock.on_hand != rows:
        problems.append(f"stock on hand {stock.on_hand}, allocated {stock.allocated}; expected {rows} each")
    if problems:
        raise BenchError("Wrong end state:\n  " + "\n  ".join(problems))


# -- The contenders ----------------------------------------------------------------


def run_service(*, product_id: int, rows: int, notify: bool) -> None:
    from orders.services import backorders_allocate

    result = backorders_allocate(product_id=product_id)
    if result.rows != rows or result.units != rows:
        raise BenchError(f"backorders_allocate reported {result}, expected {rows} rows and units")


def run_naive(*, product_id: int, rows: int, notify: bool, one_transaction: bool = False) -> None:
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
    if served != rows:
        raise BenchError(f"naive loop served {served} rows, expected {rows}")


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


def run_naive_one_transaction(*, product_id: int, rows: int, notify: bool) -> None:
    run_naive(product_id=product_id, rows=rows, notify=notify, one_transaction=True)


NAIVE, NAIVE_ONE = "naive loop", "naive, 1 txn"
CONTENDERS: dict[str, Callable[..., None]] = {
    "service": run_service,
    NAIVE: run_naive,
    NAIVE_ONE: run_naive_one_transaction,
}


# -- Measuring ---------------------------------------------------------------------


def measure(contender: str, *, rows: int, notify: bool, cprofile: bool = False) -> Run:
    from orders.signals import rows_allocated

    wipe()
    product_id = build_waiting_rows(rows=rows)
    run = Run(contender, rows)
    with nullcontext() if notify else muted(rows_allocated), measuring(run, cprofile=cprofile):
        CONTENDERS[contender](product_id=product_id, rows=rows, notify=notify)
    check_end_state(product_id=product_id, rows=rows)
    return run


# -- Reporting ---------------------------------------------------------------------


def table(results: dict[str, list[Run]]) -> str:
    """Each contender beside both baselines: the loop committing every row, and the same
    loop in one transaction (what is left when commits are not counted)."""
    per_row = best(results[NAIVE]).seconds if NAIVE in results else None
    one = best(results[NAIVE_ONE]).seconds if NAIVE_ONE in results else None
    header = (*TIMING_HEADER, "db s", "vs per-row commits", "vs one txn")
    lines = []
    for name, runs in results.items():
        run = best(runs)
        lines.append(
            (
                *timing_cells(name, runs),
                f"{run.db_seconds:.3f}",
                f"{per_row / run.seconds:.1f}×" if per_row else "-",
                f"{one / run.seconds:.1f}×" if one else "-",
            )
        )
    return format_table(header, lines)


def environment(*, notify: bool) -> str:
    from orders.services import BATCH_SIZE
    from orders.signals import rows_allocated

    return server_line(
        f"batch size {BATCH_SIZE}; rows_allocated receivers: {len(rows_allocated.receivers)} "
        f"({'connected: emails included' if notify else 'muted: allocation only'})"
    )


def verdict(results: dict[str, list[Run]]) -> tuple[bool, list[str]]:
    service, naive = best(results["service"]), best(results[NAIVE_ONE])
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
        "Allocation benchmark: orders.services.backorders_allocate vs a naive per-row loop.", CONTENDERS
    )
    parser.add_argument("--rows", type=positive, default=TARGET_ROWS, help="waiting rows (default 10000)")
    parser.add_argument(
        "--notify",
        action="store_true",
        help="keep rows_allocated receivers (customer emails) connected while timing",
    )
    parser.add_argument("--strict", action="store_true", help="exit with status 3 when a target is missed")
    args = parser.parse_args(argv)
    start(allow_sqlite=args.allow_sqlite)
    print(environment(notify=args.notify))
    results = run_contenders(
        CONTENDERS,
        only=args.only,
        repeat=args.repeat,
        measure=lambda name: measure(name, rows=args.rows, notify=args.notify, cprofile=args.cprofile),
    )

    print()
    print(table(results))
    targets = "service" in results and NAIVE_ONE in results  # the verdict needs both
    ok = True
    if targets:
        ok, lines = verdict(results)
        print()
        print("\n".join(lines))
    if args.profile or args.cprofile or not ok or not targets:
        print()
        for runs in results.values():
            print(where_time_went(best(runs)))
    return 3 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(run_main(main))
