"""What every benchmark in bench/ shares: Django set-up for a throw-away database,
the safety guard (the runs wipe tables), statement counting, and table printing."""

from __future__ import annotations

import os
import platform
import re
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
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


# -- Printing ----------------------------------------------------------------------


def format_table(header: tuple[str, ...], lines: list[tuple[str, ...]]) -> str:
    """First column left-aligned, the others right-aligned, a rule under the header."""
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]

    def fmt(row):
        return "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )

    return "\n".join([fmt(header), "  ".join("-" * w for w in widths), *(fmt(row) for row in lines)])
