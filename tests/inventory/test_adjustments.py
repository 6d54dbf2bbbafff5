"""Adjustments, count corrections and returns: each writes the ledger, none breaks the rules."""

import pytest
from django.contrib.auth import get_user_model

from inventory.exceptions import InvalidQuantity, StockWouldGoNegative
from inventory.models import MovementKind, Stock, StockMovement
from inventory.selectors import stock_drift
from inventory.services import stock_adjust, stock_count, stock_return
from tests.helpers import receive
from tests.inventory.factories import SourceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shelf(source, product):
    """10 on hand at main (received through the ledger), 3 of them allocated."""
    receive(product, 10, source, reference="PO-1")
    Stock.objects.filter(source=source, product=product).update(allocated=3)
    return Stock.objects.get(source=source, product=product)


def counters(stock) -> tuple[int, int]:
    stock.refresh_from_db()
    return stock.on_hand, stock.allocated


def latest_movement() -> StockMovement:
    return StockMovement.objects.order_by("-pk").first()


# -- Adjustments ---------------------------------------------------------------------


def test_adjustment_up_and_down_writes_the_ledger(shelf, source, product):
    user = get_user_model().objects.create_user("merchant")

    found = stock_adjust(source=source, product=product, change=4, reason="Found in back room", user=user)
    damaged = stock_adjust(source=source, product=product, change=-2, reason="Damaged", reference="RMA-7")

    assert counters(shelf) == (12, 3)
    assert (found.kind, found.quantity, found.reason, found.user) == (
        MovementKind.ADJUSTMENT,
        4,
        "Found in back room",
        user,
    )
    assert (damaged.kind, damaged.quantity, damaged.reason, damaged.reference) == (
        MovementKind.ADJUSTMENT,
        -2,
        "Damaged",
        "RMA-7",
    )
    assert list(StockMovement.objects.order_by("pk").values_list("kind", "quantity")) == [
        ("receipt", 10),
        ("adjustment", 4),
        ("adjustment", -2),
    ]
    assert stock_drift() == []


def test_adjustment_down_to_exactly_the_allocated_units_is_allowed(shelf, source, product):
    stock_adjust(source=source, product=product, change=-7, reason="Water damage")

    assert counters(shelf) == (3, 3)


def test_adjustment_below_allocated_is_refused_and_changes_nothing(shelf, source, product):
    with pytest.raises(StockWouldGoNegative) as caught:
        stock_adjust(source=source, product=product, change=-8, reason="Lost")

    assert str(caught.value) == "KETTLE-1 at main: a change of -8 would leave 2 on hand with 3 allocated."
    assert (caught.value.on_hand, caught.value.allocated, caught.value.change) == (10, 3, -8)
    assert counters(shelf) == (10, 3)
    assert StockMovement.objects.count() == 1


def test_adjustment_below_zero_is_refused_and_changes_nothing(source, product):
    receive(product, 2, source, reference="PO-1")

    with pytest.raises(StockWouldGoNegative) as caught:
        stock_adjust(source=source, product=product, change=-3, reason="Lost")

    assert str(caught.value) == "KETTLE-1 at main: a change of -3 would leave -1 on hand with 0 allocated."
    assert Stock.objects.get().on_hand == 2
    assert StockMovement.objects.count() == 1


def test_adjustment_where_there_was_no_stock_row(source, product):
    with pytest.raises(StockWouldGoNegative, match="would leave -1 on hand"):
        stock_adjust(source=source, product=product, change=-1, reason="Lost")

    stock_adjust(source=source, product=product, change=2, reason="Found a box")

    assert Stock.objects.get(source=source, product=product).on_hand == 2
    assert StockMovement.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "reason", "message"),
    [
        (0, "Nothing", "An adjustment must change on hand by a non-zero whole number."),
        (1.5, "Half", "An adjustment must change on hand by a non-zero whole number."),
        (True, "Bool", "An adjustment must change on hand by a non-zero whole number."),
        (2, "   ", "An adjustment needs a reason."),
    ],
)
def test_bad_adjustment_is_refused(shelf, source, product, change, reason, message):
    with pytest.raises(InvalidQuantity) as caught:
        stock_adjust(source=source, product=product, change=change, reason=reason)

    assert str(caught.value) == message
    assert counters(shelf) == (10, 3)
    assert StockMovement.objects.count() == 1


# -- Count corrections ------------------------------------------------------------------


def test_count_sets_on_hand_and_records_the_difference(shelf, source, product):
    movement = stock_count(source=source, product=product, counted=7)

    assert counters(shelf) == (7, 3)
    assert (movement.kind, movement.quantity, movement.reason) == (MovementKind.COUNT, -3, "Stock count")
    assert stock_drift() == []


def test_count_above_the_counter_adds_units(shelf, source, product):
    movement = stock_count(source=source, product=product, counted=13, reason="Year-end count")

    assert counters(shelf) == (13, 3)
    assert (movement.quantity, movement.reason) == (3, "Year-end count")


def test_count_that_matches_writes_nothing(shelf, source, product):
    assert stock_count(source=source, product=product, counted=10) is None

    assert StockMovement.objects.count() == 1


def test_count_at_a_new_source_creates_the_stock_row(product):
    shop = SourceFactory(code="shop")

    movement = stock_count(source=shop, product=product, counted=4)

    assert movement.quantity == 4
    assert Stock.objects.get(source=shop, product=product).on_hand == 4


def test_count_below_allocated_is_refused_and_changes_nothing(shelf, source, product):
    with pytest.raises(StockWouldGoNegative) as caught:
        stock_count(source=source, product=product, counted=2)

    assert str(caught.value) == "KETTLE-1 at main: a change of -8 would leave 2 on hand with 3 allocated."
    assert counters(shelf) == (10, 3)
    assert StockMovement.objects.count() == 1


@pytest.mark.parametrize("counted", [-1, 2.5, "7"])
def test_impossible_count_is_refused(shelf, source, product, counted):
    with pytest.raises(InvalidQuantity) as caught:
        stock_count(source=source, product=product, counted=counted)

    assert str(caught.value) == f"A count must be 0 or more, got {counted!r}."
    assert counters(shelf) == (10, 3)


# -- Returns ------------------------------------------------------------------------


def test_return_puts_units_back_on_the_shelf(shelf, source, product):
    movement = stock_return(source=source, product=product, quantity=2, reference="RET-12")

    assert counters(shelf) == (12, 3)
    assert (movement.kind, movement.quantity, movement.reason, movement.reference) == (
        MovementKind.RETURN,
        2,
        "Customer return",
        "RET-12",
    )
    assert stock_drift() == []


@pytest.mark.parametrize("quantity", [0, -2])
def test_return_of_no_units_is_refused(shelf, source, product, quantity):
    with pytest.raises(InvalidQuantity, match="quantity must be a positive whole number"):
        stock_return(source=source, product=product, quantity=quantity, reference="RET-12")

    assert counters(shelf) == (10, 3)
    assert StockMovement.objects.count() == 1


def test_only_changes_that_add_units_announce_free_stock(
    shelf, source, product, heard_freed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        stock_adjust(source=source, product=product, change=-1, reason="Damaged")
    assert heard_freed == []
    with django_capture_on_commit_callbacks(execute=True):
        stock_return(source=source, product=product, quantity=1, reference="RET-1")
    with django_capture_on_commit_callbacks(execute=True):
        stock_count(source=source, product=product, counted=12)

    assert heard_freed == [[product.pk], [product.pk]]
