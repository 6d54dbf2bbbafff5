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

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file: the repository root

from bench.common import (  # noqa: E402
    TIMING_HEADER,
    BenchError,
    Run,
    bench_parser,
    best,
    format_table,
    measuring,
    positive,
    run_contenders,
    run_main,
    server_line,
    start,
    timing_cells,
    where_time_went,
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
class OutboxRun(Run):
    batches: int = 1


def measure(contender: str, *, rows: int, batch_size: int, cprofile: bool = False) -> OutboxRun:
    from django.core import mail

    wipe()
    build_pending(rows=rows)
    mail.outbox = []
    run = OutboxRun(contender, rows)
    with measuring(run, cprofile=cprofile):
        drained = CONTENDERS[contender](batch_size=batch_size)
    if drained.sent != rows:
        raise BenchError(f"{contender} sent {drained.sent} messages, expected {rows}")
    check_end_state(rows=rows)
    mail.outbox = []
    run.batches = drained.batches
    return run


# -- Reporting ---------------------------------------------------------------------


def table(results: dict[str, list[OutboxRun]]) -> str:
    baseline = best(results["naive loop"]).seconds if "naive loop" in results else None
    header = (*TIMING_HEADER, "per batch", "db s", "vs naive")
    lines = []
    for name, runs in results.items():
        run = best(runs)
        per_batch = f"{run.queries / run.batches:,.1f}" if name == "service" and run.batches else "-"
        lines.append(
            (
                *timing_cells(name, runs),
                per_batch,
                f"{run.db_seconds:.3f}",
                f"{baseline / run.seconds:.2f}×" if baseline else "-",
            )
        )
    return format_table(header, lines)


def environment(*, batch_size: int) -> str:
    from django.conf import settings

    return server_line(f"mail {settings.EMAIL_BACKEND}; batch size {batch_size}")


# -- Command line ------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(
        "Outbox benchmark: notifications.events.emails_send_batch vs a naive per-message loop.", CONTENDERS
    )
    parser.add_argument(
        "--rows", type=positive, default=TARGET_ROWS, help="pending outbox rows (default 10000)"
    )
    parser.add_argument(
        "--batch-size", type=positive, default=None, help="messages per batch (default OUTBOX_BATCH_SIZE)"
    )
    args = parser.parse_args(argv)
    start(allow_sqlite=args.allow_sqlite)  # locmem mail ("memorymail://"), no broker, DEBUG off
    from django.conf import settings

    batch_size = args.batch_size or settings.OUTBOX_BATCH_SIZE
    print(environment(batch_size=batch_size))
    results = run_contenders(
        CONTENDERS,
        only=args.only,
        repeat=args.repeat,
        measure=lambda name: measure(name, rows=args.rows, batch_size=batch_size, cprofile=args.cprofile),
    )

    print()
    print(table(results))
    if args.profile or args.cprofile:
        print()
        for runs in results.values():
            print(where_time_went(best(runs), note=f" ({best(runs).batches} batches)"))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
