"""Every availability outcome, with the numbers a customer or merchant would see.

Most tests call the pure rule (catalog.availability) with figures built by hand;
the last ones go through orders.selectors.availability_for with real stock.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.availability import (
    Backorderable,
    Badge,
    InStockOnly,
    Outcome,
    PreOrder,
    StockFigures,
    Unavailable,
    availability,
)
from catalog.models import POLICY_FIELD_NAMES, GlobalSettings
from catalog.selectors import GLOBAL, EffectivePolicy, global_settings_get
from inventory.models import Stock
from orders.models import Order, OrderRow, RowStatus
from orders.selectors import availability_for, availability_for_many
from tests.catalog.factories import ProductFactory, global_settings_set
from tests.helpers import receive
from tests.inventory.factories import SourceFactory

TODAY = dt.date(2030, 6, 1)
DEFAULTS = {
    "backorders": "no",
    "backorder_limit": None,
    "max_backorder_per_order": None,
    "safety_stock": 0,
    "low_stock_threshold": 1,
    "lead_time_days": 14,
    "partial_allocation": "split",
}


def policy(**values) -> EffectivePolicy:
    return EffectivePolicy(**{**DEFAULTS, **values}, origins=dict.fromkeys(POLICY_FIELD_NAMES, GLOBAL))


def state(*, free=0, waiting_backorder=0, waiting_preorder=0, today=TODAY, product=None, **policy_values):
    product = product or ProductFactory.build(name="Blue Kettle")
    return availability(
        product=product,
        policy=policy(**policy_values),
        figures=StockFigures(
            free=free, waiting_backorder=waiting_backorder, waiting_preorder=waiting_preorder
        ),
        today=today,
    )


def preorder_product(release=TODAY + dt.timedelta(days=30), **fields):
    return ProductFactory.build(name="Moon Lamp", preorder_enabled=True, release_date=release, **fields)


# -- In stock -----------------------------------------------------------------------


def test_in_stock_takes_everything_from_stock():
    decision = state(free=10).decide(3)

    assert decision.outcome == Outcome.IN_STOCK
    assert decision.ok
    assert (decision.requested, decision.from_stock, decision.backordered, decision.preordered) == (
        3,
        3,
        0,
        0,
    )
    assert decision.reason == "In stock."
    assert (decision.free, decision.stock_salable, decision.headroom, decision.salable) == (10, 10, 0, 10)
    assert decision.notify_customer is False


def test_the_last_unit_can_be_bought():
    decision = state(free=4).decide(4)

    assert decision.outcome == Outcome.IN_STOCK
    assert decision.from_stock == 4


def test_backorderable_product_with_enough_stock_is_plainly_in_stock():
    decision = state(free=10, backorders="allow_notify").decide(10)

    assert decision.outcome == Outcome.IN_STOCK
    assert (decision.from_stock, decision.backordered) == (10, 0)
    assert decision.notify_customer is False


# -- Partly in stock, backorder ----------------------------------------------------------


def test_partial_takes_the_stock_and_backorders_the_rest():
    decision = state(free=3, backorders="allow_notify").decide(5)

    assert decision.outcome == Outcome.PARTIAL
    assert decision.ok
    assert (decision.from_stock, decision.backordered, decision.preordered) == (3, 2, 0)
    assert decision.reason == "3 in stock now, 2 will be backordered."
    assert (decision.free, decision.stock_salable) == (3, 3)
    assert decision.headroom is None  # no backorder limit
    assert decision.salable is None  # unlimited


def test_backorder_when_nothing_is_in_stock():
    decision = state(free=0, backorders="allow_notify").decide(4)

    assert decision.outcome == Outcome.BACKORDER
    assert (decision.from_stock, decision.backordered) == (0, 4)
    assert decision.reason == "4 will be backordered."


def test_backorder_within_the_limit_reports_the_headroom():
    decision = state(free=0, backorders="allow", backorder_limit=10, waiting_backorder=6).decide(4)

    assert decision.outcome == Outcome.BACKORDER
    assert decision.backordered == 4
    assert (decision.headroom, decision.salable) == (4, 4)


def test_partial_within_the_limit_counts_stock_and_headroom():
    decision = state(free=2, backorders="allow", backorder_limit=4).decide(6)

    assert decision.outcome == Outcome.PARTIAL
    assert (decision.from_stock, decision.backordered) == (2, 4)
    assert (decision.stock_salable, decision.headroom, decision.salable) == (2, 4, 6)


def test_allow_notify_tells_the_customer_about_backordered_units():
    partial = state(free=1, backorders="allow_notify").decide(3)
    backorder = state(free=0, backorders="allow_notify").decide(3)

    assert partial.notify_customer is True
    assert partial.backordered == 2
    assert backorder.notify_customer is True
    assert backorder.backordered == 3


def test_allow_backorders_silently():
    partial = state(free=1, backorders="allow").decide(3)
    backorder = state(free=0, backorders="allow").decide(3)

    assert (partial.outcome, partial.notify_customer) == (Outcome.PARTIAL, False)
    assert (backorder.outcome, backorder.notify_customer) == (Outcome.BACKORDER, False)


# -- Pre-order ----------------------------------------------------------------------


def test_preorder_waits_for_the_release_date():
    decision = state(product=preorder_product(), free=10).decide(2)

    assert decision.outcome == Outcome.PREORDER
    assert decision.ok
    # Even with units on the shelf nothing ships before the release.
    assert (decision.from_stock, decision.backordered, decision.preordered) == (0, 0, 2)
    assert decision.reason == "Pre-order: releases 1 Jul 2030."
    assert decision.ships_by == dt.date(2030, 7, 1)  # not today, although the shelf could cover it
    assert decision.stock_salable == 0
    assert decision.headroom is None


def test_preorder_does_not_need_backorders_allowed():
    decision = state(product=preorder_product(), backorders="no").decide(1)

    assert decision.outcome == Outcome.PREORDER


def test_preorder_limit_is_a_running_total():
    product = preorder_product(preorder_limit=5)

    within = state(product=product, waiting_preorder=3).decide(2)
    over = state(product=product, waiting_preorder=3).decide(3)

    assert within.outcome == Outcome.PREORDER
    assert (within.preordered, within.headroom, within.salable) == (2, 2, 2)
    assert over.outcome == Outcome.REFUSED
    assert over.reason == "Only 2 more of Moon Lamp can be pre-ordered."
    assert over.headroom == 2


def test_full_preorders_are_refused():
    decision = state(product=preorder_product(preorder_limit=5), waiting_preorder=5).decide(1)

    assert decision.outcome == Outcome.REFUSED
    assert decision.reason == "Pre-orders for Moon Lamp are full."
    assert decision.headroom == 0


def test_preorder_becomes_a_normal_product_on_its_release_date():
    product = preorder_product(release=TODAY)

    in_stock = state(product=product, free=4, today=TODAY).decide(2)
    sold_out = state(product=product, free=0, today=TODAY).decide(2)
    day_before = state(product=product, free=4, today=TODAY - dt.timedelta(days=1)).decide(2)
    day_after = state(product=product, free=4, today=TODAY + dt.timedelta(days=1)).decide(2)

    assert (in_stock.outcome, in_stock.from_stock) == (Outcome.IN_STOCK, 2)
    assert sold_out.outcome == Outcome.REFUSED
    assert sold_out.reason == "Moon Lamp is out of stock."
    assert (day_before.outcome, day_before.preordered) == (Outcome.PREORDER, 2)
    assert day_after.outcome == Outcome.IN_STOCK


def test_released_product_follows_its_backorder_policy():
    decision = state(product=preorder_product(release=TODAY), free=1, backorders="allow").decide(3)

    assert decision.outcome == Outcome.PARTIAL
    assert (decision.from_stock, decision.backordered) == (1, 2)


# -- Refused ------------------------------------------------------------------------


def test_out_of_stock_with_backorders_off_is_refused():
    decision = state(free=0, backorders="no").decide(1)

    assert decision.outcome == Outcome.REFUSED
    assert not decision.ok
    assert decision.reason == "Blue Kettle is out of stock."
    assert (decision.from_stock, decision.backordered, decision.stock_salable, decision.salable) == (
        0,
        0,
        0,
        0,
    )


def test_more_than_in_stock_is_refused_with_the_real_quantity():
    decision = state(free=2).decide(5)

    assert decision.outcome == Outcome.REFUSED
    assert decision.reason == "Only 2 of Blue Kettle available."
    assert (decision.free, decision.stock_salable, decision.salable) == (2, 2, 2)


def test_used_up_backorder_limit_stops_backorders():
    decision = state(free=0, backorders="allow_notify", backorder_limit=5, waiting_backorder=5).decide(1)

    assert decision.outcome == Outcome.REFUSED
    assert decision.reason == "Blue Kettle is no longer taking backorders."
    assert (decision.headroom, decision.salable) == (0, 0)


def test_used_up_backorder_limit_still_sells_what_is_on_the_shelf():
    # 7 free, 5 of them promised to the waiting rows: 2 may still be sold.
    figures = {"free": 7, "backorders": "allow_notify", "backorder_limit": 5, "waiting_backorder": 5}

    refused = state(**figures).decide(3)
    accepted = state(**figures).decide(2)

    assert refused.outcome == Outcome.REFUSED
    assert refused.reason == "Blue Kettle is no longer taking backorders; only 2 in stock."
    assert accepted.outcome == Outcome.IN_STOCK
    assert accepted.from_stock == 2


def test_more_than_the_backorder_headroom_names_what_is_left():
    decision = state(free=2, backorders="allow_notify", backorder_limit=4).decide(7)

    assert decision.outcome == Outcome.REFUSED
    assert decision.reason == "Only 6 of Blue Kettle available (2 in stock, 4 on backorder)."
    assert (decision.stock_salable, decision.headroom, decision.salable) == (2, 4, 6)


def test_max_backorder_per_order_caps_one_row():
    refused = state(free=1, backorders="allow_notify", max_backorder_per_order=3).decide(5)
    accepted = state(free=1, backorders="allow_notify", max_backorder_per_order=3).decide(4)

    assert refused.outcome == Outcome.REFUSED
    assert refused.reason == (
        "Blue Kettle: at most 3 per order can be backordered (1 in stock now, so at most 4 in all)."
    )
    assert accepted.outcome == Outcome.PARTIAL
    assert (accepted.from_stock, accepted.backordered) == (1, 3)


def test_max_backorder_per_order_is_not_a_running_total():
    decision = state(free=0, backorders="allow", max_backorder_per_order=3, waiting_backorder=90).decide(3)

    assert decision.outcome == Outcome.BACKORDER
    assert decision.backordered == 3


def test_inactive_product_is_not_for_sale_even_with_stock():
    product = ProductFactory.build(name="Blue Kettle", is_active=False)

    decision = state(product=product, free=50, backorders="allow").decide(1)

    assert decision.outcome == Outcome.REFUSED
    assert decision.reason == "Blue Kettle is not for sale."
    assert decision.from_stock == 0


def test_inactive_preorder_product_is_not_for_sale():
    decision = state(product=preorder_product(is_active=False)).decide(1)

    assert decision.outcome == Outcome.REFUSED
    assert decision.reason == "Moon Lamp is not for sale."


@pytest.mark.parametrize("quantity", [0, -1, -10])
@pytest.mark.parametrize(
    "setup",
    [
        {"free": 10},
        {"free": 10, "backorders": "allow"},
        {"product": "preorder"},
    ],
    ids=["in-stock-only", "backorderable", "preorder"],
)
def test_quantity_below_one_is_refused(setup, quantity):
    setup = dict(setup)
    if setup.get("product") == "preorder":
        setup["product"] = preorder_product()

    decision = state(**setup).decide(quantity)

    assert decision.outcome == Outcome.REFUSED
    assert decision.reason == "Quantity must be at least 1."
    assert decision.requested == quantity
    assert (decision.from_stock, decision.backordered, decision.preordered) == (0, 0, 0)


# -- What a new order may take from stock --------------------------------------------------


def test_safety_stock_is_held_back_from_sale():
    refused = state(free=5, safety_stock=2).decide(4)
    partial = state(free=5, safety_stock=2, backorders="allow").decide(4)

    assert refused.stock_salable == 3
    assert refused.reason == "Only 3 of Blue Kettle available."
    assert (partial.outcome, partial.from_stock, partial.backordered) == (Outcome.PARTIAL, 3, 1)


def test_safety_stock_covering_all_free_units_means_out_of_stock():
    decision = state(free=2, safety_stock=2).decide(1)

    assert decision.stock_salable == 0
    assert decision.reason == "Blue Kettle is out of stock."


def test_waiting_units_are_served_before_a_new_order():
    # 5 free, but 2 backordered and 1 pre-ordered unit wait for them first.
    figures = {"free": 5, "waiting_backorder": 2, "waiting_preorder": 1}

    accepted = state(**figures).decide(2)
    refused = state(**figures).decide(3)

    assert accepted.stock_salable == 2
    assert accepted.outcome == Outcome.IN_STOCK
    assert refused.reason == "Only 2 of Blue Kettle available."


def test_waiting_units_new_order_backorders_behind_them():
    decision = state(free=3, waiting_backorder=3, backorders="allow").decide(2)

    assert decision.stock_salable == 0
    assert decision.outcome == Outcome.BACKORDER
    assert decision.backordered == 2


def test_stock_salable_never_goes_below_zero():
    decision = state(free=3, safety_stock=2, waiting_backorder=4).decide(1)

    assert decision.stock_salable == 0
    assert decision.salable == 0
    assert decision.free == 3


# -- Badges --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "badge", "text"),
    [
        ({"free": 10}, Badge.IN_STOCK, "In stock"),
        ({"free": 2, "low_stock_threshold": 1}, Badge.IN_STOCK, "In stock"),
        ({"free": 1, "low_stock_threshold": 1}, Badge.LOW_STOCK, "Only 1 left"),
        ({"free": 3, "low_stock_threshold": 5}, Badge.LOW_STOCK, "Only 3 left"),
        ({"free": 5, "low_stock_threshold": 5}, Badge.LOW_STOCK, "Only 5 left"),
        ({"free": 5, "safety_stock": 2, "low_stock_threshold": 3}, Badge.LOW_STOCK, "Only 3 left"),
        ({"free": 0}, Badge.OUT_OF_STOCK, "Out of stock"),
        ({"free": 4, "waiting_backorder": 4}, Badge.OUT_OF_STOCK, "Out of stock"),
        ({"free": 10, "backorders": "allow"}, Badge.IN_STOCK, "In stock"),
        ({"free": 1, "backorders": "allow"}, Badge.LOW_STOCK, "Only 1 left"),
        # no supply in sight: the next unit ships by today + the 14-day lead time
        (
            {"free": 0, "backorders": "allow"},
            Badge.BACKORDER,
            "Available on backorder — ships by 15 Jun 2030",
        ),
        (
            {"free": 0, "backorders": "allow_notify", "backorder_limit": 5, "waiting_backorder": 4},
            Badge.BACKORDER,
            "Available on backorder — ships by 15 Jun 2030",
        ),
        (
            {"free": 0, "backorders": "allow", "backorder_limit": 5, "waiting_backorder": 5},
            Badge.BACKORDERS_EXHAUSTED,
            "No longer taking backorders",
        ),
    ],
)
def test_badge(setup, badge, text):
    assert state(**setup).badge() == (badge, text)


def test_preorder_badge_names_the_release_date():
    assert state(product=preorder_product()).badge() == (Badge.PREORDER, "Pre-order — releases 1 Jul 2030")


def test_full_preorders_badge():
    found = state(product=preorder_product(preorder_limit=2), waiting_preorder=2).badge()

    assert found == (Badge.OUT_OF_STOCK, "Pre-orders are full")


def test_inactive_product_badge():
    product = ProductFactory.build(is_active=False)

    assert state(product=product, free=5).badge() == (Badge.UNAVAILABLE, "Not available")


@pytest.mark.parametrize(
    ("setup", "kind"),
    [
        ({}, InStockOnly),
        ({"backorders": "allow"}, Backorderable),
        ({"backorders": "allow_notify"}, Backorderable),
        ({"product": "preorder"}, PreOrder),
        ({"product": "inactive"}, Unavailable),
    ],
)
def test_one_policy_object_per_product_state(setup, kind):
    setup = dict(setup)
    if setup.get("product") == "preorder":
        setup["product"] = preorder_product()
    elif setup.get("product") == "inactive":
        setup["product"] = ProductFactory.build(is_active=False)

    assert type(state(**setup)) is kind


# -- What the customer reads: silent backorders ("allow") vs "allow_notify" ---------


@pytest.mark.parametrize(
    ("setup", "quantity", "silent", "notify"),
    [
        (  # limit used up, nothing on the shelf
            {"free": 0, "backorder_limit": 5, "waiting_backorder": 5},
            1,
            "Blue Kettle is out of stock.",
            "Blue Kettle is no longer taking backorders.",
        ),
        (  # limit used up, 2 on the shelf beyond the 5 promised to waiting rows
            {"free": 7, "backorder_limit": 5, "waiting_backorder": 5},
            3,
            "Only 2 of Blue Kettle available.",
            "Blue Kettle is no longer taking backorders; only 2 in stock.",
        ),
        (  # 2 on the shelf + 4 more under the limit
            {"free": 2, "backorder_limit": 4},
            7,
            "Only 6 of Blue Kettle available.",
            "Only 6 of Blue Kettle available (2 in stock, 4 on backorder).",
        ),
        (  # 1 on the shelf + at most 3 backordered per order
            {"free": 1, "max_backorder_per_order": 3},
            5,
            "Blue Kettle: at most 4 per order.",
            "Blue Kettle: at most 3 per order can be backordered (1 in stock now, so at most 4 in all).",
        ),
    ],
)
def test_a_refusal_names_the_same_numbers_but_says_backorder_only_when_notifying(
    setup, quantity, silent, notify
):
    quiet = state(backorders="allow", **setup).decide(quantity)
    told = state(backorders="allow_notify", **setup).decide(quantity)

    assert (quiet.outcome, told.outcome) == (Outcome.REFUSED, Outcome.REFUSED)
    assert quiet.reason == silent
    assert told.reason == notify
    assert quiet.salable == told.salable


def test_an_accepted_silent_backorder_reads_as_available_with_its_date():
    partial = state(free=3, backorders="allow").decide(5)
    backorder = state(free=0, backorders="allow").decide(4)

    assert (partial.outcome, partial.from_stock, partial.backordered) == (Outcome.PARTIAL, 3, 2)
    assert (backorder.outcome, backorder.backordered) == (Outcome.BACKORDER, 4)
    for decision in (partial, backorder):
        assert decision.reason == "Available."
        assert decision.notify_customer is False
        assert decision.ships_by == dt.date(2030, 6, 15)  # today + the 14-day lead time


@pytest.mark.parametrize(
    ("setup", "customer", "merchant"),
    [
        (
            {"free": 0, "backorders": "allow"},
            (Badge.IN_STOCK, "Available — ships by 15 Jun 2030"),
            (Badge.BACKORDER, "Available on backorder — ships by 15 Jun 2030"),
        ),
        (
            {"free": 0, "backorders": "allow", "backorder_limit": 5, "waiting_backorder": 5},
            (Badge.OUT_OF_STOCK, "Out of stock"),
            (Badge.BACKORDERS_EXHAUSTED, "No longer taking backorders"),
        ),
        (
            {"free": 1, "backorders": "allow"},
            (Badge.LOW_STOCK, "Only 1 left"),
            (Badge.LOW_STOCK, "Only 1 left"),
        ),
        (
            {"free": 0, "backorders": "allow_notify"},
            (Badge.BACKORDER, "Available on backorder — ships by 15 Jun 2030"),
            (Badge.BACKORDER, "Available on backorder — ships by 15 Jun 2030"),
        ),
        (
            {"free": 0, "backorders": "allow_notify", "backorder_limit": 5, "waiting_backorder": 5},
            (Badge.BACKORDERS_EXHAUSTED, "No longer taking backorders"),
            (Badge.BACKORDERS_EXHAUSTED, "No longer taking backorders"),
        ),
    ],
)
def test_customer_badge_is_silent_only_in_allow_mode_and_the_merchant_badge_keeps_the_truth(
    setup, customer, merchant
):
    found = state(**setup)

    assert found.customer_badge() == customer
    assert found.badge() == merchant


@pytest.mark.parametrize(
    ("setup", "notice"),
    [
        # allow_notify: the backorder headroom, once it is at most the threshold (default 5)
        ({"backorder_limit": 10, "waiting_backorder": 6}, "Only 4 more can be backordered"),
        ({"backorder_limit": 10, "waiting_backorder": 5}, "Only 5 more can be backordered"),
        ({"backorder_limit": 10, "waiting_backorder": 4}, None),  # 6 left: not close
        ({"backorder_limit": 10, "waiting_backorder": 9}, "Only 1 more can be backordered"),
        ({"backorder_limit": 10, "waiting_backorder": 10}, None),  # none left: the badge says so
        ({}, None),  # no limit
        ({"backorder_limit": 10, "waiting_backorder": 9, "allowance_notice_threshold": 0}, None),
        (
            {"backorder_limit": 20, "waiting_backorder": 12, "allowance_notice_threshold": 8},
            "Only 8 more can be backordered",
        ),
        # beside "Only 1 left" it tells how far the offer goes; beside "In stock" it would puzzle
        ({"free": 1, "backorder_limit": 3}, "Only 3 more can be backordered"),
        ({"free": 10, "backorder_limit": 3}, None),
        # stock held for waiting rows is not on offer: 4 free, 4 waiting, limit 6 -> 2 left
        ({"free": 4, "backorder_limit": 6, "waiting_backorder": 4}, "Only 2 more can be backordered"),
    ],
)
def test_limit_notice_with_allow_notify(setup, notice):
    assert state(backorders="allow_notify", **{"free": 0, **setup}).limit_notice() == notice


@pytest.mark.parametrize(
    ("setup", "notice"),
    [
        ({"free": 0, "backorder_limit": 10, "waiting_backorder": 7}, "Only 3 more available"),
        ({"free": 0, "backorder_limit": 10, "waiting_backorder": 4}, None),
        ({"free": 0, "backorder_limit": 10, "waiting_backorder": 10}, None),
        ({"free": 1, "backorder_limit": 3}, None),  # the stock badge speaks while stock lasts
        ({"free": 0}, None),
    ],
)
def test_limit_notice_in_silent_mode_never_says_backorder(setup, notice):
    assert state(backorders="allow", **setup).limit_notice() == notice


@pytest.mark.parametrize(
    ("limit", "waiting", "threshold", "notice"),
    [
        (50, 47, 5, "Only 3 more can be pre-ordered"),
        (50, 45, 5, "Only 5 more can be pre-ordered"),
        (50, 44, 5, None),
        (50, 50, 5, None),  # full: "Pre-orders are full"
        (None, 400, 5, None),
        (50, 47, 2, None),
    ],
)
def test_limit_notice_for_preorders(limit, waiting, threshold, notice):
    found = state(
        product=preorder_product(preorder_limit=limit),
        waiting_preorder=waiting,
        allowance_notice_threshold=threshold,
        backorders="allow",  # pre-orders say pre-order whatever the backorder mode
    )

    assert found.limit_notice() == notice


def test_no_limit_notice_without_backorders():
    assert state(free=0, backorder_limit=2).limit_notice() is None


# -- Through orders.selectors.availability_for, with real stock -----------------------


def wait_in_queue(product, quantity: int, status: str = RowStatus.BACKORDERED) -> OrderRow:
    """An order row already waiting for ``product`` (written directly, no checkout)."""
    order = Order.objects.create(
        number=f"T{Order.objects.count() + 1:06d}",
        email="waiting@example.com",
        full_name="Wanda Waiting",
        address="1 Queue Street",
    )
    return OrderRow.objects.create(
        order=order,
        product=product,
        status=status,
        quantity=quantity,
        unit_price=Decimal("19.90"),
        queue_at=timezone.now(),
        line_no=1,
    )


@pytest.mark.django_db
def test_free_stock_is_summed_over_active_sources():
    product = ProductFactory(name="Oak Shelf")
    receive(product, 3, SourceFactory(code="main"))
    receive(product, 2, SourceFactory(code="shop"))
    receive(product, 9, SourceFactory(code="closed", is_active=False))

    found = availability_for(product=product)

    assert found.decide(5).outcome == Outcome.IN_STOCK
    refused = found.decide(6)
    assert refused.reason == "Only 5 of Oak Shelf available."
    assert refused.free == 5


@pytest.mark.django_db
def test_allocated_units_are_not_free():
    product = ProductFactory(name="Oak Shelf")
    source = SourceFactory()
    receive(product, 5, source)
    Stock.objects.filter(product=product).update(allocated=4)

    decision = availability_for(product=product).decide(2)

    assert decision.reason == "Only 1 of Oak Shelf available."
    assert decision.free == 1


@pytest.mark.django_db
def test_product_without_stock_rows_is_out_of_stock():
    product = ProductFactory(name="Oak Shelf")

    found = availability_for(product=product)

    assert found.decide(1).reason == "Oak Shelf is out of stock."
    assert found.badge() == (Badge.OUT_OF_STOCK, "Out of stock")


@pytest.mark.django_db
def test_global_backorder_setting_reaches_the_storefront():
    global_settings_set(backorders="allow_notify")
    product = ProductFactory(name="Oak Shelf")
    receive(product, 2, SourceFactory())

    decision = availability_for(product=product).decide(5)

    assert decision.outcome == Outcome.PARTIAL
    assert (decision.from_stock, decision.backordered, decision.notify_customer) == (2, 3, True)


@pytest.mark.django_db
def test_waiting_rows_use_up_the_backorder_limit():
    product = ProductFactory(
        name="Oak Shelf", notify=True, use_global_backorder_limit=False, backorder_limit=5
    )
    wait_in_queue(product, 3)
    wait_in_queue(product, 2)
    wait_in_queue(product, 7, status=RowStatus.CANCELLED)  # cancelled rows do not wait

    found = availability_for(product=product)

    assert found.decide(1).reason == "Oak Shelf is no longer taking backorders."
    assert found.badge() == (Badge.BACKORDERS_EXHAUSTED, "No longer taking backorders")


@pytest.mark.django_db
def test_restocked_units_go_to_waiting_rows_before_new_orders():
    product = ProductFactory(name="Oak Shelf")
    wait_in_queue(product, 3)
    receive(product, 5, SourceFactory())

    decision = availability_for(product=product).decide(3)

    assert decision.free == 5
    assert decision.stock_salable == 2
    assert decision.reason == "Only 2 of Oak Shelf available."


@pytest.mark.django_db
def test_preorder_product_switches_on_its_release_date():
    release = timezone.localdate() + dt.timedelta(days=10)
    product = ProductFactory(name="Moon Lamp", preorder_enabled=True, release_date=release)
    receive(product, 4, SourceFactory())

    before = availability_for(product=product, today=release - dt.timedelta(days=1)).decide(2)
    on_release = availability_for(product=product, today=release).decide(2)

    assert (before.outcome, before.preordered) == (Outcome.PREORDER, 2)
    assert (on_release.outcome, on_release.from_stock) == (Outcome.IN_STOCK, 2)


@pytest.mark.django_db
def test_preordered_rows_use_up_the_preorder_limit():
    product = ProductFactory(name="Moon Lamp", preorder=True, preorder_limit=4)
    wait_in_queue(product, 3, status=RowStatus.PREORDERED)

    decision = availability_for(product=product).decide(2)

    assert decision.reason == "Only 1 more of Moon Lamp can be pre-ordered."


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 20])
def test_availability_for_many_uses_a_constant_number_of_queries(count, django_assert_num_queries):
    products = ProductFactory.create_batch(count, backorderable=True)
    source = SourceFactory()
    for product in products:
        receive(product, 2, source)
    wait_in_queue(products[0], 1)
    global_settings_get()  # created once, as in a running shop

    # Global settings, free stock, waiting units, inbound supply: four reads whatever the count.
    with django_assert_num_queries(4):
        found = availability_for_many(products=products)

    assert len(found) == count
    assert found[products[0].pk].stock_salable == 1
    assert all(found[p.pk].figures.free == 2 for p in products)


@pytest.mark.django_db
def test_the_limit_notice_threshold_is_the_merchants_global_setting():
    product = ProductFactory(
        name="Oak Shelf", notify=True, use_global_backorder_limit=False, backorder_limit=10
    )
    wait_in_queue(product, 7)  # 3 more may be backordered

    assert GlobalSettings.get_solo().allowance_notice_threshold == 5  # the default
    assert availability_for(product=product).limit_notice() == "Only 3 more can be backordered"
    global_settings_set(allowance_notice_threshold=2)
    assert availability_for(product=product).limit_notice() is None
