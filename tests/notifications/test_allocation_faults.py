"""Allocation under faults on PostgreSQL: races between real threads, and a real worker
killed with SIGKILL in the middle of an allocation. After each, every invariant holds
(the ``invariants`` fixture): allocated <= on hand and equal to the rows at each source,
no unit given twice, queue order kept, ledger reconciled.
"""

import datetime as dt
import threading
import time

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from catalog.models import Sourcing
from inventory.models import Stock
from orders.models import Order, OrderRow, RowEvent, RowStatus
from orders.services import CartLine, Customer, backorders_allocate, checkout_place_order, row_cancel
from orders.services.allocation import BATCH_SIZE
from tests.catalog.factories import ProductFactory, global_settings_set
from tests.helpers import celery_publishing, receive
from tests.inventory.factories import SourceFactory
from tests.workers import RESTORE_SECONDS, VISIBILITY_TIMEOUT, wait_until

from .conftest import units_by_origin

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def place(product, quantity: int, n: int = 0) -> OrderRow:
    customer = Customer(email=f"c{n}@example.com", full_name=f"Customer {n}", address="1 Queue Street")
    return checkout_place_order(lines=[CartLine(product.pk, quantity)], customer=customer).rows.get()


def race(*jobs, timeout: float = 60.0) -> list[str]:
    """Run each job in its own thread, released together by a barrier; the errors they raised."""
    barrier = threading.Barrier(len(jobs))
    errors: list[str] = []

    def run(job):
        try:
            barrier.wait(timeout=10)
            job()
        except Exception as exc:  # noqa: BLE001 - a deadlock or constraint error is the failure to report
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a racing thread hung"
    return errors


def stock_of(product) -> tuple[int, int]:
    totals = Stock.objects.filter(product=product).values_list("on_hand", "allocated")
    return tuple(map(sum, zip(*totals, strict=True))) if totals else (0, 0)


@pytest.mark.parametrize("round_no", range(3))
def test_two_allocation_jobs_and_a_cancellation_racing(round_no, no_allocation_trigger, invariants):
    main = SourceFactory(code="main", priority=1)
    overflow = SourceFactory(code="overflow", priority=2)
    product = ProductFactory(backorderable=True)
    receive(product, 2, main)
    holder = place(product, 2)  # allocated at checkout, from main
    waiting = [place(product, 2, n) for n in range(1, 7)]
    assert holder.status == RowStatus.ALLOCATED
    assert {row.status for row in waiting} == {RowStatus.BACKORDERED}
    with no_allocation_trigger():
        receive(product, 5, overflow)  # free units nobody has allocated yet

    # Two jobs for the same product, and a merchant cancelling the allocated row (its
    # after-commit trigger runs a third allocation, eagerly, in the cancelling thread).
    errors = race(
        lambda: backorders_allocate(product_id=product.pk),
        lambda: backorders_allocate(product_id=product.pk),
        lambda: row_cancel(row_ids=[holder.pk]),
    )

    assert errors == []
    # 5 received + 2 released = 7 units, first come first served, the 4th line split.
    w = [row.pk for row in waiting]
    assert units_by_origin(product.pk) == {w[0]: 2, w[1]: 2, w[2]: 2, w[3]: 1}
    assert units_by_origin(product.pk, RowStatus.BACKORDERED) == {w[3]: 1, w[4]: 2, w[5]: 2}
    assert stock_of(product) == (7, 7)
    holder.refresh_from_db()
    assert holder.status == RowStatus.CANCELLED
    invariants()


@pytest.mark.parametrize("sourcing", [Sourcing.PRIORITY, Sourcing.FEWEST_SHIPMENTS])
def test_two_allocations_of_a_long_queue_at_once_give_each_unit_once(
    sourcing, no_allocation_trigger, invariants
):
    """The set-based path (queue read as tuples, moves and events in one statement per
    group) under two jobs at once: batches of 4 rows over two sources, rows of 1-3 units."""
    global_settings_set(sourcing=sourcing)
    main = SourceFactory(code="main", priority=1)
    overflow = SourceFactory(code="overflow", priority=2)
    product = ProductFactory(backorderable=True)
    waiting = [place(product, 1 + n % 3, n) for n in range(24)]  # 48 units waiting
    with no_allocation_trigger():
        receive(product, 17, main)
        receive(product, 12, overflow)

    errors = race(*[lambda: backorders_allocate(product_id=product.pk, batch_size=4)] * 2)

    assert errors == []
    # First come, first served whatever the sources: 29 units to the first rows, the
    # 15th row (3 units) split 2 + 1.
    expected, left = {}, 29
    for row in waiting:
        if left:
            expected[row.pk] = min(row.quantity, left)
            left -= expected[row.pk]
    assert units_by_origin(product.pk) == expected
    assert stock_of(product) == (29, 29)
    allocated = OrderRow.objects.filter(product=product, status=RowStatus.ALLOCATED)
    events = RowEvent.objects.filter(row__product=product, to_status=RowStatus.ALLOCATED)
    assert sorted(events.values_list("row_id", "quantity")) == sorted(allocated.values_list("pk", "quantity"))
    invariants()


@pytest.mark.parametrize("round_no", range(3))
def test_checkouts_racing_a_restock_never_take_the_units_waiting_rows_are_entitled_to(
    round_no, no_allocation_trigger, invariants
):
    main = SourceFactory(code="main")
    product = ProductFactory(backorderable=True)
    old = [place(product, 1, n) for n in range(12)]
    assert {row.status for row in old} == {RowStatus.BACKORDERED}
    threads, per_thread = 8, 2
    new_rows: list[int] = []

    def restock():
        # The worst case: the units are on the shelf (committed) and not yet allocated.
        with no_allocation_trigger():
            receive(product, len(old), main)
        time.sleep(0.05)
        backorders_allocate(product_id=product.pk)

    def shopper(n: int):
        for k in range(per_thread):
            new_rows.append(place(product, 1, 100 + n * per_thread + k).pk)

    errors = race(restock, *(lambda n=n: shopper(n) for n in range(threads)))

    assert errors == []
    assert len(new_rows) == threads * per_thread
    # Every old row got its unit; no new order took one (all of them wait behind).
    assert units_by_origin(product.pk) == {row.pk: 1 for row in old}
    assert set(OrderRow.objects.filter(pk__in=new_rows).values_list("status", flat=True)) == {
        RowStatus.BACKORDERED
    }
    assert stock_of(product) == (12, 12)
    invariants()


# -- A worker killed with SIGKILL in the middle of an allocation. --


def _psycopg_connect() -> psycopg.Connection:
    db = settings.DATABASES["default"]
    params = {
        "dbname": db["NAME"],
        "user": db.get("USER"),
        "password": db.get("PASSWORD"),
        "host": db.get("HOST"),
        "port": db.get("PORT"),
    }
    return psycopg.connect(**{k: v for k, v in params.items() if v})


def _blocked_by(pid: int, statement: str) -> tuple | None:
    """(pid, query) of a backend running ``statement...`` and waiting for a lock that
    backend ``pid`` holds, if any (the allocation's own statement: another job blocked on
    the same lock must not be taken for it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, query FROM pg_stat_activity "
            "WHERE datname = current_database() AND %s = ANY(pg_blocking_pids(pid)) "
            "AND starts_with(query, %s)",
            [pid, statement],
        )
        return cursor.fetchone()


def _backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


# Where the killed worker is frozen, by a lock the test holds from its own session:
# - "mid-transaction": SHARE on the order rows table lets the allocation lock its rows and
#   write the stock counters, then blocks its UPDATE of the rows' status. Killed there,
#   nothing may survive and the redelivered job does all the work.
# - "at commit": the split row's foreign key to its order is checked at COMMIT (Django's
#   constraints are DEFERRABLE INITIALLY DEFERRED) with FOR KEY SHARE; holding the order
#   FOR UPDATE blocks the COMMIT itself. The server finishes that commit when released
#   although the client is dead, but the job was never acknowledged: the redelivered
#   job must find nothing left to do.
FREEZE = {
    "mid-transaction": (
        "LOCK TABLE orders_orderrow IN SHARE MODE",
        "WITH moved AS (",  # orders.services.rows: the rows' move with their events
        False,
    ),
    "at-commit": ("SELECT id FROM orders_order WHERE id = %(order)s FOR UPDATE", "COMMIT", True),
}
ALLOCATE = "notifications.tasks.allocate_product"


@pytest.mark.redis
@pytest.mark.parametrize("frozen", FREEZE)
def test_a_worker_killed_mid_allocation_leaves_nothing_half_done_and_the_job_is_redone(
    frozen, celery_workers, broker_client, invariants
):
    lock_sql, blocked_statement, committed = FREEZE[frozen]
    # Set up with tasks run in-process: the broker then holds only what the restock sends.
    with celery_publishing(broker_url=settings.TEST_BROKER_URL, eager=True):
        main = SourceFactory(code="main")
        product = ProductFactory(backorderable=True)
        rows = [place(product, 2, n) for n in range(3)]
    split = rows[2]  # 5 units: 2 + 2 + 1 of the third line, which must be split
    worker = celery_workers.worker()

    with _psycopg_connect() as holder:
        holder.execute(lock_sql, {"order": split.order_id})
        receive(product, 5, main)  # after commit: allocate_product goes to Redis

        pid, query = wait_until(
            lambda: _blocked_by(holder.info.backend_pid, blocked_statement),
            timeout=30,
            what=f"the allocation to block on {blocked_statement!r}",
        )
        (job,) = worker.received(ALLOCATE)  # the job that is frozen is the allocation

        worker.kill()  # SIGKILL the prefork parent and its child together
        assert not worker.alive()
        assert broker_client.hlen("unacked") == 1  # acks_late: the job was never acknowledged
        holder.rollback()  # release the lock; the dead worker's session ends

    wait_until(lambda: not _backend_alive(pid), timeout=30, what="the killed session to end")
    # All or nothing: never a half-applied batch.
    done = {rows[0].pk: 2, rows[1].pk: 2, split.pk: 1}
    allocated_events = RowEvent.objects.filter(row__product=product, to_status=RowStatus.ALLOCATED)
    if committed:
        assert (stock_of(product), units_by_origin(product.pk)) == ((5, 5), done)
        assert allocated_events.count() == 3
    else:
        assert stock_of(product) == (5, 0)
        assert set(OrderRow.objects.filter(product=product).values_list("pk", "status", "quantity")) == {
            (row.pk, RowStatus.BACKORDERED, 2) for row in rows
        }
        assert not allocated_events.exists()

    # A new worker gets the job back once its visibility timeout has passed (kombu
    # restores unacked jobs when a worker starts, then every RESTORE_SECONDS).
    delivered_at = broker_client.zrange("unacked_index", 0, 0, withscores=True)[0][1]
    time.sleep(max(0.0, delivered_at + VISIBILITY_TIMEOUT + 0.5 - time.time()))
    restarted = celery_workers.worker()

    # The signal: the redelivered job's own result, logged by the worker that ran it.
    (result,) = wait_until(
        lambda: restarted.results(ALLOCATE).get(job), timeout=30, what="the redelivered job's result"
    )
    # Committed before the kill: nothing left to give. Rolled back: all of it, now.
    assert result == {
        "product_id": product.pk,
        "rows": 0 if committed else 3,
        "units": 0 if committed else 5,
        "batches": 0 if committed else 1,
    }
    assert stock_of(product) == (5, 5)
    assert units_by_origin(product.pk) == done
    assert units_by_origin(product.pk, RowStatus.BACKORDERED) == {split.pk: 1}
    assert allocated_events.count() == 3  # each row served once, by one of the two runs
    invariants()


# -- A worker killed during a large allocation, and only the worker restarted. --

LARGE = 6 * BATCH_SIZE
# Allowance for the redelivered job itself (half the rows, their emails, the promise walk)
# on a loaded 2-core machine; the rest of the bound is the broker's (README, "What a crash
# costs"): the visibility timeout, then at most one restore interval.
JOB_SECONDS = 60


def backlog(product, rows: int) -> list[OrderRow]:
    """``rows`` orders of one unit waiting on backorder, in queue order, written in bulk
    (with their "placed" events, as checkout writes them)."""
    start = timezone.now() - dt.timedelta(days=1)
    orders = Order.objects.bulk_create(
        Order(
            number=f"BIG{n:07d}",
            email=f"c{n}@example.com",
            full_name=f"Customer {n}",
            address="1 Queue Street",
            placed_at=start + dt.timedelta(seconds=n),
        )
        for n in range(rows)
    )
    created = OrderRow.objects.bulk_create(
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
    )
    RowEvent.objects.bulk_create(
        RowEvent(row=row, from_status="", to_status=RowStatus.BACKORDERED, quantity=1) for row in created
    )
    return created


@pytest.mark.redis
def test_a_worker_killed_during_a_large_allocation_finishes_after_a_worker_restart_within_the_bound(
    celery_workers, broker_client, invariants
):
    with celery_publishing(broker_url=settings.TEST_BROKER_URL, eager=True):
        main = SourceFactory(code="main")
        product = ProductFactory(backorderable=True)
    rows = backlog(product, LARGE)
    worker = celery_workers.worker()

    with _psycopg_connect() as holder:
        # The first row of the fourth batch, locked by the test: three batches commit,
        # the fourth waits on it, and there the worker dies.
        holder.execute("SELECT id FROM orders_orderrow WHERE id = %s FOR UPDATE", [rows[3 * BATCH_SIZE].pk])
        receive(product, LARGE, main)  # after commit: allocate_product goes to Redis
        wait_until(
            lambda: _blocked_by(holder.info.backend_pid, 'SELECT "orders_orderrow"'),
            timeout=120,
            what="the allocation to reach its fourth batch",
        )
        (job,) = worker.received(ALLOCATE)
        worker.kill()
        holder.rollback()

    # Three whole batches survive the crash, nothing of the fourth.
    assert stock_of(product) == (LARGE, 3 * BATCH_SIZE)
    assert OrderRow.objects.filter(product=product, status=RowStatus.ALLOCATED).count() == 3 * BATCH_SIZE
    assert broker_client.hlen("unacked") == 1  # the job, never acknowledged
    delivered_at = broker_client.zrange("unacked_index", 0, 0, withscores=True)[0][1]

    # The worker only, at once: no beat, so no sweep; the job comes back by the broker's
    # visibility timeout, found at start-up or by the worker's periodic look.
    restarted = celery_workers.worker(CELERY_RESTORE_SECONDS=str(RESTORE_SECONDS))

    bound = VISIBILITY_TIMEOUT + RESTORE_SECONDS + JOB_SECONDS
    result, *again = wait_until(
        lambda: restarted.results(ALLOCATE).get(job),
        timeout=max(1.0, delivered_at + bound - time.time()),
        what=f"the job, redelivered and finished within {bound}s of its first delivery",
    )
    assert result == {"product_id": product.pk, "rows": LARGE // 2, "units": LARGE // 2, "batches": 3}
    # Running longer than the (test's) visibility timeout, the job may be handed out once
    # more meanwhile: harmless, that run finds nothing left to do.
    assert all(other["units"] == 0 for other in again)
    assert stock_of(product) == (LARGE, LARGE)
    assert not OrderRow.objects.filter(product=product, status=RowStatus.BACKORDERED).exists()
    invariants()
