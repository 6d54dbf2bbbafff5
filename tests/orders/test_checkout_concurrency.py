"""Checkouts racing on PostgreSQL: real processes and threads, real row locks."""

import multiprocessing
import random
import threading
from collections import Counter

import pytest
from django.db import connection, connections
from django.db.models import Sum

from catalog.models import Product
from inventory.models import Stock
from orders.exceptions import CheckoutRefused
from orders.models import Order, OrderRow, RowStatus
from orders.services import CartLine, Customer, checkout_place_order
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.inventory.factories import SourceFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PROCESSES, THREADS, CHECKOUTS = 2, 8, 200


def _checkout_thread(product_id: int, count: int, barrier, outcomes: list) -> None:
    barrier.wait()
    try:
        for n in range(count):
            customer = Customer(email=f"c{n}@example.com", full_name="Racer", address="Track 1")
            try:
                order = checkout_place_order(lines=[CartLine(product_id, 1)], customer=customer)
                outcomes.append(order.rows.get().status)
            except CheckoutRefused as exc:
                outcomes.append(f"refused: {exc}")
            except Exception as exc:  # noqa: BLE001 - a deadlock or constraint error is a failure to report
                outcomes.append(f"error: {type(exc).__name__}: {exc}")
    finally:
        connection.close()


def _checkout_process(product_id: int) -> list[str]:
    """One process: THREADS threads sharing its part of the checkouts."""
    per_thread = CHECKOUTS // PROCESSES // THREADS
    extra = CHECKOUTS // PROCESSES - per_thread * THREADS
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    threads = [
        threading.Thread(
            target=_checkout_thread,
            args=(product_id, per_thread + (1 if i < extra else 0), barrier, outcomes),
        )
        for i in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.parametrize("round_no", range(3))
def test_200_racing_checkouts_allocate_50_backorder_100_and_refuse_the_rest(round_no):
    main, overflow = SourceFactory(code="main", priority=1), SourceFactory(code="overflow", priority=2)
    product = ProductFactory(
        name="Racing Bike", notify=True, use_global_backorder_limit=False, backorder_limit=100
    )
    receive(product, 30, main)
    receive(product, 20, overflow)

    connections.close_all()  # children must not share the parent's socket
    with multiprocessing.get_context("fork").Pool(PROCESSES) as pool:
        outcomes = [o for part in pool.map(_checkout_process, [product.pk] * PROCESSES) for o in part]

    counts = Counter(o if not o.startswith("refused") else "refused" for o in outcomes)
    assert counts == {"allocated": 50, "backordered": 100, "refused": 50}, outcomes
    assert {o for o in outcomes if o.startswith("refused")} == {
        "refused: Racing Bike is no longer taking backorders."
    }
    units = dict(OrderRow.objects.filter(product=product).values_list("status").annotate(Sum("quantity")))
    assert units == {RowStatus.ALLOCATED: 50, RowStatus.BACKORDERED: 100}
    assert Order.objects.count() == 150
    stocks = {s.source.code: (s.on_hand, s.allocated) for s in Stock.objects.select_related("source")}
    assert stocks == {"main": (30, 30), "overflow": (20, 20)}
    # Rows agree with the counters, per source.
    per_source = dict(
        OrderRow.objects.filter(status=RowStatus.ALLOCATED)
        .values_list("source__code")
        .annotate(Sum("quantity"))
    )
    assert per_source == {"main": 30, "overflow": 20}


def test_threads_ordering_the_same_products_in_random_row_order_never_deadlock():
    source = SourceFactory(code="main")
    products = [ProductFactory() for _ in range(3)]
    for product in products:
        receive(product, 100, source)
    threads_n, per_thread = 8, 5
    barrier = threading.Barrier(threads_n)
    errors: list[str] = []
    placed: list[int] = []

    def shopper(seed: int) -> None:
        rng = random.Random(seed)
        barrier.wait()
        try:
            for n in range(per_thread):
                lines = [CartLine(p.pk, rng.randint(1, 2)) for p in rng.sample(products, k=3)]
                customer = Customer(email=f"s{seed}-{n}@example.com", full_name="Shopper", address="x")
                try:
                    placed.append(checkout_place_order(lines=lines, customer=customer).pk)
                except Exception as exc:  # noqa: BLE001 - report deadlocks instead of hiding them
                    errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=shopper, args=(seed,)) for seed in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(placed) == threads_n * per_thread
    for product in Product.objects.filter(pk__in=[p.pk for p in products]):
        ordered = OrderRow.objects.filter(product=product).aggregate(n=Sum("quantity"))["n"]
        assert Stock.objects.get(product=product).allocated == ordered


def test_racing_backorders_on_a_product_with_no_stock_row_respect_the_limit():
    # No stock row to lock: the product row itself serialises the limit check.
    product = ProductFactory(
        name="Drop-ship Tent", notify=True, use_global_backorder_limit=False, backorder_limit=20
    )
    outcomes: list[str] = []
    barrier = threading.Barrier(THREADS)
    threads = [
        threading.Thread(target=_checkout_thread, args=(product.pk, 5, barrier, outcomes))
        for _ in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(outcomes) == {
        "backordered": 20,
        "refused: Drop-ship Tent is no longer taking backorders.": 20,
    }


def test_locking_one_products_stock_does_not_block_another_product_at_the_same_source():
    # The stock lock must cover the stock rows only: locking their source rows too would
    # serialise every checkout that shares a warehouse (and can deadlock across products).
    from django.db import transaction

    from inventory.services import stock_lock

    source = SourceFactory(code="main")
    held, other = ProductFactory(), ProductFactory(name="Other Lamp")
    receive(held, 5, source)
    receive(other, 5, source)
    locked, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        try:
            with transaction.atomic():
                stock_lock(product_ids=[held.pk])
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")  # blocked -> LockNotAvailable
            order = checkout_place_order(
                lines=[CartLine(other.pk, 1)],
                customer=Customer(email="a@example.com", full_name="A", address="x"),
            )
        assert order.rows.get().status == "allocated"
    finally:
        release.set()
        holder.join()
