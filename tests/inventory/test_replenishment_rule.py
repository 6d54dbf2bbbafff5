"""The pure replenishment rule: reorder point, need and the rounded suggestion."""

from decimal import Decimal

import pytest

from inventory.replenishment import ReplenishmentFigures, replenishment


def figures(**values) -> ReplenishmentFigures:
    base = {
        "demand": 0,
        "window_days": 30,
        "waiting": 0,
        "free": 0,
        "inbound": 0,
        "safety_stock": 0,
        "lead_time_days": 10,
    }
    return ReplenishmentFigures(**(base | values))


def test_reorder_point_is_daily_demand_times_lead_time_plus_safety_stock():
    # 60 units in 30 days = 2 a day; 10 days' lead time = 20, + 5 safety stock
    decision = replenishment(figures(demand=60, safety_stock=5))
    assert decision.daily_demand == Decimal("2.00")
    assert decision.reorder_point == 25


def test_suggestion_is_waiting_plus_reorder_point_less_free_and_inbound():
    # 4 waiting + 25 reorder point − 6 free − 10 inbound = 13
    decision = replenishment(figures(demand=60, safety_stock=5, waiting=4, free=6, inbound=10))
    assert (decision.need, decision.quantity) == (13, 13)
    assert decision.below_reorder_point


def test_a_fraction_of_a_unit_of_expected_demand_still_needs_a_unit():
    # 7 units in 30 days over a 10-day lead time = 2.33 units: 3 on the shelf
    decision = replenishment(figures(demand=7))
    assert decision.daily_demand == Decimal("0.23")
    assert decision.reorder_point == 3


def test_never_below_zero_when_free_and_inbound_cover_the_reorder_point():
    decision = replenishment(figures(demand=60, waiting=2, free=30, inbound=10))
    assert decision.need == 2 + 20 - 30 - 10
    assert decision.quantity == 0
    assert not decision.below_reorder_point


def test_exactly_at_the_reorder_point_is_not_below_it():
    decision = replenishment(figures(demand=60, free=20))
    assert (decision.need, decision.quantity, decision.below_reorder_point) == (0, 0, False)


def test_raised_to_the_minimum_order_quantity():
    decision = replenishment(figures(demand=30, min_order_qty=24))  # need 10
    assert (decision.need, decision.quantity) == (10, 24)


def test_rounded_up_to_whole_packs():
    decision = replenishment(figures(demand=30, pack_size=6))  # need 10 -> 2 packs
    assert decision.quantity == 12
    exact = replenishment(figures(demand=36, pack_size=6))  # need 12: already whole packs
    assert exact.quantity == 12


def test_minimum_then_packs_when_the_minimum_is_not_a_whole_number_of_packs():
    decision = replenishment(figures(demand=30, min_order_qty=25, pack_size=12))  # need 10
    assert decision.quantity == 36  # 25 at least, in packs of 12


def test_nothing_to_buy_is_not_raised_to_the_minimum():
    decision = replenishment(figures(demand=0, min_order_qty=50, pack_size=12))
    assert (decision.reorder_point, decision.quantity) == (0, 0)


def test_the_window_spreads_the_same_demand_thinner():
    short = replenishment(figures(demand=28, window_days=14))  # 2 a day
    long = replenishment(figures(demand=28, window_days=56))  # 0.5 a day
    assert (short.reorder_point, long.reorder_point) == (20, 5)


def test_waiting_units_are_bought_even_without_demand_in_the_window():
    decision = replenishment(figures(demand=0, waiting=7, free=2))
    assert (decision.reorder_point, decision.quantity) == (0, 5)


@pytest.mark.parametrize(
    "bad", [{"window_days": 0}, {"min_order_qty": 0}, {"pack_size": 0}], ids=["window", "moq", "pack"]
)
def test_figures_no_caller_should_pass_are_refused(bad):
    with pytest.raises(ValueError, match="at least 1"):
        replenishment(figures(**bad))
