import datetime as dt

import pytest
from django.contrib.auth import get_user_model

from inventory.models import Stock
from inventory.selectors import stock_drift
from orders.models import CustomerTier, OrderRow, RowEvent
from orders.services import (
    CartLine,
    Customer,
    allocation_preview,
    backorders_allocate,
    checkout_place_order,
    preorders_release,
    row_cancel,
)
from tests.catalog.factories import ProductFactory, global_settings_set
from tests.helpers import receive
from tests.inventory.factories import SourceFactory

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 23)


def backorder(product, quantity, email="c@example.com", user=None, today=None):
    customer = Customer(email=email, full_name="C", address="x", user=user)
    order = checkout_place_order(lines=[CartLine(product.pk, quantity)], customer=customer, today=today)
    return order.rows.get()


def queue(product):
    """(original row id, status, quantity, source code) in queue order."""
    return [
        (r.split_from_id or r.pk, r.status, r.quantity, r.source.code if r.source else None)
        for r in OrderRow.objects.filter(product=product)
        .select_related("source")
        .order_by("queue_at", "order_id", "line_no", "pk")
    ]


def test_restocked_units_go_first_come_first_served(main):
    product = ProductFactory(backorderable=True)
    first, second, third = (backorder(product, 2) for _ in range(3))
    receive(product, 5, main)

    result = backorders_allocate(product_id=product.pk)

    assert (result.rows, result.units) == (3, 5)
    assert queue(product) == [
        (first.pk, "allocated", 2, "main"),
        (second.pk, "allocated", 2, "main"),
        (third.pk, "backordered", 1, None),  # split: what arrived ships, the rest waits
        (third.pk, "allocated", 1, "main"),
    ]
    assert Stock.objects.get(product=product).allocated == 5
    event = RowEvent.objects.filter(row__split_from=third, to_status="allocated").get()
    assert (event.from_status, event.quantity, event.source, event.reason) == (
        "backordered",
        1,
        main,
        "Restock allocation",
    )


def test_a_row_is_split_across_sources_by_priority(main, overflow):
    product = ProductFactory(backorderable=True)
    row = backorder(product, 5)
    receive(product, 2, overflow)
    receive(product, 3, main)
    backorders_allocate(product_id=product.pk)
    assert sorted(queue(product)) == [(row.pk, "allocated", 2, "overflow"), (row.pk, "allocated", 3, "main")]


def test_wait_setting_never_splits_and_later_rows_do_not_jump_the_queue(main):
    product = ProductFactory(
        backorderable=True, use_global_partial_allocation=False, partial_allocation="wait"
    )
    big = backorder(product, 5)
    small = backorder(product, 1)
    receive(product, 4, main)
    assert backorders_allocate(product_id=product.pk).units == 0
    assert queue(product) == [(big.pk, "backordered", 5, None), (small.pk, "backordered", 1, None)]
    receive(product, 2, main)
    backorders_allocate(product_id=product.pk)
    assert queue(product) == [(big.pk, "allocated", 5, "main"), (small.pk, "allocated", 1, "main")]


def test_priority_tier_is_served_first_then_order_time():
    main = SourceFactory(code="main")
    vip = get_user_model().objects.create_user("vip", "vip@example.com", "pw")
    CustomerTier.objects.create(user=vip, priority=5)
    product = ProductFactory(backorderable=True)
    early = backorder(product, 1)
    late_vip = backorder(product, 1, user=vip)
    receive(product, 1, main)
    backorders_allocate(product_id=product.pk)
    late_vip.refresh_from_db()
    early.refresh_from_db()
    assert (late_vip.status, early.status) == ("allocated", "backordered")


def test_safety_stock_is_kept_back_from_waiting_rows_too(main):
    product = ProductFactory(backorderable=True, use_global_safety_stock=False, safety_stock=2)
    backorder(product, 5)
    receive(product, 4, main)
    assert backorders_allocate(product_id=product.pk).units == 2


def test_running_twice_allocates_each_unit_once(main):
    product = ProductFactory(backorderable=True)
    for _ in range(4):
        backorder(product, 1)
    receive(product, 3, main)
    assert backorders_allocate(product_id=product.pk).units == 3
    assert backorders_allocate(product_id=product.pk).units == 0
    assert Stock.objects.get(product=product).allocated == 3
    assert stock_drift() == []


def test_cancelled_allocation_goes_to_the_next_waiting_row(main):
    product = ProductFactory(backorderable=True)
    receive(product, 1, main)
    holder = backorder(product, 1)
    waiting = backorder(product, 1)
    assert holder.status == "allocated"
    row_cancel(row_ids=[holder.pk])
    backorders_allocate(product_id=product.pk)
    waiting.refresh_from_db()
    assert (waiting.status, waiting.source) == ("allocated", main)


def test_batches_cover_a_long_queue(main):
    product = ProductFactory(backorderable=True)
    for _ in range(7):
        backorder(product, 1)
    receive(product, 6, main)
    result = backorders_allocate(product_id=product.pk, batch_size=2)
    assert (result.units, result.batches) == (6, 3)
    assert [s for _, s, _, _ in queue(product)] == ["allocated"] * 6 + ["backordered"]


def test_preorders_wait_for_release_then_join_the_queue_in_their_place(main):
    product = ProductFactory(
        backorderable=True, preorder_enabled=True, release_date=TODAY + dt.timedelta(days=3)
    )
    first = backorder(product, 2, today=TODAY)
    second = backorder(product, 2, today=TODAY)
    assert first.status == "preordered"
    receive(product, 3, main)
    assert backorders_allocate(product_id=product.pk, today=TODAY).units == 0

    released = preorders_release(today=TODAY + dt.timedelta(days=3))

    assert released == [product.pk]
    assert queue(product) == [
        (first.pk, "allocated", 2, "main"),
        (second.pk, "backordered", 1, None),
        (second.pk, "allocated", 1, "main"),
    ]
    assert preorders_release(today=TODAY + dt.timedelta(days=4)) == []


def test_preview_shows_what_a_restock_would_serve_and_changes_nothing(main, overflow):
    product = ProductFactory(backorderable=True)
    a = backorder(product, 2)
    b = backorder(product, 3)
    backorder(product, 1)
    before = list(OrderRow.objects.values_list("pk", "status", "quantity"))

    lines, left = allocation_preview(product_id=product.pk, source_id=overflow.pk, units=4)

    assert [(line.row.pk, line.quantity, line.source_id, line.whole) for line in lines] == [
        (a.pk, 2, overflow.pk, True),
        (b.pk, 2, overflow.pk, False),
    ]
    assert left == 0
    assert list(OrderRow.objects.values_list("pk", "status", "quantity")) == before
    assert not Stock.objects.filter(product=product).exists()


@pytest.mark.postgres
@pytest.mark.parametrize("rows", [3, 150])
def test_one_batch_costs_the_same_queries_whatever_its_rows(main, rows, django_assert_num_queries):
    product = ProductFactory(backorderable=True)
    for _ in range(rows):
        backorder(product, 2)
    receive(product, rows * 2 - 1, main)  # the last row is split
    # global settings (once per run), savepoint, lock products (the policy read from the
    # locked row), lock stock, the queue head's ids, lock those rows, stock update, the
    # whole rows moved with their events (one statement: one source), the split with its
    # new row and event (one statement); then
    # the emails in the same transaction: rows with their orders, the orders' money
    # (totals, rows, ledger: "ready to ship" shows what is charged when it ships), outbox
    # insert, low-stock check (the products low on stock, outbox insert); release savepoint
    with django_assert_num_queries(17):
        result = backorders_allocate(product_id=product.pk, batch_size=1000)
    assert (result.rows, result.units, result.batches) == (rows, rows * 2 - 1, 1)


# -- inactive sources ---------------------------------------------------------------------


def deactivate(source):
    source.is_active = False
    source.save()
    return source


def test_stock_at_an_inactive_source_is_never_given_to_waiting_rows(main):
    closed = SourceFactory(code="closed", priority=0)  # would ship first if it counted
    product = ProductFactory(backorderable=True)
    first, second = backorder(product, 2), backorder(product, 2)
    receive(product, 5, closed)
    deactivate(closed)
    receive(product, 1, main)

    result = backorders_allocate(product_id=product.pk)

    assert (result.rows, result.units) == (1, 1)
    assert queue(product) == [
        (first.pk, "backordered", 1, None),
        (first.pk, "allocated", 1, "main"),
        (second.pk, "backordered", 2, None),
    ]
    allocated = dict(Stock.objects.filter(product=product).values_list("source__code", "allocated"))
    assert allocated == {"closed": 0, "main": 1}


def test_preview_counts_no_stock_at_an_inactive_source(main):
    closed = SourceFactory(code="closed", priority=0)
    product = ProductFactory(backorderable=True)
    first, second = backorder(product, 2), backorder(product, 2)
    receive(product, 5, closed)
    deactivate(closed)

    lines, left = allocation_preview(product_id=product.pk, source_id=main.pk, units=3)

    assert [(line.row.pk, line.quantity, line.source_id, line.whole) for line in lines] == [
        (first.pk, 2, main.pk, True),
        (second.pk, 1, main.pk, False),
    ]
    assert left == 0


# -- safety stock ----------------------------------------------------------------------------


def test_safety_stock_is_kept_back_over_several_sources(main, overflow):
    product = ProductFactory(backorderable=True, use_global_safety_stock=False, safety_stock=3)
    row = backorder(product, 4)
    receive(product, 2, main)
    receive(product, 2, overflow)

    result = backorders_allocate(product_id=product.pk)

    # 4 free, 3 held back: one unit, from the source that ships first
    assert (result.rows, result.units) == (1, 1)
    assert queue(product) == [(row.pk, "backordered", 3, None), (row.pk, "allocated", 1, "main")]


def test_safety_stock_inherited_from_the_global_settings_splits_the_last_row(main):
    global_settings_set(safety_stock=1)
    product = ProductFactory(backorderable=True)
    first, second = backorder(product, 2), backorder(product, 2)
    receive(product, 4, main)

    assert backorders_allocate(product_id=product.pk).units == 3
    assert queue(product) == [
        (first.pk, "allocated", 2, "main"),
        (second.pk, "backordered", 1, None),
        (second.pk, "allocated", 1, "main"),
    ]


def test_with_wait_a_row_that_only_safety_stock_could_cover_keeps_waiting_whole(main):
    product = ProductFactory(
        backorderable=True,
        use_global_safety_stock=False,
        safety_stock=2,
        use_global_partial_allocation=False,
        partial_allocation="wait",
    )
    row = backorder(product, 2)
    receive(product, 3, main)  # 3 free, 2 held back: 1 for the queue, the row needs 2

    assert backorders_allocate(product_id=product.pk).units == 0
    assert queue(product) == [(row.pk, "backordered", 2, None)]
    receive(product, 1, main)
    assert backorders_allocate(product_id=product.pk).units == 2
    assert queue(product) == [(row.pk, "allocated", 2, "main")]
    assert Stock.objects.get(product=product).free == 2  # the safety stock is still on the shelf


def test_preview_keeps_safety_stock_back_and_agrees_with_the_real_run(main):
    product = ProductFactory(backorderable=True, use_global_safety_stock=False, safety_stock=2)
    first, second = backorder(product, 2), backorder(product, 2)
    receive(product, 1, main)  # on the shelf already, and held back

    lines, left = allocation_preview(product_id=product.pk, source_id=main.pk, units=4)

    # 1 + 4 free, 2 held back: 3 for the queue
    assert [(line.row.pk, line.quantity, line.source_id, line.whole) for line in lines] == [
        (first.pk, 2, main.pk, True),
        (second.pk, 1, main.pk, False),
    ]
    assert left == 0
    receive(product, 4, main)
    backorders_allocate(product_id=product.pk)
    assert queue(product) == [
        (first.pk, "allocated", 2, "main"),
        (second.pk, "backordered", 1, None),
        (second.pk, "allocated", 1, "main"),
    ]


def test_preview_with_more_than_the_queue_needs_leaves_the_rest_above_safety_stock(main):
    product = ProductFactory(backorderable=True, use_global_safety_stock=False, safety_stock=2)
    row = backorder(product, 1)

    lines, left = allocation_preview(product_id=product.pk, source_id=main.pk, units=5)

    assert [(line.row.pk, line.quantity) for line in lines] == [(row.pk, 1)]
    assert left == 2  # 5 - 2 held back - 1 given


# -- customer priority tiers -------------------------------------------------------------------


def tiered_user(username, priority):
    user = get_user_model().objects.create_user(username, f"{username}@example.com", "pw")
    if priority:
        CustomerTier.objects.create(user=user, priority=priority)
    return user


def test_tiers_higher_first_and_first_come_first_served_within_a_tier(main):
    gold, silver_a, silver_b = tiered_user("gold", 9), tiered_user("silver_a", 5), tiered_user("silver_b", 5)
    product = ProductFactory(backorderable=True)
    plain = backorder(product, 1)
    early_silver = backorder(product, 1, user=silver_a)
    late_silver = backorder(product, 1, user=silver_b)
    latest_gold = backorder(product, 1, user=gold)
    assert [r.queue_tier for r in (plain, early_silver, late_silver, latest_gold)] == [0, 5, 5, 9]
    receive(product, 2, main)

    backorders_allocate(product_id=product.pk)

    status = dict(OrderRow.objects.filter(product=product).values_list("pk", "status"))
    assert [status[r.pk] for r in (latest_gold, early_silver, late_silver, plain)] == [
        "allocated",
        "allocated",
        "backordered",
        "backordered",
    ]
    receive(product, 1, main)
    backorders_allocate(product_id=product.pk)
    status = dict(OrderRow.objects.filter(product=product).values_list("pk", "status"))
    assert (status[late_silver.pk], status[plain.pk]) == ("allocated", "backordered")


def test_a_higher_tier_row_is_split_across_sources_before_earlier_rows_get_anything(main, overflow):
    vip = tiered_user("vip", 5)
    product = ProductFactory(backorderable=True)
    early = backorder(product, 2)
    late_vip = backorder(product, 3, user=vip)
    receive(product, 2, main)
    receive(product, 2, overflow)

    backorders_allocate(product_id=product.pk)

    rows = {
        (r.split_from_id or r.pk, r.status, r.quantity, r.source.code if r.source else None)
        for r in OrderRow.objects.filter(product=product).select_related("source")
    }
    assert rows == {
        (late_vip.pk, "allocated", 2, "main"),
        (late_vip.pk, "allocated", 1, "overflow"),
        (early.pk, "backordered", 1, None),
        (early.pk, "allocated", 1, "overflow"),
    }


def test_with_wait_a_higher_tier_row_at_the_head_holds_the_queue(main):
    vip = tiered_user("vip", 5)
    product = ProductFactory(
        backorderable=True, use_global_partial_allocation=False, partial_allocation="wait"
    )
    early = backorder(product, 1)
    late_vip = backorder(product, 3, user=vip)
    receive(product, 2, main)  # would cover the earlier row, but the VIP row is ahead and needs 3

    assert backorders_allocate(product_id=product.pk).units == 0
    receive(product, 2, main)
    assert backorders_allocate(product_id=product.pk).units == 4
    late_vip.refresh_from_db()
    early.refresh_from_db()
    assert (late_vip.status, late_vip.quantity, early.status) == ("allocated", 3, "allocated")
