"""The numbers behind each replenishment suggestion, gathered in a constant number of queries."""

import datetime as dt

import pytest
from django.utils import timezone

from inventory.models import InboundStatus, SupplierProduct
from inventory.services import inbound_cancel, inbound_create
from orders.models import RowStatus
from orders.selectors import (
    LEAD_FROM_PRODUCT,
    LEAD_FROM_SUPPLIER,
    LEAD_FROM_TERMS,
    replenishment_suggestions,
)
from tests.catalog.factories import ProductFactory, global_settings_set
from tests.helpers import receive
from tests.inventory.factories import SourceFactory, SupplierFactory, SupplierProductFactory
from tests.orders.factories import OrderFactory, OrderRowFactory

pytestmark = pytest.mark.django_db

NOW = timezone.make_aware(dt.datetime(2025, 6, 30, 12, 0))


def ordered(product, quantity, *, days_ago: float, status=RowStatus.ALLOCATED):
    """A row of an order placed ``days_ago`` days before NOW (an allocated row by default:
    demand that no longer waits; its units are not on the counters, only demand counts them)."""
    order = OrderFactory(placed_at=NOW - dt.timedelta(days=days_ago))
    source = SourceFactory(code="main") if status == RowStatus.ALLOCATED else None
    return OrderRowFactory(order=order, product=product, quantity=quantity, status=status, source=source)


def terms(product, supplier, **values):
    return SupplierProductFactory(supplier=supplier, product=product, is_preferred=True, **values)


@pytest.fixture
def acme(db):
    return SupplierFactory(name="Acme Kitchen", lead_time_days=9)


@pytest.fixture
def kettle(main, overflow, acme):
    """Ordered 30 units in the last 28 days (plus a cancelled row and an older order that do
    not count), 6 of them waiting; 5 free at main, 3 at an inactive source; 4 inbound."""
    kettle = ProductFactory(sku="KETTLE-1", name="Copper kettle", backorderable=True)
    ordered(kettle, 24, days_ago=3)
    ordered(kettle, 6, days_ago=27.9, status=RowStatus.BACKORDERED)
    ordered(kettle, 50, days_ago=1, status=RowStatus.CANCELLED)
    ordered(kettle, 40, days_ago=28.1)  # before the window
    receive(kettle, 5, main)
    closed = SourceFactory(code="closed", is_active=False, priority=0)
    receive(kettle, 3, closed)
    inbound_create(source=main, product=kettle, quantity=4, expected_date=NOW.date(), reference="IN-1")
    inbound_create(source=closed, product=kettle, quantity=7, expected_date=NOW.date(), reference="IN-2")
    gone = inbound_create(source=main, product=kettle, quantity=9, expected_date=NOW.date(), reference="IN-3")
    inbound_cancel(supply=gone)
    gone.refresh_from_db()
    assert gone.status == InboundStatus.CANCELLED
    terms(kettle, acme, min_order_qty=10, pack_size=4, lead_time_days=14)
    return kettle


def only(**kwargs):
    (found,) = replenishment_suggestions(now=NOW, **kwargs)
    return found


def test_each_number_is_counted_as_the_rule_defines_it(kettle, main, global_settings):
    global_settings_set(demand_window_days=28, safety_stock=2)
    s = only()
    f = s.decision.figures
    assert (f.demand, f.window_days, f.waiting, f.free, f.inbound) == (30, 28, 6, 5, 4)
    assert (f.safety_stock, f.lead_time_days, f.min_order_qty, f.pack_size) == (2, 14, 10, 4)
    assert s.lead_time_from == LEAD_FROM_TERMS
    # 30 units / 28 days × 14 days = 15, + 2 safety stock = 17; 6 + 17 − 5 − 4 = 14 -> 16 (packs of 4)
    assert (s.decision.reorder_point, s.decision.need, s.decision.quantity) == (17, 14, 16)
    assert s.supplier.name == "Acme Kitchen"
    assert s.source == main


def test_the_window_is_the_shops_setting(kettle, global_settings):
    global_settings_set(demand_window_days=56)
    f = only().decision.figures
    assert (f.demand, f.window_days) == (70, 56)  # the older order is in the window now


def test_lead_time_falls_back_to_the_suppliers_default_then_the_products(kettle, acme, global_settings):
    SupplierProduct.objects.filter(product=kettle).update(lead_time_days=None)
    s = only()
    assert (s.decision.figures.lead_time_days, s.lead_time_from) == (9, LEAD_FROM_SUPPLIER)

    SupplierProduct.objects.filter(product=kettle).update(is_preferred=False)
    kettle.use_global_lead_time_days, kettle.lead_time_days = False, 21
    kettle.save()
    s = only()
    assert (s.decision.figures.lead_time_days, s.lead_time_from) == (21, LEAD_FROM_PRODUCT)
    assert s.supplier is None
    # no supplier terms: no minimum, no packs
    assert (s.decision.figures.min_order_qty, s.decision.figures.pack_size) == (1, 1)


def test_the_products_own_safety_stock_overrides_the_global_one(kettle, global_settings):
    global_settings_set(safety_stock=2)
    kettle.use_global_safety_stock, kettle.safety_stock = False, 10
    kettle.save()
    assert only().decision.figures.safety_stock == 10


def test_received_at_the_products_first_source_by_priority(kettle, main, overflow):
    receive(kettle, 1, overflow)
    assert only().source == main
    bare = ProductFactory(sku="BARE-1")  # no stock anywhere: the first active source
    (s,) = replenishment_suggestions(now=NOW, product_ids=[bare.pk])
    assert s.source == main


def test_only_to_order_leaves_out_products_with_nothing_to_buy(kettle, main):
    calm = ProductFactory(sku="CALM-1")
    receive(calm, 50, main)
    everything = replenishment_suggestions(now=NOW)
    assert {s.product.sku for s in everything} == {"KETTLE-1", "CALM-1"}
    assert [s.product.sku for s in replenishment_suggestions(now=NOW, only_to_order=True)] == ["KETTLE-1"]


@pytest.mark.parametrize("products", [1, 12])
def test_four_queries_whatever_the_number_of_products(
    products, main, acme, global_settings, django_assert_num_queries
):
    for _ in range(products):
        product = ProductFactory(backorderable=True)
        ordered(product, 3, days_ago=2, status=RowStatus.BACKORDERED)
        receive(product, 1, main)
        terms(product, acme)
    global_settings_get_count = 1
    with django_assert_num_queries(3 + global_settings_get_count):
        found = replenishment_suggestions(now=NOW)
    assert len(found) == products
    with django_assert_num_queries(3):  # the window given: the settings are not read
        replenishment_suggestions(now=NOW, window_days=7)
