"""How long the worker's longest jobs run: the figures the broker's visibility timeout
(CELERY_VISIBILITY_TIMEOUT) is chosen from.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/restock_bench \\
        .venv/bin/python bench/jobs.py [--rows 10000] [--rows 30000]

Each job runs as the worker runs it (the task's own function, in-process), with every
reaction the shop has (the allocation writes the customers' emails to the outbox):

- allocate_product: ``--rows`` waiting rows of one unit, a restock covering them all
  (allocation in batches of 1,000, then the promise walk);
- refresh_promises: the same ``--rows`` rows still waiting (the walk alone);
- notify_back_in_stock: ``--rows`` subscribers, as many units in stock;
- send_outbox: one run over ``--rows`` pending messages (it stops after 50 batches of
  OUTBOX_BATCH_SIZE, or after half the outbox lease) to an in-memory mail backend; a
  real mail server adds its reply time per message, bounded as the README says.

Same safety rules as the other benchmarks (bench/common.py): the database name must
contain "bench" (tables are truncated), no broker and no mail server are reached. The
data comes from the builders of bench/allocation.py and bench/outbox.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file: the repository root

from bench.allocation import build_waiting_rows  # noqa: E402
from bench.common import positive, run_main, setup_quiet, start, wipe  # noqa: E402
from bench.outbox import build_pending  # noqa: E402


def timed(job, *args) -> tuple[float, object]:
    started = time.perf_counter()
    result = job(*args)
    return time.perf_counter() - started, result


def backlog(rows: int) -> list[tuple[str, float, object]]:
    from notifications.tasks import allocate_product, refresh_promises

    wipe()
    product_id = build_waiting_rows(rows=rows)
    out = [("refresh_promises", *timed(refresh_promises, product_id))]
    out.append(("allocate_product", *timed(allocate_product, product_id)))
    return out


def waitlist(rows: int) -> list[tuple[str, float, object]]:
    from django.utils import timezone

    from catalog.models import Product
    from inventory.models import Source
    from inventory.services import stock_receive
    from notifications.models import Subscription
    from notifications.tasks import notify_back_in_stock

    wipe()
    with setup_quiet():
        source = Source.objects.create(code="bench-main", name="Bench warehouse", priority=1)
        product = Product.objects.create(sku="BENCH-2", name="Bench lamp", slug="bench-lamp", price="9.90")
        now = timezone.now()
        Subscription.objects.bulk_create(
            Subscription(product=product, email=f"fan{n}@bench.invalid", created_at=now) for n in range(rows)
        )
        stock_receive(source=source, product=product, quantity=rows, reference="BENCH-RESTOCK-2")
    return [("notify_back_in_stock", *timed(notify_back_in_stock, product.pk))]


def outbox(rows: int) -> list[tuple[str, float, object]]:
    from notifications.tasks import send_outbox

    wipe()
    build_pending(rows=rows)
    return [("send_outbox", *timed(send_outbox))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows", type=positive, action="append", help="rows per job (repeatable); default 10000"
    )
    args = parser.parse_args(argv)
    start(allow_sqlite=False)
    print(f"{'job':<22} {'rows':>7} {'seconds':>8}  result")
    for rows in args.rows or [10_000]:
        for name, seconds, result in [*backlog(rows), *waitlist(rows), *outbox(rows)]:
            shown = result if not isinstance(result, list) else f"{len(result)} items"
            print(f"{name:<22} {rows:>7,} {seconds:>8.2f}  {shown}", flush=True)
    wipe()
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
