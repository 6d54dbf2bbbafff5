"""The sourcing strategy (GlobalSettings.sourcing): which active sources serve an order's
in-stock lines at checkout and a waiting row at restock. ``priority`` takes from sources
by priority, splitting; ``fewest_shipments`` uses the one source (lowest priority number
first) that covers everything when there is one, and falls back to priority otherwise."""

import pytest

from catalog.models import Sourcing
from inventory.sourcing import sources_choose
from orders.models import OrderRow, RowEvent, RowStatus
from orders.services import CartLine, Customer, allocation_preview, backorders_allocate, checkout_place_order
from tests.catalog.factories import ProductFactory, global_settings_set
from tests.helpers import receive

pytestmark = pytest.mark.django_db
PRIORITY, FEWEST = Sourcing.PRIORITY, Sourcing.FEWEST_SHIPMENTS


# -- the rule, pure -------------------------------------------------------------------------

FREE = [(1, {"a": 2, "b": 0}), (2, {"a": 5, "b": 1}), (3, {"a": 9, "b": 9})]


def test_priority_takes_from_sources_in_priority_order_splitting_a_need():
    assert sources_choose(needs={"a": 3, "b": 1}, free=FREE, strategy=PRIORITY) == [
        ("a", 1, 2),
        ("a", 2, 1),
        ("b", 2, 1),
    ]


def test_fewest_shipments_uses_the_first_source_by_priority_that_covers_every_need():
    # Sources 2 and 3 both cover a:3 and b:1; 2 has the lower priority number.
    assert sources_choose(needs={"a": 3, "b": 1}, free=FREE, strategy=FEWEST) == [("a", 2, 3), ("b", 2, 1)]


def test_fewest_shipments_falls_back_to_priority_when_no_source_covers_everything():
    free = [(1, {"a": 2, "b": 0}), (2, {"a": 0, "b": 1})]
    needs = {"a": 2, "b": 1}
    assert sources_choose(needs=needs, free=free, strategy=FEWEST) == [("a", 1, 2), ("b", 2, 1)]
    assert sources_choose(needs=needs, free=free, strategy=FEWEST) == sources_choose(
        needs=needs, free=free, strategy=PRIORITY
    )


def test_the_rule_changes_nothing_it_is_given_and_ignores_empty_needs():
    free = [(1, {"a": 2}), (2, {"a": 5})]
    assert sources_choose(needs={"a": 0, "b": 0}, free=free, strategy=FEWEST) == []
    assert sources_choose(needs={"a": 4}, free=free, strategy=FEWEST) == [("a", 2, 4)]
    assert free == [(1, {"a": 2}), (2, {"a": 5})]


# -- checkout -------------------------------------------------------------------------------


def place(*lines):
    customer = Customer(email="c@example.com", full_name="C", address="x")
    order = checkout_place_order(lines=[CartLine(p.pk, q) for p, q in lines], customer=customer)
    return sorted(
        (r.product.sku, r.status, r.quantity, r.source.code if r.source else None) for r in order.rows.all()
    )


@pytest.fixture
def kettle_and_lid(main, overflow):
    """main (priority 1) holds 2 kettles and no lid; overflow (priority 2) 5 kettles and a lid."""
    kettle = ProductFactory(sku="KETTLE", backorderable=True)
    lid = ProductFactory(sku="LID", backorderable=True)
    receive(kettle, 2, main)
    receive(kettle, 5, overflow)
    receive(lid, 1, overflow)
    return kettle, lid


def test_checkout_by_priority_ships_an_order_from_two_sources(kettle_and_lid):
    kettle, lid = kettle_and_lid
    assert place((kettle, 2), (lid, 1)) == [
        ("KETTLE", "allocated", 2, "main"),
        ("LID", "allocated", 1, "overflow"),
    ]


def test_checkout_with_fewest_shipments_serves_every_in_stock_line_from_one_source(kettle_and_lid):
    kettle, lid = kettle_and_lid
    global_settings_set(sourcing=FEWEST)
    assert place((kettle, 2), (lid, 1)) == [
        ("KETTLE", "allocated", 2, "overflow"),
        ("LID", "allocated", 1, "overflow"),
    ]


def test_checkout_with_fewest_shipments_falls_back_to_priority_and_backorders_the_rest(kettle_and_lid):
    kettle, lid = kettle_and_lid
    global_settings_set(sourcing=FEWEST)
    # No source has 6 kettles: by priority, 2 from main and 4 from overflow; 1 lid is
    # backordered (only 1 in stock), the in-stock lid from overflow.
    assert place((kettle, 6), (lid, 2)) == [
        ("KETTLE", "allocated", 2, "main"),
        ("KETTLE", "allocated", 4, "overflow"),
        ("LID", "allocated", 1, "overflow"),
        ("LID", "backordered", 1, None),
    ]


# -- restock allocation ---------------------------------------------------------------------


def backorder(product, quantity):
    customer = Customer(email="w@example.com", full_name="W", address="x")
    return checkout_place_order(lines=[CartLine(product.pk, quantity)], customer=customer).rows.get()


def allocated(product):
    """(original row, units, source code) of the allocated rows, by row (in queue order
    here) and source code (main before overflow)."""
    return sorted(
        (r.split_from_id or r.pk, r.quantity, r.source.code)
        for r in OrderRow.objects.filter(product=product, status=RowStatus.ALLOCATED).select_related("source")
    )


@pytest.fixture
def queue_of_two(main, overflow):
    """A row of 3 then a row of 1 waiting; main (priority 1) gets 1 unit, overflow 3."""
    product = ProductFactory(backorderable=True)
    big, small = backorder(product, 3), backorder(product, 1)
    receive(product, 1, main)
    receive(product, 3, overflow)
    return product, big, small


def test_allocation_by_priority_splits_the_first_row_across_sources(queue_of_two):
    product, big, small = queue_of_two
    backorders_allocate(product_id=product.pk)
    assert allocated(product) == [(big.pk, 1, "main"), (big.pk, 2, "overflow"), (small.pk, 1, "overflow")]


def test_allocation_with_fewest_shipments_gives_a_row_whole_to_one_source_in_queue_order(queue_of_two):
    product, big, small = queue_of_two
    global_settings_set(sourcing=FEWEST)
    result = backorders_allocate(product_id=product.pk)
    # Still first come, first served and every unit given once; only the sources differ.
    assert allocated(product) == [(big.pk, 3, "overflow"), (small.pk, 1, "main")]
    assert (result.rows, result.units) == (2, 4)
    events = RowEvent.objects.filter(to_status=RowStatus.ALLOCATED, reason="Restock allocation")
    assert sorted(events.values_list("row_id", "quantity", "source__code")) == [
        (big.pk, 3, "overflow"),
        (small.pk, 1, "main"),
    ]


def test_allocation_with_fewest_shipments_falls_back_to_priority_for_a_row_no_source_covers(main, overflow):
    global_settings_set(sourcing=FEWEST)
    product = ProductFactory(backorderable=True)
    row = backorder(product, 6)
    receive(product, 2, main)
    receive(product, 5, overflow)
    backorders_allocate(product_id=product.pk)
    assert allocated(product) == [(row.pk, 2, "main"), (row.pk, 4, "overflow")]


@pytest.mark.parametrize("strategy", [PRIORITY, FEWEST])
def test_the_preview_shows_the_strategys_choice_and_agrees_with_the_real_run(
    strategy, queue_of_two, main, overflow
):
    product, big, small = queue_of_two
    global_settings_set(sourcing=strategy)
    lines, left = allocation_preview(product_id=product.pk, source_id=overflow.pk, units=0)
    code = {main.pk: "main", overflow.pk: "overflow"}
    preview = sorted((line.row.pk, line.quantity, code[line.source_id]) for line in lines)
    backorders_allocate(product_id=product.pk)
    assert preview == allocated(product)
    assert preview == (
        [(big.pk, 3, "overflow"), (small.pk, 1, "main")]
        if strategy == FEWEST
        else [(big.pk, 1, "main"), (big.pk, 2, "overflow"), (small.pk, 1, "overflow")]
    )
    assert left == 0
