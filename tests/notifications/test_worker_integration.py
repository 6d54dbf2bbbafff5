"""A real Celery worker on the local Redis allocates restocked units (issue 4, "Real wiring").

Nothing is mocked: checkout and stock_receive run in the test process, the after-commit
stock_freed signal publishes allocate_product to Redis, and a `celery -A config worker`
process on the test database does the allocation.
"""

import pytest

from inventory.models import Stock
from inventory.selectors import stock_drift
from notifications.tasks import allocation_sweep
from orders.models import OrderRow, RowStatus
from orders.selectors import products_needing_allocation
from orders.services import CartLine, Customer, checkout_place_order
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.inventory.factories import SourceFactory
from tests.workers import wait_until

from .conftest import units_by_origin

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ALLOCATION_TIMEOUT = 30.0


def backorder(product, quantity: int, n: int = 0) -> OrderRow:
    customer = Customer(email=f"c{n}@example.com", full_name=f"Customer {n}", address="1 Queue Street")
    return checkout_place_order(lines=[CartLine(product.pk, quantity)], customer=customer).rows.get()


def allocated_units(product) -> int:
    return Stock.objects.filter(product=product).values_list("allocated", flat=True).first() or 0


def test_the_worker_allocates_received_stock_to_waiting_rows_in_queue_order(celery_workers, invariants):
    main = SourceFactory(code="main", priority=1)
    product = ProductFactory(backorderable=True)
    rows = [backorder(product, 2, n) for n in range(4)]
    assert {row.status for row in rows} == {RowStatus.BACKORDERED}
    worker = celery_workers.worker()

    receive(product, 5, main)  # after commit: allocate_product goes to Redis

    wait_until(lambda: allocated_units(product) == 5, timeout=ALLOCATION_TIMEOUT, what="the worker")
    first, second, third, fourth = (row.pk for row in rows)
    # First come, first served; the third line is split: 1 unit ships, 1 waits.
    assert units_by_origin(product.pk) == {first: 2, second: 2, third: 1}
    assert units_by_origin(product.pk, RowStatus.BACKORDERED) == {third: 1, fourth: 2}
    assert Stock.objects.get(product=product).on_hand == 5
    assert stock_drift() == []
    invariants()
    # The worker's own record of the job (not the task list it prints at start-up).
    results = wait_until(
        lambda: worker.results("notifications.tasks.allocate_product"), timeout=10, what="the job's result"
    )
    assert list(results.values()) == [[{"product_id": product.pk, "rows": 3, "units": 5, "batches": 1}]]


def test_the_sweep_run_by_the_worker_finds_a_product_whose_trigger_was_lost(
    celery_workers, no_allocation_trigger, invariants
):
    main = SourceFactory(code="main")
    product = ProductFactory(backorderable=True)
    rows = [backorder(product, 1, n) for n in range(3)]
    with no_allocation_trigger():
        receive(product, 2, main)  # free stock, waiting rows, and nobody told
    assert products_needing_allocation() == [product.pk]
    celery_workers.worker()

    allocation_sweep.delay()

    wait_until(lambda: allocated_units(product) == 2, timeout=ALLOCATION_TIMEOUT, what="the sweep")
    assert units_by_origin(product.pk) == {rows[0].pk: 1, rows[1].pk: 1}
    assert products_needing_allocation() == []
    invariants()


def test_beat_schedules_the_sweep_on_the_worker(celery_workers, no_allocation_trigger, invariants):
    main = SourceFactory(code="main")
    product = ProductFactory(backorderable=True)
    row = backorder(product, 3)
    with no_allocation_trigger():
        receive(product, 3, main)
    celery_workers.worker()

    # The production beat schedule, with the sweep every second and the rest out of the way.
    beat = celery_workers.beat(
        ALLOCATION_SWEEP_SECONDS="1", PREORDER_RELEASE_SECONDS="3600", RESTOCK_IMPORT_SECONDS="3600"
    )

    wait_until(lambda: allocated_units(product) == 3, timeout=ALLOCATION_TIMEOUT, what="beat's sweep")
    assert units_by_origin(product.pk) == {row.pk: 3}
    assert (
        "Scheduler: Sending due task allocation-sweep (notifications.tasks.allocation_sweep)" in beat.output()
    )
    invariants()


def test_a_file_dropped_in_the_inbox_is_imported_and_allocated_by_the_worker(celery_workers, invariants):
    main = SourceFactory(code="main")
    product = ProductFactory(backorderable=True)
    row = backorder(product, 2)
    celery_workers.worker()
    inbox = celery_workers.import_dir
    (inbox / "po-77.csv").write_text(f"source,sku,quantity,reference\nmain,{product.sku},2,PO-77\n")

    from notifications.tasks import import_restock_files

    import_restock_files.delay()

    # The worker applies the file; its own after-commit trigger queues the allocation.
    wait_until(lambda: allocated_units(product) == 2, timeout=ALLOCATION_TIMEOUT, what="import + allocation")
    assert units_by_origin(product.pk) == {row.pk: 2}
    assert Stock.objects.get(product=product, source=main).on_hand == 2
    assert (inbox / "done" / "po-77.csv").exists()
    invariants()
