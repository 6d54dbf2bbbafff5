"""Query counts of the write paths, pinned: each costs the same number of queries
whatever the number of lines or rows it handles (STYLE: "a test pins the number of
queries on every hot path"). A change that adds a query per row fails here.

Counts are taken inside the test's transaction, so each service's atomic block
shows as a SAVEPOINT and a RELEASE SAVEPOINT. Allocation (backorders_allocate) is
pinned in test_allocation.py, the outbox send in tests/notifications/test_outbox.py.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext as capture

from inventory.models import InboundSupply
from orders.models import CustomerTier, OrderRow, RowStatus
from orders.services import (
    CartLine,
    Customer,
    checkout_place_order,
    preorders_release,
    promises_refresh,
    row_cancel,
)
from tests.catalog.factories import DiscountRuleFactory, ProductFactory
from tests.helpers import receive
from tests.orders.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]
# On PostgreSQL rows_transition moves rows and writes their events in one statement per
# group; elsewhere the events are one insert more.
MOVES_WRITE_EVENTS = connection.vendor == "postgresql"
TODAY = dt.date(2026, 11, 23)


def place(lines, *, user=None, today=None):
    customer = Customer(email="ada@example.com", full_name="Ada", address="1 Way", user=user)
    return checkout_place_order(lines=[CartLine(p.pk, q) for p, q in lines], customer=customer, today=today)


@pytest.mark.parametrize("count", [1, 5, 20])
def test_checkout_costs_the_same_queries_for_1_5_or_20_lines(
    main, overflow, count, django_assert_num_queries
):
    user = UserFactory()
    CustomerTier.objects.create(user=user, priority=1)
    lines = []
    for _ in range(count):
        product = ProductFactory(notify=True)
        receive(product, 1, main)
        receive(product, 1, overflow)
        lines.append((product, 3))  # a row from each source and one backordered: 3 rows a line

    # Before the locks: customer tier, global settings. Then savepoint; lock products (the
    # products themselves: no second read), lock stock (free stock is summed from these
    # rows); waiting units; inbound supply of the products with units to wait (their
    # promise date); the discount rules in force (units wait: only they are discounted);
    # order insert; stock update; rows insert; events insert; the order's note for its
    # emails (rendered after commit, see tests/notifications/test_order_placed_notes.py);
    # the order's totals (billing); release. Availability is decided once, from these.
    with django_assert_num_queries(15):
        order = place(lines, user=user)

    assert order.rows.count() == 3 * count


@pytest.mark.parametrize("count", [1, 5, 20])
def test_checkout_from_stock_alone_reads_no_inbound_supply(main, count, django_assert_num_queries):
    products = [ProductFactory() for _ in range(count)]
    for product in products:
        receive(product, 2, main)

    # As above, less the customer tier (a guest) and the inbound supply: nothing waits,
    # so no promise date is needed.
    with django_assert_num_queries(12):
        order = place([(product, 2) for product in products])

    assert {row.status for row in order.rows.all()} == {RowStatus.ALLOCATED}


@pytest.mark.parametrize("count", [1, 10])
def test_cancelling_rows_costs_the_same_queries_for_1_or_10_rows(main, count, django_assert_num_queries):
    product = ProductFactory(backorderable=True)
    receive(product, count, main)
    order = place([(product, 2 * count)])  # `count` units allocated, `count` backordered: 2 rows
    extra = [place([(product, 1)]) for _ in range(count - 1)]  # more backordered rows to cancel
    row_ids = list(OrderRow.objects.filter(order__in=[order, *extra]).values_list("pk", flat=True))

    # savepoint; product ids of the rows; lock products, lock stock; lock the rows; stock
    # update (released units); row status updates with their events, one statement per
    # (status, source): the allocated row's and the waiting rows'; billing: lock the orders' totals, their
    # payments (none: nothing to refund); the cancellation emails (notifications): the rows'
    # reasons, the orders' money (totals, rows, ledger), what comes back, outbox insert, the
    # placed-order notes of orders that end unpaid; release savepoint
    # (SQLite: the events are one more insert, not part of the moves' statements.)
    with django_assert_num_queries(18 if MOVES_WRITE_EVENTS else 19):
        moved = row_cancel(row_ids=row_ids)

    assert {row.status for row in moved} == {RowStatus.CANCELLED}
    assert len(moved) == len(row_ids)


@pytest.mark.parametrize("count", [1, 20])
def test_refreshing_promises_costs_the_same_queries_for_1_or_20_rows(count, django_assert_num_queries):
    product = ProductFactory(backorderable=True, use_global_lead_time_days=False, lead_time_days=10)
    for _ in range(count):
        place([(product, 1)], today=TODAY)
    OrderRow.objects.update(promise_date=TODAY)  # every promise moves later: one email per order

    # savepoint; product, global settings; free stock; inbound supply; waiting rows; promise
    # update; the emails: rows with their orders, global settings (once for all orders),
    # outbox insert; release savepoint
    with django_assert_num_queries(11):
        slips = promises_refresh(product_id=product.pk, today=TODAY)

    assert len(slips) == count


@pytest.mark.parametrize("count", [1, 10])
def test_releasing_a_product_costs_the_same_queries_for_1_or_10_preorders(
    main, count, django_assert_num_queries
):
    game = ProductFactory(preorder_enabled=True, release_date=TODAY + dt.timedelta(days=7))
    for _ in range(2 * count):
        place([(game, 1)], today=TODAY)
    receive(game, count, main)  # half of them are allocated, the other half wait as backorders

    # released products (one query), then per product: one allocation batch with its emails
    # (16, as pinned in test_allocation.py less the split row; its emails carry the orders'
    # money: totals, rows, ledger), then one batch moving the rest to backordered: savepoint,
    # lock products, lock stock, the queue head's ids, lock those rows, the rows' move with
    # their events (one statement; SQLite: an update and an events insert), the emails (rows
    # with their orders, global settings once, outbox insert), release
    with django_assert_num_queries(27 if MOVES_WRITE_EVENTS else 29):
        released = preorders_release(today=TODAY + dt.timedelta(days=7))

    assert released == [game.pk]
    statuses = sorted(OrderRow.objects.filter(product=game).values_list("status", flat=True))
    assert statuses == [RowStatus.ALLOCATED] * count + [RowStatus.BACKORDERED] * count


def _reads(captured, table):
    """Positions of the statements reading ``table``, and of the product lock."""
    sqls = [q["sql"] for q in captured]
    lock = next(
        i for i, sql in enumerate(sqls) if 'FROM "catalog_product"' in sql and "FOR NO KEY UPDATE" in sql
    )
    return [i for i, sql in enumerate(sqls) if f'FROM "{table}"' in sql], lock


@pytest.mark.postgres  # the product lock (FOR NO KEY UPDATE) is a statement on PostgreSQL only
def test_lines_expected_to_wait_read_their_inbound_and_discounts_before_the_locks(main):
    DiscountRuleFactory()  # 10 % off waiting units
    expected, unexpected = ProductFactory(notify=True), ProductFactory(notify=True)
    for product in (expected, unexpected):
        receive(product, 1, main)
        InboundSupply.objects.create(
            product=product,
            source=main,
            quantity=10,
            expected_date=TODAY + dt.timedelta(days=9),
            reference="PO-1",
        )
    customer = Customer(email="ada@example.com", full_name="Ada", address="1 Way")

    def placed(product, **hint):
        with capture(connection) as captured:
            order = checkout_place_order(
                lines=[CartLine(product.pk, 3)], customer=customer, today=TODAY, **hint
            )
        return order.rows.get(status=RowStatus.BACKORDERED), captured

    early_row, early = placed(expected, expect_waiting=[expected.pk])
    late_row, late = placed(unexpected)

    # What the customer gets is the same either way: the promise rests on the inbound supply,
    # the waiting units carry the discount.
    for row in (early_row, late_row):
        assert (row.quantity, row.promise_date, row.unit_price) == (
            2,
            TODAY + dt.timedelta(days=9),
            Decimal("17.91"),
        )
    # Where the reads ran: before the product lock when expected, under it otherwise.
    for table in ("inventory_inboundsupply", "catalog_discountrule"):
        reads, lock = _reads(early, table)
        assert reads and max(reads) < lock, table
        reads, lock = _reads(late, table)
        assert reads and min(reads) > lock, table


def test_silent_backorders_read_no_discount_rules(main):
    DiscountRuleFactory()
    product = ProductFactory(backorderable=True)  # "allow": the customer is never told units wait
    receive(product, 1, main)
    with capture(connection) as captured:
        order = place([(product, 3)], today=TODAY)

    assert order.rows.get(status=RowStatus.BACKORDERED).unit_price == product.price
    assert not [q for q in captured if 'FROM "catalog_discountrule"' in q["sql"]]
