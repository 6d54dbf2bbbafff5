"""The discount rule (catalog.discounts), pure: rules built by hand, no database.

Each test states what a customer would see on the price: which units are discounted,
at what price, and why.
"""

import datetime as dt
from decimal import Decimal

from catalog.availability import StockFigures, availability
from catalog.discounts import BACKORDER, PREORDER, Discount, Rule, discount_for, line_price
from catalog.models import POLICY_FIELD_NAMES, Product
from catalog.selectors import GLOBAL, EffectivePolicy

TODAY = dt.date(2030, 6, 1)


def product(price="20.00", pk=1, category_id=None, **fields) -> Product:
    return Product(pk=pk, name="Blue Kettle", price=Decimal(price), category_id=category_id, **fields)


def rule(pk=1, kind="percent", value="10", applies_to="both", **fields) -> Rule:
    return Rule(pk=pk, kind=kind, value=Decimal(value), applies_to=applies_to, **fields)


def price_of(p, state=PREORDER, rules=(), today=TODAY) -> Decimal:
    found = discount_for(product=p, state=state, rules=rules, today=today)
    return found.unit_price if found else p.price


def euro(amount: Decimal) -> str:
    return f"€{amount:.2f}"


# -- which units: the state they wait in -------------------------------------------------


def test_a_rule_for_pre_orders_leaves_backorders_at_list_price_and_the_reverse():
    pre, back = rule(pk=1, applies_to="preorder"), rule(pk=2, value="25", applies_to="backorder")
    assert price_of(product(), PREORDER, [pre, back]) == Decimal("18.00")
    assert price_of(product(), BACKORDER, [pre, back]) == Decimal("15.00")
    both = rule(pk=3, applies_to="both")
    assert price_of(product(), PREORDER, [both]) == price_of(product(), BACKORDER, [both]) == Decimal("18.00")


# -- scope -----------------------------------------------------------------------------


def test_scope_all_category_or_chosen_products():
    kettle, mug = product(pk=1, category_id=7), product(pk=2, category_id=8)
    in_category = rule(scope="category", category_ids=frozenset({7, 70}))
    assert price_of(kettle, rules=[in_category]) == Decimal("18.00")
    assert price_of(mug, rules=[in_category]) == Decimal("20.00")
    sub = product(pk=3, category_id=70)  # a subcategory of 7: the selector lists it in category_ids
    assert price_of(sub, rules=[in_category]) == Decimal("18.00")
    uncategorised = product(pk=4, category_id=None)
    assert price_of(uncategorised, rules=[in_category]) == Decimal("20.00")

    chosen = rule(scope="products", product_ids=frozenset({2}))
    assert price_of(mug, rules=[chosen]) == Decimal("18.00")
    assert price_of(kettle, rules=[chosen]) == Decimal("20.00")
    assert price_of(uncategorised, rules=[rule(scope="all")]) == Decimal("18.00")


# -- dates -----------------------------------------------------------------------------


def test_active_from_and_to_are_inclusive_days():
    summer = rule(starts_on=dt.date(2030, 6, 1), ends_on=dt.date(2030, 6, 30))
    assert price_of(product(), rules=[summer], today=dt.date(2030, 5, 31)) == Decimal("20.00")
    assert price_of(product(), rules=[summer], today=dt.date(2030, 6, 1)) == Decimal("18.00")
    assert price_of(product(), rules=[summer], today=dt.date(2030, 6, 30)) == Decimal("18.00")
    assert price_of(product(), rules=[summer], today=dt.date(2030, 7, 1)) == Decimal("20.00")
    open_ended = rule(starts_on=dt.date(2030, 6, 2))
    assert price_of(product(), rules=[open_ended]) == Decimal("20.00")
    assert price_of(product(), rules=[open_ended], today=dt.date(2031, 1, 1)) == Decimal("18.00")


# -- priority and stop -----------------------------------------------------------------


def test_rules_apply_in_ascending_priority_each_to_the_price_left():
    # 20.00 - 5.00 = 15.00, then 10 % off: 13.50. The other order would give 13.00.
    amount = rule(pk=2, kind="amount", value="5", priority=1)
    percent = rule(pk=1, kind="percent", value="10", priority=2)
    assert price_of(product(), rules=[percent, amount]) == Decimal("13.50")
    assert price_of(
        product(),
        rules=[rule(pk=1, value="10", priority=1), rule(pk=2, kind="amount", value="5", priority=2)],
    ) == Decimal("13.00")


def test_stop_further_rules_ends_the_chain_at_that_rule():
    first = rule(pk=1, value="10", priority=1, stop=True)
    later = rule(pk=2, kind="amount", value="5", priority=2)
    found = discount_for(product=product(), state=PREORDER, rules=[later, first], today=TODAY)
    assert found.unit_price == Decimal("18.00")
    assert [pk for pk, _, _ in found.steps] == [1]
    # A stopping rule that does not apply (another state) stops nothing.
    skipped = rule(pk=3, value="50", priority=0, stop=True, applies_to="backorder")
    assert price_of(product(), PREORDER, [skipped, later]) == Decimal("15.00")


# -- percent vs amount, never below zero ------------------------------------------------


def test_percent_rounds_to_the_cent_and_amount_never_goes_below_zero():
    assert price_of(product("9.99"), rules=[rule(value="15")]) == Decimal("8.49")  # 8.4915
    assert price_of(product("9.99"), rules=[rule(kind="amount", value="2.50")]) == Decimal("7.49")
    assert price_of(product("3.00"), rules=[rule(kind="amount", value="5")]) == Decimal("0.00")
    assert price_of(product("3.00"), rules=[rule(value="100")]) == Decimal("0.00")
    # Two amounts that together pass the price stop at zero, not below.
    two = [rule(pk=1, kind="amount", value="2", priority=1), rule(pk=2, kind="amount", value="2", priority=2)]
    assert price_of(product("3.00"), rules=two) == Decimal("0.00")


def test_no_rule_no_discount():
    assert discount_for(product=product(), state=PREORDER, rules=[], today=TODAY) is None


# -- the reason a customer reads ---------------------------------------------------------


def test_reason_names_the_discount_and_the_state():
    ten = discount_for(product=product(), state=PREORDER, rules=[rule(value="10")], today=TODAY)
    assert ten.reason(euro) == "10 % off while on pre-order"
    half = discount_for(product=product(), state=BACKORDER, rules=[rule(value="12.50")], today=TODAY)
    assert half.reason(euro) == "12.5 % off while on backorder"
    stacked = discount_for(
        product=product(),
        state=BACKORDER,
        rules=[rule(pk=1, value="10", priority=1), rule(pk=2, kind="amount", value="2", priority=2)],
        today=TODAY,
    )
    assert stacked.reason(euro) == "10 % + €2.00 off while on backorder"


def test_the_snapshot_reads_back_without_the_rules():
    found = discount_for(product=product(), state=PREORDER, rules=[rule(pk=9, value="10")], today=TODAY)
    back = Discount.from_snapshot(found.snapshot(), list_price=Decimal("20.00"), unit_price=Decimal("18.00"))
    assert back == found
    assert back.reason(euro) == "10 % off while on pre-order"
    assert Discount.from_snapshot(None, list_price=None, unit_price=Decimal("20.00")) is None


# -- a line: only the units that wait ------------------------------------------------------

POLICY = {
    "backorders": "allow_notify",
    "backorder_limit": None,
    "max_backorder_per_order": None,
    "safety_stock": 0,
    "low_stock_threshold": 1,
    "lead_time_days": 14,
    "partial_allocation": "split",
}


def state_of(p, *, free, **policy_values):
    return availability(
        product=p,
        policy=EffectivePolicy(
            **{**POLICY, **policy_values}, origins=dict.fromkeys(POLICY_FIELD_NAMES, GLOBAL)
        ),
        figures=StockFigures(free=free),
        today=TODAY,
    )


def test_an_order_of_5_with_2_in_stock_discounts_the_3_that_wait():
    p = product(is_active=True)
    decision = state_of(p, free=2).decide(5)
    priced = line_price(product=p, decision=decision, silent=False, rules=[rule(value="10")], today=TODAY)
    assert [(part.quantity, part.unit_price) for part in priced.parts] == [
        (2, Decimal("20.00")),
        (3, Decimal("18.00")),
    ]
    assert priced.total == Decimal("94.00")
    assert priced.parts[0].discount is None and priced.parts[1].discount.state == BACKORDER


def test_all_in_stock_no_discount_and_a_refused_line_at_list_price():
    p = product(is_active=True)
    in_stock = state_of(p, free=9).decide(5)
    priced = line_price(product=p, decision=in_stock, silent=False, rules=[rule()], today=TODAY)
    assert priced.lines() == [(Decimal("20.00"), 5)] and not priced.discounted
    refused = state_of(p, free=2, backorders="no").decide(5)
    priced = line_price(product=p, decision=refused, silent=False, rules=[rule()], today=TODAY)
    assert priced.lines() == [(Decimal("20.00"), 5)] and not priced.discounted


def test_silent_backorders_get_no_backorder_discount():
    # The customer is never told these units are backordered, so no "while on backorder".
    p = product(is_active=True)
    decision = state_of(p, free=0, backorders="allow").decide(3)
    priced = line_price(product=p, decision=decision, silent=True, rules=[rule()], today=TODAY)
    assert priced.lines() == [(Decimal("20.00"), 3)]


def test_pre_order_line_is_discounted_whole():
    p = product(is_active=True, preorder_enabled=True, release_date=TODAY + dt.timedelta(days=10))
    decision = state_of(p, free=5).decide(4)
    priced = line_price(
        product=p, decision=decision, silent=False, rules=[rule(applies_to="preorder")], today=TODAY
    )
    assert priced.lines() == [(Decimal("18.00"), 4)]
    assert priced.discount.reason(euro) == "10 % off while on pre-order"
