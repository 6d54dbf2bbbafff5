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

import argparse
import os
import platform
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_FACTOR = 10.0
TARGET_SECONDS = 5.0  # for 10,000 rows
TARGET_ROWS = 10_000
APP_LABELS = ("catalog", "inventory", "orders", "notifications")


class BenchError(Exception):
    """A refusal or a wrong end state: printed, exit status 1 or 2."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


# -- Django and the database -------------------------------------------------------


def django_setup() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    # DEBUG logs every query in memory: a cost no production run pays.
    os.environ.setdefault("DEBUG", "False")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Never reach a real broker (a worker on another database would act on these ids)
    # or a real mail server: tasks run eagerly, mail stays in memory.
    os.environ["CELERY_BROKER_URL"] = ""
    os.environ["EMAIL_URL"] = "memorymail://"
    import django

    django.setup()


def guard_database(db: dict, *, allow_sqlite: bool) -> None:
    """Refuse anything that could be a real database: the run wipes tables."""
    engine, name = db["ENGINE"], str(db["NAME"])
    if engine.endswith("sqlite3"):
        if not allow_sqlite:
            raise BenchError(
                "Refusing to run on SQLite (the figures mean nothing there and the default "
                "DATABASE_URL is the development database). Set DATABASE_URL=postgres://.../restock_bench "
                "or pass --allow-sqlite with a SQLite file whose name contains 'bench'.",
                status=2,
            )
        name = Path(name).name
    elif not engine.endswith("postgresql"):
        raise BenchError(f"Unsupported database engine {engine}.", status=2)
    if "bench" not in name.lower():
        raise BenchError(
            f"Refusing to run on database {name!r}: the benchmark wipes its tables, so the "
            "database name must contain 'bench' (e.g. restock_bench).",
            status=2,
        )


def ensure_database(db: dict) -> bool:
    """Create the PostgreSQL database if missing (via the "postgres" db). True if created."""
    if not db["ENGINE"].endswith("postgresql"):
        return False
    import psycopg
    from psycopg import sql

    params = {
        "dbname": "postgres",
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
        return True


def app_tables() -> list[str]:
    from django.apps import apps

    return sorted(
        model._meta.db_table
        for label in APP_LABELS
        for model in apps.get_app_config(label).get_models()
        if model._meta.managed and not model._meta.proxy
    )


def wipe() -> None:
    """Empty the shop's tables (TRUNCATE ... RESTART IDENTITY CASCADE on PostgreSQL)."""
    from django.core.management.color import no_style
    from django.db import connection

    statements = connection.ops.sql_flush(no_style(), app_tables(), reset_sequences=True, allow_cascade=True)
    connection.ops.execute_sql_flush(statements)


def analyze() -> None:
    """Fresh statistics, as autovacuum would have them on a live table of this size."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in ("catalog_product", "inventory_stock", "orders_order", "orders_orderrow"):
            cursor.execute(f'ANALYZE "{table}"')


@contextmanager
def muted(signal):
    """Detach every receiver of ``signal`` for the block, then put them back.

    Receiving stock announces stock_freed, whose receivers would allocate (and mail)
    during setup; rows_allocated receivers write the customers' emails, which are not
    the allocation (see --notify).
    """
    with signal.lock:
        saved = signal.receivers
        signal.receivers = []
        signal.sender_receivers_cache.clear()
    try:
        yield
    finally:
        with signal.lock:
            signal.receivers = saved
            signal.sender_receivers_cache.clear()


# -- The data: not measured ---------------------------------------------------------


@contextmanager
def setup_quiet():
    """The setup must not set off the shop's reactions: allocating as soon as stock is
    received (stock_freed), refreshing promise dates (supply_changed, post_save)..."""
    from contextlib import ExitStack

    from django.db.models.signals import post_save
    from django.dispatch import Signal

    from inventory import signals as inventory_signals

    announced = [value for value in vars(inventory_signals).values() if isinstance(value, Signal)]
    with ExitStack() as stack:
        for signal in [*announced, post_save]:
            stack.enter_context(muted(signal))
        yield


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


def run_naive(*, product_id: int, rows: int, notify: bool) -> None:
    """The same rule written the obvious way: one transaction and a few queries per row.

    Lean on purpose (no product or row lock, the policy read once, whole rows from
    the first source that has them), so the comparison flatters the loop, not the
    service. With ``notify`` it announces each row as the service announces a batch.
    """
    from django.db import transaction
    from django.utils import timezone

    from catalog.availability import is_preorder
    from catalog.models import Product
    from catalog.selectors import product_policy
    from inventory.models import Stock
    from orders.models import QUEUE_ORDER, WAITING, OrderRow, RowEvent, RowStatus
    from orders.signals import rows_allocated

    product = Product.objects.get(pk=product_id)
    policy = product_policy(product=product)
    statuses = [RowStatus.BACKORDERED] if is_preorder(product, timezone.localdate()) else list(WAITING)
    waiting = OrderRow.objects.filter(product_id=product_id, status__in=statuses).order_by(*QUEUE_ORDER)
    served = 0
    for row in waiting:
        with transaction.atomic():
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
    if served != rows:
        raise BenchError(f"naive loop served {served} rows, expected {rows}")


CONTENDERS: dict[str, Callable[..., None]] = {
    "service": run_service,
    "naive loop": run_naive,
}


# -- Measuring ---------------------------------------------------------------------

_SQL_SHAPE = re.compile(
    r'^\s*(?:(SELECT)\b.*?\bFROM\s+"?(\w+)"?|(UPDATE)\s+"?(\w+)"?|(INSERT)\s+INTO\s+"?(\w+)"?'
    r'|(DELETE)\s+FROM\s+"?(\w+)"?|(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT)\b)',
    re.IGNORECASE | re.DOTALL,
)


def query_shape(sql: str) -> str:
    """'SELECT orders_orderrow FOR UPDATE', 'UPDATE inventory_stock', ...: what to group by."""
    match = _SQL_SHAPE.match(sql)
    if not match:
        return sql.split(None, 1)[0].upper() if sql.strip() else "?"
    parts = [p for p in match.groups() if p]
    shape = " ".join([parts[0].upper(), *parts[1:]])
    if parts[0].upper() == "SELECT" and re.search(r"\bFOR (NO KEY )?UPDATE\b", sql, re.IGNORECASE):
        shape += " FOR UPDATE"
    return shape


@dataclass
class QueryLog:
    """Counts and times every statement through Django's cursors (not BEGIN/COMMIT)."""

    count: int = 0
    seconds: float = 0.0
    by_shape: dict[str, list] = field(default_factory=lambda: defaultdict(lambda: [0, 0.0]))

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - started
            self.count += 1
            self.seconds += elapsed
            entry = self.by_shape[query_shape(sql)]
            entry[0] += 1
            entry[1] += elapsed


@dataclass
class Run:
    contender: str
    rows: int
    seconds: float
    queries: int
    db_seconds: float
    by_shape: dict[str, list]
    python_profile: str = ""


def measure(contender: str, *, rows: int, notify: bool, cprofile: bool = False) -> Run:
    import cProfile
    import io
    import pstats
    from contextlib import nullcontext

    from django.db import connection

    from orders.signals import rows_allocated

    wipe()
    product_id = build_waiting_rows(rows=rows)
    log = QueryLog()
    profiler = cProfile.Profile() if cprofile else None
    with connection.execute_wrapper(log), nullcontext() if notify else muted(rows_allocated):
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        CONTENDERS[contender](product_id=product_id, rows=rows, notify=notify)
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - started
    check_end_state(product_id=product_id, rows=rows)
    run = Run(contender, rows, seconds, log.count, log.seconds, dict(log.by_shape))
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        run.python_profile = out.getvalue()
    return run


# -- Reporting ---------------------------------------------------------------------


def best(runs: list[Run]) -> Run:
    return min(runs, key=lambda r: r.seconds)


def table(results: dict[str, list[Run]]) -> str:
    baseline = best(results["naive loop"]).seconds
    header = ("contender", "rows", "seconds", "median s", "rows/s", "queries", "db s", "speed-up")
    lines = []
    for name, runs in results.items():
        run = best(runs)
        lines.append(
            (
                name,
                f"{run.rows:,}",
                f"{run.seconds:.3f}",
                f"{statistics.median(r.seconds for r in runs):.3f}",
                f"{run.rows / run.seconds:,.0f}",
                f"{run.queries:,}",
                f"{run.db_seconds:.3f}",
                f"{baseline / run.seconds:.1f}×",
            )
        )
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]

    def fmt(row):
        return "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(row) for row in lines)])


def profile(run: Run, *, top: int = 8) -> str:
    python = run.seconds - run.db_seconds
    lines = [
        f"{run.contender}: {run.seconds:.3f} s = {run.db_seconds:.3f} s in the database driver "
        f"+ {python:.3f} s in Python",
    ]
    shapes = sorted(run.by_shape.items(), key=lambda kv: kv[1][1], reverse=True)
    for shape, (count, seconds) in shapes[:top]:
        share = 100 * seconds / run.seconds if run.seconds else 0
        lines.append(f"  {seconds:8.3f} s {share:5.1f}%  {count:7,} × {shape}")
    if run.python_profile:
        lines.append(f"  cProfile of {run.contender} (timings inflated by the profiler):")
        lines.extend("    " + line for line in run.python_profile.strip().splitlines())
    return "\n".join(lines)


def environment(*, notify: bool) -> str:
    import django
    from django.db import connection

    from orders.services import BATCH_SIZE
    from orders.signals import rows_allocated

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            server = f"PostgreSQL {cursor.fetchone()[0]}"
        else:
            server = f"{connection.vendor} {connection.Database.sqlite_version}"
    return (
        f"database {connection.settings_dict['NAME']} on {server}; Django {django.get_version()}; "
        f"Python {platform.python_version()}; {os.cpu_count()} CPUs; batch size {BATCH_SIZE}; "
        f"rows_allocated receivers: {len(rows_allocated.receivers)} "
        f"({'connected: emails included' if notify else 'muted: allocation only'})"
    )


def verdict(results: dict[str, list[Run]]) -> tuple[bool, list[str]]:
    service, naive = best(results["service"]), best(results["naive loop"])
    factor = naive.seconds / service.seconds
    # The time target is for 10,000 rows; scale it linearly for other sizes.
    limit = TARGET_SECONDS * service.rows / TARGET_ROWS
    fast = service.seconds < limit
    ahead = factor >= TARGET_FACTOR
    return fast and ahead, [
        f"service {factor:.1f}× the naive loop (target ≥ {TARGET_FACTOR:.0f}×): "
        f"{'met' if ahead else 'MISSED'}",
        f"service {service.seconds:.2f} s for {service.rows:,} rows (target < {limit:.1f} s): "
        f"{'met' if fast else 'MISSED'}",
    ]


# -- Command line ------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Allocation benchmark: orders.services.backorders_allocate vs a naive per-row loop.",
    )
    parser.add_argument("--rows", type=int, default=TARGET_ROWS, help="waiting rows (default 10000)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per contender; the best is reported (default 1)"
    )
    parser.add_argument(
        "--only",
        choices=sorted(CONTENDERS),
        action="append",
        help="run only this contender (repeatable); the speed-up needs both",
    )
    parser.add_argument(
        "--profile", action="store_true", help="print where the time went (queries by shape, Python)"
    )
    parser.add_argument(
        "--cprofile",
        action="store_true",
        help="also run cProfile around each contender (slower; implies --profile)",
    )
    parser.add_argument(
        "--notify",
        action="store_true",
        help="keep rows_allocated receivers (customer emails) connected while timing",
    )
    parser.add_argument("--strict", action="store_true", help="exit with status 3 when a target is missed")
    parser.add_argument("--allow-sqlite", action="store_true", help="permit a SQLite file named *bench*")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        django_setup()
        from django.conf import settings
        from django.core.management import call_command

        db = settings.DATABASES["default"]
        guard_database(db, allow_sqlite=args.allow_sqlite)
        if ensure_database(db):
            print(f"created database {db['NAME']}")
        call_command("migrate", interactive=False, verbosity=0)
        print(environment(notify=args.notify))

        contenders = [name for name in CONTENDERS if not args.only or name in args.only]
        results: dict[str, list[Run]] = {name: [] for name in contenders}
        for attempt in range(1, args.repeat + 1):
            for name in contenders:
                run = measure(name, rows=args.rows, notify=args.notify, cprofile=args.cprofile)
                results[name].append(run)
                print(
                    f"  run {attempt}/{args.repeat} {name:<10} {run.seconds:8.3f} s  "
                    f"{run.queries:7,} queries  end state ok",
                    flush=True,
                )
        wipe()
    except BenchError as error:
        print(f"bench/allocation.py: {error}", file=sys.stderr)
        return error.status

    print()
    if len(results) < len(CONTENDERS):
        for runs in results.values():
            print(profile(best(runs)))
        return 0
    print(table(results))
    print()
    ok, lines = verdict(results)
    print("\n".join(lines))
    if args.profile or args.cprofile or not ok:
        print()
        for runs in results.values():
            print(profile(best(runs)))
    return 3 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
