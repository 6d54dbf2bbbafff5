"""What every benchmark in bench/ shares: Django set-up for a throw-away database,
the safety guard (the runs wipe tables), quiet data set-up, the options, running each
contender in turn, timing a run and counting its statements, and the printed report.

A benchmark names its contenders, builds its data and checks the end state; the rest
is here:

    args = bench_parser("...", CONTENDERS).parse_args(argv)
    start(allow_sqlite=args.allow_sqlite)
    results = run_contenders(CONTENDERS, only=args.only, repeat=args.repeat, measure=...)

where ``measure(name)`` wipes, builds, times the contender ``with measuring(run)`` and
checks what it left; ``run_main(main)`` turns a BenchError into its message and status.
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import io
import os
import platform
import pstats
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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


def prepare_database(*, allow_sqlite: bool) -> None:
    """Guard, create if missing, migrate: what each benchmark does before its first run."""
    from django.conf import settings
    from django.core.management import call_command

    db = settings.DATABASES["default"]
    guard_database(db, allow_sqlite=allow_sqlite)
    if ensure_database(db):
        print(f"created database {db['NAME']}")
    call_command("migrate", interactive=False, verbosity=0)


def start(*, allow_sqlite: bool) -> None:
    """Django set up for benchmarking, the database guarded, created if missing, migrated."""
    django_setup()
    prepare_database(allow_sqlite=allow_sqlite)


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


def analyze(tables=("catalog_product", "inventory_stock", "orders_order", "orders_orderrow")) -> None:
    """Fresh statistics, as autovacuum would have them on a live table of this size."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f'ANALYZE "{table}"')


@contextmanager
def muted(signal):
    """Detach every receiver of ``signal`` for the block, then put them back."""
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


@contextmanager
def setup_quiet():
    """Building the data must not set off the shop's reactions: allocating as soon as stock
    is received (stock_freed), refreshing promise dates (supply_changed, post_save)..."""
    from django.db.models.signals import post_save
    from django.dispatch import Signal

    from inventory import signals as inventory_signals

    announced = [value for value in vars(inventory_signals).values() if isinstance(value, Signal)]
    with ExitStack() as stack:
        for signal in [*announced, post_save]:
            stack.enter_context(muted(signal))
        yield


def server_line(extra: str = "") -> str:
    """Database, versions and CPUs: the first line of every benchmark's output."""
    import django
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            server = f"PostgreSQL {cursor.fetchone()[0]}"
        else:
            server = f"{connection.vendor} {connection.Database.sqlite_version}"
    line = (
        f"database {connection.settings_dict['NAME']} on {server}; Django {django.get_version()}; "
        f"Python {platform.python_version()}; {os.cpu_count()} CPUs"
    )
    return f"{line}; {extra}" if extra else line


# -- Counting statements -----------------------------------------------------------

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


# -- Running and timing ------------------------------------------------------------


def positive(value: str) -> int:
    """An option's whole number of at least 1."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def bench_parser(description: str, contenders: Iterable[str], *, cprofile: bool = True):
    """The options of a benchmark of contenders; it adds its own sizes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--repeat", type=positive, default=1, help="runs per contender; the best is reported (default 1)"
    )
    parser.add_argument(
        "--only", choices=sorted(contenders), action="append", help="run only this contender (repeatable)"
    )
    parser.add_argument("--profile", action="store_true", help="print where the time went")
    if cprofile:
        parser.add_argument(
            "--cprofile", action="store_true", help="also run cProfile around each run (implies --profile)"
        )
    parser.add_argument("--allow-sqlite", action="store_true", help="permit a SQLite file named *bench*")
    return parser


@dataclass
class Run:
    """One timed run of one contender: wall time, its statements (count, time in the
    database driver, by shape) and, with cProfile, where Python spent it."""

    contender: str
    rows: int
    seconds: float = 0.0
    queries: int = 0
    db_seconds: float = 0.0
    by_shape: dict[str, list] = field(default_factory=dict)
    python_profile: str = ""

    def progress(self) -> str:
        return f"{self.seconds:8.3f} s  {self.queries:7,} queries"


@contextmanager
def measuring(run: Run, *, cprofile: bool = False):
    """Time the block into ``run`` and count its statements; with ``cprofile``, profile it."""
    from django.db import connection

    log = QueryLog()
    profiler = cProfile.Profile() if cprofile else None
    with connection.execute_wrapper(log):
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        try:
            yield run
        finally:
            if profiler:
                profiler.disable()
            run.seconds = time.perf_counter() - started
    run.queries, run.db_seconds, run.by_shape = log.count, log.seconds, dict(log.by_shape)
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        run.python_profile = out.getvalue()


def run_contenders(contenders: Iterable[str], *, only, repeat: int, measure: Callable) -> dict[str, list]:
    """Each chosen contender ``repeat`` times in turn (``measure(name)`` builds its data,
    times it and checks the end state), a line per run; the tables are wiped at the end."""
    width = max(map(len, contenders))
    names = [name for name in contenders if not only or name in only]
    results: dict[str, list] = {name: [] for name in names}
    for attempt in range(1, repeat + 1):
        for name in names:
            run = measure(name)
            results[name].append(run)
            print(f"  run {attempt}/{repeat} {name:<{width}} {run.progress()}  end state ok", flush=True)
    wipe()
    return results


def run_main(main: Callable[[], int]) -> int:
    """A benchmark's exit status: main's, or a BenchError's after printing it."""
    try:
        return main()
    except BenchError as error:
        print(f"bench/{Path(inspect.getfile(main)).name}: {error}", file=sys.stderr)
        return error.status


# -- Page benchmarks: requests through Django's test client ---------------------------


def start_pages(*, postgres_only: str) -> None:
    """start() for a benchmark of pages on PostgreSQL (``postgres_only``: why, if not), the
    test client's host allowed; prints the server line with the machine's load."""
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    start(allow_sqlite=False)
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql":
        raise BenchError(postgres_only, status=2)
    if "testserver" not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    print(server_line(f"load average {load_average()}"))


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def time_request(request: Callable, *, repeat: int, label: str):
    """The median milliseconds of ``request()`` (a test client call) over ``repeat`` runs
    after one untimed, its statement count and the last response."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = request()
    if first.status_code != 200:
        raise BenchError(f"GET {label} answered {first.status_code}")
    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = request()
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, len(queries), response


def explain_request(request: Callable, *, label: str, top: int = 2) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the ``top`` slowest statements behind ``request()``."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timed = []

    def wrapper(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timed.append((time.perf_counter() - started, sql, params))

    with CaptureQueriesContext(connection), connection.execute_wrapper(wrapper):
        request()
    for seconds, sql, params in sorted(timed, key=lambda t: t[0], reverse=True)[:top]:
        print(f"--- {seconds * 1000:.1f} ms: {label}")
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            print("\n".join(row[0] for row in cursor.fetchall()))


# -- Printing ----------------------------------------------------------------------

TIMING_HEADER = ("contender", "rows", "seconds", "median s", "rows/s", "queries")


def best(runs: list) -> Run:
    """The fastest of a contender's runs: the one reported."""
    return min(runs, key=lambda run: run.seconds)


def timing_cells(name: str, runs: list[Run]) -> tuple[str, ...]:
    """A contender's first cells in a results table (the columns of TIMING_HEADER)."""
    run = best(runs)
    return (
        name,
        f"{run.rows:,}",
        f"{run.seconds:.3f}",
        f"{statistics.median(r.seconds for r in runs):.3f}",
        f"{run.rows / run.seconds:,.0f}",
        f"{run.queries:,}",
    )


def where_time_went(run: Run, *, top: int = 8, note: str = "") -> str:
    """Database driver against Python, the statement shapes that took longest, and the
    cProfile report when there is one."""
    lines = [
        f"{run.contender}: {run.seconds:.3f} s = {run.db_seconds:.3f} s in the database driver "
        f"+ {run.seconds - run.db_seconds:.3f} s in Python{note}",
    ]
    for shape, (count, seconds) in sorted(run.by_shape.items(), key=lambda kv: kv[1][1], reverse=True)[:top]:
        share = 100 * seconds / run.seconds if run.seconds else 0
        lines.append(f"  {seconds:8.3f} s {share:5.1f}%  {count:7,} × {shape}")
    if run.python_profile:
        lines.append(f"  cProfile of {run.contender} (timings inflated by the profiler):")
        lines.extend("    " + line for line in run.python_profile.strip().splitlines())
    return "\n".join(lines)


def format_table(header: tuple[str, ...], lines: list[tuple[str, ...]]) -> str:
    """First column left-aligned, the others right-aligned, a rule under the header."""
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]

    def fmt(row):
        return "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )

    return "\n".join([fmt(header), "  ".join("-" * w for w in widths), *(fmt(row) for row in lines)])
