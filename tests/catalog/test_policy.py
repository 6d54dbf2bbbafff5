"""Effective backorder policy: each setting comes from the product or the global default."""

import datetime as dt

import pytest

from catalog.availability import Outcome, StockFigures, availability
from catalog.models import POLICY_FIELD_NAMES, GlobalSettings
from catalog.selectors import GLOBAL, PRODUCT, global_settings_get, product_policy
from tests.catalog.factories import ProductFactory, global_settings_set

pytestmark = pytest.mark.django_db

# name, the global default we set (never the model's own default, so an inherited value
# really comes from the global row), a different value the product sets.
SETTINGS = [
    ("backorders", "allow", "allow_notify"),
    ("backorder_limit", 5, 12),
    ("max_backorder_per_order", 3, 7),
    ("safety_stock", 2, 4),
    ("low_stock_threshold", 3, 6),
    ("lead_time_days", 21, 30),
    ("partial_allocation", "wait", "split"),
]
SETTING_IDS = [name for name, _, _ in SETTINGS]


def test_every_policy_setting_is_covered_here():
    assert {name for name, _, _ in SETTINGS} == set(POLICY_FIELD_NAMES)


def test_fresh_shop_defaults_are_the_documented_ones():
    policy = product_policy(product=ProductFactory())

    assert policy.backorders == "no"
    assert policy.backorder_limit is None
    assert policy.max_backorder_per_order is None
    assert policy.safety_stock == 0
    assert policy.low_stock_threshold == 1
    assert policy.lead_time_days == 14
    assert policy.partial_allocation == "split"
    assert policy.origins == dict.fromkeys(POLICY_FIELD_NAMES, GLOBAL)


@pytest.mark.parametrize(("name", "global_value", "product_value"), SETTINGS, ids=SETTING_IDS)
def test_product_using_global_gets_the_global_value(name, global_value, product_value):
    global_settings_set(**{name: global_value})
    # The product's own field holds another value, but "use global" is on: it is ignored.
    product = ProductFactory(**{name: product_value, f"use_global_{name}": True})

    policy = product_policy(product=product)

    assert getattr(policy, name) == global_value
    assert policy.origin(name) == GLOBAL == "global"


@pytest.mark.parametrize(("name", "global_value", "product_value"), SETTINGS, ids=SETTING_IDS)
def test_product_override_beats_the_global_value(name, global_value, product_value):
    global_settings_set(**{name: global_value})
    product = ProductFactory(**{name: product_value, f"use_global_{name}": False})

    policy = product_policy(product=product)

    assert getattr(policy, name) == product_value
    assert policy.origin(name) == PRODUCT == "product"


def test_product_can_switch_backorders_off_when_the_shop_allows_them():
    global_settings_set(backorders="allow")
    product = ProductFactory(use_global_backorders=False, backorders="no")

    policy = product_policy(product=product)

    assert policy.backorders == "no"
    assert policy.origin("backorders") == PRODUCT


def test_product_unlimited_backorder_limit_overrides_a_global_limit():
    global_settings_set(backorders="allow", backorder_limit=5)
    product = ProductFactory(use_global_backorder_limit=False, backorder_limit=None)

    policy = product_policy(product=product)

    assert policy.backorder_limit is None
    assert policy.origin("backorder_limit") == PRODUCT
    # And it really is unlimited: 5 already waiting, 100 more are still accepted.
    decision = availability(
        product=product,
        policy=policy,
        figures=StockFigures(free=0, waiting_backorder=5),
        today=dt.date(2030, 1, 1),
    ).decide(100)
    assert decision.outcome == Outcome.BACKORDER
    assert decision.backordered == 100
    assert decision.headroom is None


def test_inherited_global_limit_caps_backorders():
    global_settings_set(backorders="allow_notify", backorder_limit=5)
    product = ProductFactory()

    policy = product_policy(product=product)
    assert policy.backorder_limit == 5
    assert policy.origin("backorder_limit") == GLOBAL
    decision = availability(
        product=product,
        policy=policy,
        figures=StockFigures(free=0, waiting_backorder=5),
        today=dt.date(2030, 1, 1),
    ).decide(1)
    assert decision.outcome == Outcome.REFUSED
    assert decision.reason == f"{product.name} is no longer taking backorders."


def test_product_limit_applies_when_the_global_default_is_unlimited():
    global_settings_set(backorder_limit=None)
    product = ProductFactory(use_global_backorder_limit=False, backorder_limit=3)

    policy = product_policy(product=product)

    assert policy.backorder_limit == 3
    assert policy.origin("backorder_limit") == PRODUCT


def test_product_per_order_cap_of_none_overrides_a_global_cap():
    global_settings_set(max_backorder_per_order=2)
    product = ProductFactory(use_global_max_backorder_per_order=False, max_backorder_per_order=None)

    policy = product_policy(product=product)

    assert policy.max_backorder_per_order is None
    assert policy.origin("max_backorder_per_order") == PRODUCT


def test_origins_are_reported_per_setting():
    global_settings_set(backorders="allow", safety_stock=2, lead_time_days=10)
    product = ProductFactory(
        use_global_safety_stock=False,
        safety_stock=0,
        use_global_partial_allocation=False,
        partial_allocation="wait",
    )

    policy = product_policy(product=product)

    assert (policy.backorders, policy.safety_stock, policy.lead_time_days, policy.partial_allocation) == (
        "allow",
        0,
        10,
        "wait",
    )
    assert policy.origins == {
        "backorders": "global",
        "backorder_limit": "global",
        "max_backorder_per_order": "global",
        "safety_stock": "product",
        "low_stock_threshold": "global",
        "lead_time_days": "global",
        "partial_allocation": "product",
    }


def test_a_changed_global_default_reaches_products_that_inherit_it():
    inheriting = ProductFactory()
    overriding = ProductFactory(use_global_lead_time_days=False, lead_time_days=3)

    global_settings_set(lead_time_days=21)

    assert product_policy(product=inheriting).lead_time_days == 21
    assert product_policy(product=overriding).lead_time_days == 3


def test_global_settings_is_a_single_row():
    first = global_settings_get()
    global_settings_set(safety_stock=9)

    assert GlobalSettings.objects.count() == 1
    assert global_settings_get().pk == first.pk
    assert global_settings_get().safety_stock == 9


def test_resolving_many_products_reads_the_global_row_once(django_assert_num_queries):
    products = ProductFactory.create_batch(5)
    global_settings_get()  # the row exists from here on

    with django_assert_num_queries(1):
        defaults = global_settings_get()
        policies = [product_policy(product=p, defaults=defaults) for p in products]

    assert len(policies) == 5
