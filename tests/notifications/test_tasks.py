"""The Celery tasks and the after-commit triggers, run eagerly (any database).

Each task calls its service; every change that frees stock queues the allocation only
after it commits; a broker that is down or silent costs the change a few seconds at
most and nothing else (the sweep allocates later).
"""

import logging
import socket
import time
from contextlib import contextmanager

import pytest
from django.utils import timezone

from catalog.models import Product
from inventory.models import MovementKind, RestockImport, Stock, StockMovement
from inventory.selectors import stock_drift
from inventory.services import stock_count, stock_return
from notifications.tasks import allocate_product, allocation_sweep, import_restock_files, release_preorders
from orders.models import OrderRow, RowEvent, RowStatus
from orders.selectors import products_needing_allocation
from orders.services import CartLine, Customer, checkout_place_order, row_cancel
from tests.catalog.factories import ProductFactory
from tests.helpers import celery_publishing, receive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager")]

HEADER = "source,sku,quantity,reference\n"


def backorder(product, quantity: int, n: int = 0) -> OrderRow:
    customer = Customer(email=f"c{n}@example.com", full_name=f"Customer {n}", address="1 Queue Street")
    return checkout_place_order(lines=[CartLine(product.pk, quantity)], customer=customer).rows.get()


def on_hand(product) -> int:
    return sum(Stock.objects.filter(product=product).values_list("on_hand", flat=True))


# -- Each task calls its service. (Plain django_db tests never commit, so the
#    after-commit trigger stays silent until a test captures it.) --


def test_allocate_product_allocates_and_returns_the_counts(main):
    product = ProductFactory(backorderable=True)
    rows = [backorder(product, 2, n) for n in range(3)]
    receive(product, 5, main)

    result = allocate_product.delay(product.pk).get()

    assert result == {"product_id": product.pk, "rows": 3, "units": 5, "batches": 1}
    assert [r.status for r in OrderRow.objects.filter(product=product).order_by("pk")] == [
        RowStatus.ALLOCATED,
        RowStatus.ALLOCATED,
        RowStatus.BACKORDERED,  # the third line, split: 1 waits...
        RowStatus.ALLOCATED,  # ...1 ships
    ]
    assert rows[2].splits.get().quantity == 1
    # Safe to run twice: nothing left to give.
    assert allocate_product.delay(product.pk).get() == {
        "product_id": product.pk,
        "rows": 0,
        "units": 0,
        "batches": 0,
    }


def test_allocation_sweep_allocates_wherever_free_stock_and_waiting_rows_coexist(main):
    lost = ProductFactory(backorderable=True)
    row = backorder(lost, 1)
    receive(lost, 1, main)  # free stock, a waiting row, and no trigger
    backorder(ProductFactory(backorderable=True), 1)  # waiting, but nothing to give

    assert allocation_sweep.delay().get() == [lost.pk]

    row.refresh_from_db()
    assert (row.status, row.source) == (RowStatus.ALLOCATED, main)
    assert allocation_sweep.delay().get() == []


def test_release_preorders_releases_products_whose_date_has_come(main):
    product = ProductFactory(backorderable=True, preorder=True)
    first, second = backorder(product, 1), backorder(product, 1, 1)
    assert first.status == second.status == RowStatus.PREORDERED
    receive(product, 1, main)
    assert release_preorders.delay().get() == []

    Product.objects.filter(pk=product.pk).update(release_date=timezone.localdate())

    assert release_preorders.delay().get() == [product.pk]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (RowStatus.ALLOCATED, RowStatus.BACKORDERED)
    assert release_preorders.delay().get() == []


def test_import_restock_files_applies_each_file_whole_and_once(settings, tmp_path, main):
    settings.RESTOCK_IMPORT_DIR = tmp_path
    product = ProductFactory()
    good = f"{HEADER}main,{product.sku},4,PO-1\n"
    (tmp_path / "a-good.csv").write_text(good)
    (tmp_path / "b-bad.csv").write_text(f"{HEADER}main,{product.sku},3,PO-2\nnowhere,NOPE,x,\n")

    outcomes = import_restock_files.delay().get()

    assert [(o["filename"], o["status"]) for o in outcomes] == [
        ("a-good.csv", "applied"),
        ("b-bad.csv", "failed"),
    ]
    assert on_hand(product) == 4  # the bad file's good line was not applied either
    assert not list(tmp_path.glob("*.csv"))  # the inbox is empty
    assert (tmp_path / "done" / "a-good.csv").read_text() == good
    assert (tmp_path / "failed" / "b-bad.csv").exists()
    report = (tmp_path / "failed" / "b-bad.csv.errors.txt").read_text()
    assert "nothing was applied" in report
    assert "line 3: unknown source 'nowhere'; unknown SKU 'NOPE'" in report
    assert "missing reference" in report

    # The same file dropped again: recognised by its content, moved aside, not applied.
    (tmp_path / "a-good.csv").write_text(good)
    assert [(o["filename"], o["status"]) for o in import_restock_files.delay().get()] == [
        ("a-good.csv", "duplicate")
    ]
    assert on_hand(product) == 4
    assert StockMovement.objects.filter(product=product, kind=MovementKind.RECEIPT).count() == 1
    assert RestockImport.objects.filter(status=RestockImport.Status.APPLIED).count() == 1
    assert len(list((tmp_path / "done").glob("a-good*.csv"))) == 2
    assert import_restock_files.delay().get() == []  # an empty inbox


def test_import_restock_files_without_an_inbox_does_nothing(settings, tmp_path):
    settings.RESTOCK_IMPORT_DIR = tmp_path / "not-there"
    assert import_restock_files.delay().get() == []


# -- Every change that frees stock queues the allocation, after it commits. --


def _received(product, main):
    waiting = backorder(product, 1)
    return waiting, lambda: receive(product, 1, main)


def _allocated_row_cancelled(product, main):
    receive(product, 1, main)
    holder = backorder(product, 1)
    assert holder.status == RowStatus.ALLOCATED
    return backorder(product, 1, 1), lambda: row_cancel(row_ids=[holder.pk])


def _counted_up(product, main):
    receive(product, 2, main)
    backorder(product, 2)  # takes both units
    return backorder(product, 1, 1), lambda: stock_count(source=main, product=product, counted=3)


def _returned(product, main):
    receive(product, 1, main)
    backorder(product, 1)
    waiting = backorder(product, 1, 1)
    return waiting, lambda: stock_return(source=main, product=product, quantity=1, reference="RMA-1")


@pytest.mark.parametrize(
    "freeing", [_received, _allocated_row_cancelled, _counted_up, _returned], ids=lambda f: f.__name__[1:]
)
def test_stock_freed_allocates_waiting_rows_after_commit(freeing, main, django_capture_on_commit_callbacks):
    product = ProductFactory(backorderable=True)
    waiting, free_a_unit = freeing(product, main)
    assert waiting.status == RowStatus.BACKORDERED

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        free_a_unit()
        waiting.refresh_from_db()
        assert waiting.status == RowStatus.BACKORDERED  # nothing is queued before the commit

    assert callbacks
    waiting.refresh_from_db()
    assert (waiting.status, waiting.source) == (RowStatus.ALLOCATED, main)
    assert stock_drift() == []


# -- A broker that is down or silent: the change commits, the receiver logs. --


@contextmanager
def unreachable_broker(kind: str):
    if kind == "refusing":  # nothing listens: the connection is refused at once
        yield "redis://127.0.0.1:1/0"
        return
    # "silent": accepts connections (the kernel's backlog) and never answers.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"


@pytest.mark.parametrize("kind", ["refusing", "silent"])
def test_an_unreachable_broker_costs_a_receipt_seconds_and_the_sweep_catches_up(
    kind, main, caplog, django_capture_on_commit_callbacks
):
    product = ProductFactory(backorderable=True)
    waiting = backorder(product, 1)

    with unreachable_broker(kind) as url, celery_publishing(broker_url=url, eager=False):
        started = time.monotonic()
        with (
            caplog.at_level(logging.WARNING, logger="notifications.receivers"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            receive(product, 1, main)  # must not raise
        elapsed = time.monotonic() - started

    assert elapsed < 12, f"the trigger blocked for {elapsed:.1f}s"
    lost = f"Broker unreachable; product {product.pk} left for the allocation and waitlist sweeps"
    assert lost in caplog.text
    assert on_hand(product) == 1
    waiting.refresh_from_db()
    assert waiting.status == RowStatus.BACKORDERED
    # The broker is back (eager here): the periodic sweep does what the trigger could not.
    assert products_needing_allocation() == [product.pk]
    assert allocation_sweep.delay().get() == [product.pk]
    waiting.refresh_from_db()
    assert waiting.status == RowStatus.ALLOCATED


def test_the_invariant_checker_catches_a_drifted_counter_and_a_queue_jump(main, invariants):
    product = ProductFactory(backorderable=True)
    first, second = backorder(product, 1), backorder(product, 1, 1)
    receive(product, 1, main)
    allocate_product.delay(product.pk)
    invariants()

    Stock.objects.filter(product=product).update(allocated=0)
    with pytest.raises(AssertionError, match="counter != its rows"):
        invariants()
    Stock.objects.filter(product=product).update(allocated=1)

    # The unit goes to the second row instead: a later row served while the first waits.
    OrderRow.objects.filter(pk=first.pk).update(status=RowStatus.BACKORDERED, source=None)
    OrderRow.objects.filter(pk=second.pk).update(status=RowStatus.ALLOCATED, source=main)
    RowEvent.objects.filter(row=first, to_status=RowStatus.ALLOCATED).update(row=second)
    with pytest.raises(AssertionError, match="a later row was served first"):
        invariants()
