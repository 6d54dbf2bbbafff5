"""Query counts of the periodic jobs (beat's sweeps), pinned: a sweep costs the same
queries whatever the number of products or rows it finds. Fan-out sweeps queue one job
per product; those jobs are pinned on their own (tests/orders/test_write_path_queries.py,
test_allocation.py), so here their ``delay`` only records the ids.

Counts are taken inside the test's transaction: an atomic block shows as a SAVEPOINT
and a RELEASE SAVEPOINT.
"""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from notifications import tasks
from notifications.models import OutboxMessage, Subscription
from orders.models import OrderRow
from orders.services import CartLine, Customer, checkout_place_order
from tests.billing.factories import pay
from tests.catalog.factories import ProductFactory
from tests.helpers import receive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]
TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def no_send_job(monkeypatch):
    """The send job queued after each commit would render and send at once (eager tasks)."""
    import notifications.outbox as outbox

    monkeypatch.setattr(outbox, "_announce", lambda: None)


@pytest.fixture
def queued(monkeypatch):
    """Records the product ids a fan-out sweep queues instead of running their jobs."""
    ids = []
    for task in (tasks.allocate_product, tasks.notify_back_in_stock, tasks.refresh_promises):
        monkeypatch.setattr(task, "delay", ids.append)
    return ids


def place(product, quantity=1, *, email="ada@example.com", today=None):
    customer = Customer(email=email, full_name="Ada", address="1 Way")
    return checkout_place_order(lines=[CartLine(product.pk, quantity)], customer=customer, today=today)


@pytest.mark.parametrize("count", [1, 10])
def test_allocation_sweep_takes_one_query_for_any_number_of_products(
    main, count, queued, django_assert_num_queries
):
    products = [ProductFactory(backorderable=True) for _ in range(count)]
    for product in products:
        place(product, 2)
        receive(product, 1, main)  # free stock and a waiting row: needs allocation

    with django_assert_num_queries(1):  # products where free stock and waiting rows coexist
        found = tasks.allocation_sweep()

    assert found == queued == [p.pk for p in products]


@pytest.mark.parametrize("count", [1, 10])
def test_waitlist_sweep_costs_the_same_queries_for_any_number_of_products(
    main, count, queued, django_assert_num_queries
):
    products = [ProductFactory() for _ in range(count)]
    for product in products:
        Subscription.objects.create(product=product, email="ada@example.com")
        receive(product, 1, main)  # back in stock: one place to tell

    # products with waiting subscribers and their openings; availability (global settings,
    # free stock, waiting units, inbound supply)
    with django_assert_num_queries(5):
        found = tasks.waitlist_sweep()

    assert found == queued == [p.pk for p in products]


@pytest.mark.parametrize("count", [1, 10])
def test_promise_refresh_sweep_takes_one_query_for_any_number_of_products(
    count, queued, django_assert_num_queries
):
    products = [ProductFactory(backorderable=True) for _ in range(count)]
    for product in products:
        place(product)

    with django_assert_num_queries(1):  # products with waiting rows
        assert tasks.refresh_all_promises() == count

    assert queued == [p.pk for p in products]


@pytest.mark.parametrize("count", [1, 10])
def test_aged_backorders_digest_costs_the_same_queries_for_any_number_of_rows(
    settings, count, django_assert_num_queries
):
    settings.MERCHANT_EMAILS = ["shop@example.com"]
    products = [ProductFactory(backorderable=True) for _ in range(2)]
    for n in range(count):
        place(products[n % 2])
    OrderRow.objects.update(queue_at=timezone.now() - dt.timedelta(days=40))

    with django_assert_num_queries(2):  # the aged rows with products; outbox insert
        assert tasks.send_aged_backorders_digest() == min(count, 2)


@pytest.mark.parametrize("count", [1, 10])
def test_rendering_order_notes_costs_the_same_queries_for_1_or_10_orders(
    main, count, no_send_job, django_assert_num_queries
):
    from notifications.events import order_notes_render

    product = ProductFactory(notify=True)
    receive(product, count, main)
    for n in range(count):
        pay(place(product, 2, email=f"c{n}@example.com"))  # 1 allocated and 1 backordered each

    # any notes due (stock alerts not written, or paid)?; savepoint; claim the notes; their
    # orders, their rows; the paid orders' money (totals, rows, ledger); global settings;
    # outbox insert; notes delete; release savepoint
    with django_assert_num_queries(12):
        assert order_notes_render() == count

    confirmations = OutboxMessage.objects.filter(kind="order_confirmation").count()
    assert confirmations == count


@pytest.mark.parametrize("count", [1, 3])
def test_release_sweep_costs_the_same_queries_per_released_product(
    main, count, queued, django_assert_num_queries
):
    games = [
        ProductFactory(preorder_enabled=True, release_date=TODAY + dt.timedelta(days=7)) for _ in range(count)
    ]
    for game in games:
        place(game, today=TODAY)
        place(game, today=TODAY)
        receive(game, 1, main)

    # released products (one query), then per product the 26 of preorders_release (28 where
    # moves and their events are two statements; see tests/orders/test_write_path_queries.py)
    with django_assert_num_queries(1 + (26 if connection.vendor == "postgresql" else 28) * count):
        from orders.services import preorders_release

        assert preorders_release(today=TODAY + dt.timedelta(days=7)) == [g.pk for g in games]


@pytest.mark.parametrize("count", [1, 10])
def test_restock_folder_import_costs_the_same_queries_for_1_or_10_lines(
    main, tmp_path, settings, count, django_assert_num_queries
):
    settings.RESTOCK_IMPORT_DIR = tmp_path
    products = [ProductFactory() for _ in range(count)]
    rows = "".join(f"main,{p.sku},5,PO-{n}\n" for n, p in enumerate(products))
    (tmp_path / "delivery.csv").write_text("source,sku,quantity,reference\n" + rows, encoding="utf-8")

    # applied before?; sources, products; savepoint, import record; the receipt (savepoint,
    # lock products, create missing stock rows, lock stock, receipts seen, ledger insert,
    # stock update, release); release
    with django_assert_num_queries(14):
        (outcome,) = tasks.import_restock_files()

    assert outcome["status"] == "applied"
