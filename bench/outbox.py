"""Outbox benchmark: draining 10,000 pending emails with the send service vs a naive loop.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/restock_bench \\
        .venv/bin/python bench/outbox.py [--rows 10000] [--repeat 1] [--batch-size 100] [--profile]

For each contender and each repeat: wipe the app tables, bulk-insert ``--rows``
pending outbox rows (an order confirmation's size of text and HTML each), then time
only the draining and count its queries. Mail goes to Django's locmem backend (in
memory), so the figures are the outbox's own cost, not a mail server's. Both end
states are checked (every row sent once, one email per row with its own Message-ID);
a wrong one stops the run with exit status 1. See bench/README.md.

* **service**: ``notifications.events.emails_send_batch`` in a loop until a batch
  finds nothing due, as the ``send_outbox`` task does: claim a batch (SELECT ... FOR
  UPDATE SKIP LOCKED, then one UPDATE for the lease), send over one connection, mark
  each row sent right after its send.
* **naive loop**: read the pending rows, then per row ``EmailMultiAlternatives(...).send()``
  (its own connection) and ``row.save()``. No claim, no lease: two workers running it
  would send every message twice. It is what the service must not be much slower than.

The database is created if missing and migrated. The run refuses a database whose
name does not contain "bench" (it wipes tables) and SQLite unless --allow-sqlite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import (  # noqa: E402  (the repository root is put on sys.path above)
    BenchError,
    QueryLog,
    django_setup,
    format_table,
    prepare_database,
    server_line,
    wipe,
)

TARGET_ROWS = 10_000
BODY_LINES = 12  # rows of an order confirmation, roughly: ~1 KB text, ~2 KB HTML


# -- The data: not measured ---------------------------------------------------------


def build_pending(*, rows: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from notifications.models import OutboxMessage

    now = timezone.now()
    text = "".join(f"- 1 x Bench widget (BENCH-{i}): Backordered\n" for i in range(BODY_LINES))
    html = "<table>" + "".join(f"<tr><td>Bench widget {i}</td><td>1</td></tr>" for i in range(BODY_LINES))
    OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(
                key=f"bench:{i}:customer{i}@bench.invalid",
                kind="order_confirmation",
                to_email=f"customer{i}@bench.invalid",
                subject=f"Your Restock order BENCH{i:08d}",
                body_text=f"Hello Customer {i},\n\n{text}",
                body_html=f"<p>Hello Customer {i},</p>{html}</table>",
                next_attempt_at=now,
            )
            for i in range(rows)
        ],
        batch_size=2000,
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute('ANALYZE "notifications_outboxmessage"')


def check_end_state(*, rows: int) -> None:
    """Every row sent once with a time; one email per row, each with its row's Message-ID."""
    from django.core import mail
    from django.db.models import Count

    from notifications.models import OutboxMessage, OutboxStatus

    problems = []
    by_status = dict(OutboxMessage.objects.values_list("status").annotate(n=Count("id")).order_by())
    if by_status != {OutboxStatus.SENT: rows}:
        problems.append(f"rows by status {by_status}, expected {{'sent': {rows}}}")
    if OutboxMessage.objects.filter(sent_at__isnull=True).exists():
        problems.append("sent rows without sent_at")
    if OutboxMessage.objects.exclude(attempts=1).exists():
        problems.append("rows with attempts != 1")
    outbox = getattr(mail, "outbox", [])
    ids = {m.extra_headers.get("Message-ID") for m in outbox}
    expected = {m.message_id for m in OutboxMessage.objects.only("pk")}
    if len(outbox) != rows:
        problems.append(f"{len(outbox)} emails sent, expected {rows}")
    if ids != expected:
        problems.append(f"{len(expected - ids)} rows without their email, {len(ids - expected)} stray ids")
    if problems:
        raise BenchError("Wrong end state:\n  " + "\n  ".join(problems))


# -- The contenders ----------------------------------------------------------------


@dataclass
class Drained:
    sent: int
    batches: int


def run_service(*, batch_size: int) -> Drained:
    from notifications.events import emails_send_batch

    sent = batches = 0
    while True:
        result = emails_send_batch(batch_size=batch_size)
        if result.retried or result.failed:
            raise BenchError(f"emails_send_batch reported {result}: nothing should fail here")
        if not result.sent:
            return Drained(sent, batches)
        sent += result.sent
        batches += 1


def run_naive(*, batch_size: int) -> Drained:
    """One message, one connection, one save at a time (the obvious code)."""
    from django.conf import settings
    from django.core.mail import EmailMultiAlternatives
    from django.utils import timezone

    from notifications.models import OutboxMessage, OutboxStatus

    sent = 0
    for row in OutboxMessage.objects.filter(status=OutboxStatus.PENDING).order_by("next_attempt_at", "pk"):
        email = EmailMultiAlternatives(
            subject=row.subject,
            body=row.body_text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[row.to_email],
            headers={"Message-ID": row.message_id},
        )
        email.attach_alternative(row.body_html, "text/html")
        email.send()
        row.status, row.sent_at, row.attempts = OutboxStatus.SENT, timezone.now(), row.attempts + 1
        row.save()
        sent += 1
    return Drained(sent, 1)


CONTENDERS: dict[str, Callable[..., Drained]] = {"service": run_service, "naive loop": run_naive}


# -- Measuring ---------------------------------------------------------------------


@dataclass
class Run:
    contender: str
    rows: int
    seconds: float
    queries: int
    db_seconds: float
    batches: int
    by_shape: dict[str, list]
    python_profile: str = ""


def measure(contender: str, *, rows: int, batch_size: int, cprofile: bool = False) -> Run:
    import cProfile
    import io
    import pstats

    from django.core import mail
    from django.db import connection

    wipe()
    build_pending(rows=rows)
    mail.outbox = []
    log = QueryLog()
    profiler = cProfile.Profile() if cprofile else None
    with connection.execute_wrapper(log), profiler or nullcontext():
        started = time.perf_counter()
        drained = CONTENDERS[contender](batch_size=batch_size)
        seconds = time.perf_counter() - started
    if drained.sent != rows:
        raise BenchError(f"{contender} sent {drained.sent} messages, expected {rows}")
    check_end_state(rows=rows)
    mail.outbox = []
    run = Run(contender, rows, seconds, log.count, log.seconds, drained.batches, dict(log.by_shape))
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(20)
        run.python_profile = out.getvalue()
    return run


# -- Reporting ---------------------------------------------------------------------


def best(runs: list[Run]) -> Run:
    return min(runs, key=lambda r: r.seconds)


def table(results: dict[str, list[Run]]) -> str:
    baseline = best(results["naive loop"]).seconds if "naive loop" in results else None
    header = ("contender", "rows", "seconds", "median s", "rows/s", "queries", "per batch", "db s")
    header += ("vs naive",)
    lines = []
    for name, runs in results.items():
        run = best(runs)
        per_batch = f"{run.queries / run.batches:,.1f}" if name == "service" and run.batches else "-"
        lines.append(
            (
                name,
                f"{run.rows:,}",
                f"{run.seconds:.3f}",
                f"{statistics.median(r.seconds for r in runs):.3f}",
                f"{run.rows / run.seconds:,.0f}",
                f"{run.queries:,}",
                per_batch,
                f"{run.db_seconds:.3f}",
                f"{baseline / run.seconds:.2f}×" if baseline else "-",
            )
        )
    return format_table(header, lines)


def profile(run: Run, *, top: int = 8) -> str:
    lines = [
        f"{run.contender}: {run.seconds:.3f} s = {run.db_seconds:.3f} s in the database driver "
        f"+ {run.seconds - run.db_seconds:.3f} s in Python ({run.batches} batches)",
    ]
    for shape, (count, seconds) in sorted(run.by_shape.items(), key=lambda kv: kv[1][1], reverse=True)[:top]:
        lines.append(f"  {seconds:8.3f} s  {count:7,} × {shape}")
    if run.python_profile:
        lines.append(f"  cProfile of {run.contender} (timings inflated by the profiler):")
        lines.extend("    " + line for line in run.python_profile.strip().splitlines())
    return "\n".join(lines)


def environment(*, batch_size: int) -> str:
    from django.conf import settings

    return server_line(f"mail {settings.EMAIL_BACKEND}; batch size {batch_size}")


# -- Command line ------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Outbox benchmark: notifications.events.emails_send_batch vs a naive per-message loop.",
    )
    parser.add_argument("--rows", type=int, default=TARGET_ROWS, help="pending outbox rows (default 10000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per contender; the best is reported")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="messages per batch (default OUTBOX_BATCH_SIZE)"
    )
    parser.add_argument("--only", choices=sorted(CONTENDERS), action="append", help="run only this contender")
    parser.add_argument("--profile", action="store_true", help="print queries by shape, database vs Python")
    parser.add_argument("--cprofile", action="store_true", help="also run cProfile (implies --profile)")
    parser.add_argument("--allow-sqlite", action="store_true", help="permit a SQLite file named *bench*")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1 or (args.batch_size is not None and args.batch_size < 1):
        parser.error("--rows, --repeat and --batch-size must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        django_setup()  # locmem mail ("memorymail://"), no broker, DEBUG off
        from django.conf import settings

        prepare_database(allow_sqlite=args.allow_sqlite)
        batch_size = args.batch_size or settings.OUTBOX_BATCH_SIZE
        print(environment(batch_size=batch_size))

        contenders = [name for name in CONTENDERS if not args.only or name in args.only]
        results: dict[str, list[Run]] = {name: [] for name in contenders}
        for attempt in range(1, args.repeat + 1):
            for name in contenders:
                run = measure(name, rows=args.rows, batch_size=batch_size, cprofile=args.cprofile)
                results[name].append(run)
                print(
                    f"  run {attempt}/{args.repeat} {name:<10} {run.seconds:8.3f} s  "
                    f"{run.queries:7,} queries  end state ok",
                    flush=True,
                )
        wipe()
    except BenchError as error:
        print(f"bench/outbox.py: {error}", file=sys.stderr)
        return error.status

    print()
    print(table(results))
    if args.profile or args.cprofile:
        print()
        for runs in results.values():
            print(profile(best(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
