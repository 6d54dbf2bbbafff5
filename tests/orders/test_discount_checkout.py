"""Discounts at checkout: only the waiting units, snapshotted on the rows, kept for good.

Real checkouts (orders.services.checkout_place_order), real rules in the database, the
totals from billing; what is asserted is what the customer is charged.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from payments import PaymentStatus

from billing.models import EntryKind, LedgerEntry
from billing.selectors import ledger_reconcile
from catalog.discounts import BACKORDER, PREORDER
from catalog.models import Category, DiscountRule
from catalog.selectors import discount_rules_active
from orders.models import RowStatus
from orders.services import backorders_allocate, shipment_create
from tests.billing.factories import pay, place, shop_settings
from tests.catalog.factories import DiscountRuleFactory, ProductFactory
from tests.helpers import receive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]


@pytest.fixture(autouse=True)
def shop(settings):
    return shop_settings(settings)


def rows_by_status(order):
    return {(r.status, r.quantity, r.unit_price, r.list_price) for r in order.rows.order_by("pk")}


def test_an_order_of_5_with_2_in_stock_pays_full_price_for_2_and_discounted_for_3(main):
    kettle = ProductFactory(notify=True, price=Decimal("20.00"))
    receive(kettle, 2, main)
    DiscountRuleFactory(value=Decimal("10"), applies_to="backorder")

    order = place([(kettle, 5)])

    assert rows_by_status(order) == {
        (RowStatus.ALLOCATED, 2, Decimal("20.00"), None),
        (RowStatus.BACKORDERED, 3, Decimal("18.00"), Decimal("20.00")),
    }
    waiting = order.rows.get(status=RowStatus.BACKORDERED)
    assert waiting.discount_applied.reason(str) == "10 % off while on backorder"
    # Billing's totals come from the rows' prices: 2 x 20.00 + 3 x 18.00 + 4.90 shipping.
    assert order.totals.subtotal == Decimal("94.00")
    assert order.totals.total == Decimal("98.90")


def test_pre_order_units_get_the_pre_order_rule_only(main):
    game = ProductFactory(preorder=True, price=Decimal("60.00"))
    DiscountRuleFactory(value=Decimal("5"), kind="amount", applies_to="preorder")
    DiscountRuleFactory(value=Decimal("50"), applies_to="backorder")

    order = place([(game, 2)])

    row = order.rows.get()
    assert (row.status, row.unit_price, row.list_price) == (
        RowStatus.PREORDERED,
        Decimal("55.00"),
        Decimal("60.00"),
    )
    assert row.discount["state"] == PREORDER
    assert order.totals.subtotal == Decimal("110.00")


def test_nothing_waits_nothing_is_discounted(main):
    kettle = ProductFactory(notify=True, price=Decimal("20.00"))
    receive(kettle, 9, main)
    DiscountRuleFactory()
    order = place([(kettle, 5)])
    assert rows_by_status(order) == {(RowStatus.ALLOCATED, 5, Decimal("20.00"), None)}
    assert order.rows.get().discount is None


def test_a_later_rule_change_never_changes_a_placed_order_and_a_split_keeps_its_price(main):
    kettle = ProductFactory(notify=True, price=Decimal("20.00"))
    rule = DiscountRuleFactory(value=Decimal("10"), applies_to="backorder")
    order = place([(kettle, 3)])
    totals_before = (order.totals.subtotal, order.totals.tax, order.totals.total)

    # The merchant doubles the discount, then deletes the rule; the product's price rises.
    DiscountRule.objects.filter(pk=rule.pk).update(value=Decimal("20"))
    DiscountRule.objects.filter(pk=rule.pk).delete()
    kettle.price = Decimal("25.00")
    kettle.save()

    # One unit arrives: the backordered row of 3 splits, 1 allocated and 2 still waiting.
    receive(kettle, 1, main)
    backorders_allocate(product_id=kettle.pk)

    rows = list(order.rows.order_by("pk"))
    assert [(r.status, r.quantity, r.unit_price, r.list_price) for r in rows] == [
        (RowStatus.BACKORDERED, 2, Decimal("18.00"), Decimal("20.00")),
        (RowStatus.ALLOCATED, 1, Decimal("18.00"), Decimal("20.00")),
    ]
    assert all(r.discount_applied.reason(str) == "10 % off while on backorder" for r in rows)
    order.totals.refresh_from_db()
    assert (order.totals.subtotal, order.totals.tax, order.totals.total) == totals_before


def test_a_shipped_discounted_row_is_captured_at_its_discounted_price(
    main, django_capture_on_commit_callbacks
):
    # The payment invariants hold with discounts: per shipment, captured = shipped rows'
    # value + shipping; billing's reconcile finds nothing wrong.
    kettle = ProductFactory(notify=True, price=Decimal("20.00"))
    receive(kettle, 1, main)
    DiscountRuleFactory(value=Decimal("10"), applies_to="backorder")
    order = place([(kettle, 3)])
    with django_capture_on_commit_callbacks(execute=True):
        pay(order, PaymentStatus.PREAUTH)
    receive(kettle, 2, main)
    with django_capture_on_commit_callbacks(execute=True):
        backorders_allocate(product_id=kettle.pk)
        shipment_create(order=order, source=main)

    captured = LedgerEntry.objects.filter(order=order, kind=EntryKind.CAPTURE)
    assert sum(e.amount for e in captured) == Decimal("20.00") + 2 * Decimal("18.00") + Decimal("4.90")
    assert ledger_reconcile(order_ids=[order.pk]).violations == []


# -- the rules in force: one selector, a pinned number of queries ---------------------------


def test_rules_in_force_by_date_activity_and_scope(django_assert_num_queries):
    today = timezone.localdate()
    kitchen = Category.objects.create(name="Kitchen", slug="kitchen")
    kettles = Category.objects.create(name="Kettles", slug="kettles", parent=kitchen)
    mugs = ProductFactory()
    live = DiscountRuleFactory(name="live", starts_on=today, ends_on=today)
    DiscountRuleFactory(name="ended", ends_on=today - dt.timedelta(days=1))
    DiscountRuleFactory(name="not yet", starts_on=today + dt.timedelta(days=1))
    DiscountRuleFactory(name="off", is_active=False)
    by_category = DiscountRuleFactory(name="kitchen", scope="category", category=kitchen)
    chosen = DiscountRuleFactory(name="mugs", scope="products", products=[mugs])

    # Rules, then the chosen products, then the subcategories: three queries.
    with django_assert_num_queries(3):
        rules = {r.pk: r for r in discount_rules_active(today=today)}

    assert set(rules) == {live.pk, by_category.pk, chosen.pk}
    assert rules[by_category.pk].category_ids == {kitchen.pk, kettles.pk}
    assert rules[chosen.pk].product_ids == {mugs.pk}


def test_a_kettle_in_a_subcategory_gets_its_parent_categorys_rule(main):
    kitchen = Category.objects.create(name="Kitchen", slug="kitchen")
    kettles = Category.objects.create(name="Kettles", slug="kettles", parent=kitchen)
    kettle = ProductFactory(notify=True, price=Decimal("20.00"), category=kettles)
    other = ProductFactory(notify=True, price=Decimal("20.00"))
    DiscountRuleFactory(scope="category", category=kitchen, applies_to=BACKORDER)

    order = place([(kettle, 1), (other, 1)])

    prices = {r.product_id: r.unit_price for r in order.rows.all()}
    assert prices == {kettle.pk: Decimal("18.00"), other.pk: Decimal("20.00")}
