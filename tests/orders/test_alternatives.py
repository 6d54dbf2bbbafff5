"""Alternatives (orders.selectors.alternatives_for): what a customer is offered instead of a
product that cannot ship now. Real stock, real waiting rows."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.models import Category
from orders.selectors import alternatives_for
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.orders.factories import OrderRowFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]


@pytest.fixture
def kettles():
    return Category.objects.create(name="Kettles", slug="kettles")


def stocked(source, category, price, units=3, **fields):
    product = ProductFactory(category=category, price=Decimal(price), **fields)
    if units:
        receive(product, units, source)
    return product


def names(found) -> list[str]:
    return [a.product.name for a in found]


def test_automatic_ones_are_the_same_categorys_in_stock_nearest_in_price_at_most_4(main, kettles):
    sold_out = ProductFactory(category=kettles, price=Decimal("50.00"), name="Sold-out kettle")
    for name, price in [
        ("A", "49.00"),
        ("B", "52.00"),
        ("C", "40.00"),
        ("D", "60.00"),
        ("E", "75.00"),
        ("F", "51.00"),
    ]:
        stocked(main, kettles, price, name=name)
    stocked(main, None, "50.00", name="Uncategorised")  # nearest price, another category
    stocked(main, Category.objects.create(name="Mugs", slug="mugs"), "50.00", name="Mug")

    # Distances 1, 1, 2, 10, 10 (then 25): the tie at 1 by name, at most four.
    assert names(alternatives_for(product=sold_out)) == ["A", "F", "B", "C"]


def test_out_of_stock_waiting_held_back_pre_order_inactive_and_itself_are_never_offered(main, kettles):
    product = stocked(main, kettles, "50.00", name="Itself")  # in stock, yet never its own alternative
    # Four of each kind that cannot ship now, all at the nearest price, so that any one kind
    # let through would fill the four places.
    for i in range(4):
        stocked(main, kettles, "50.00", units=0, name=f"Empty {i}")
        stocked(
            main,
            kettles,
            "50.00",
            units=2,
            name=f"Held back {i}",
            use_global_safety_stock=False,
            safety_stock=2,
        )
        queued = stocked(main, kettles, "50.00", units=1, name=f"Queued {i}", backorderable=True)
        OrderRowFactory(product=queued, quantity=1)  # the free unit belongs to the waiting row
        stocked(main, kettles, "50.00", name=f"Pre-order {i}", preorder=True)  # on the shelf before release
        stocked(main, kettles, "50.00", name=f"Retired {i}", is_active=False)
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    stocked(main, kettles, "60.00", name="Released", preorder_enabled=True, release_date=yesterday)
    stocked(main, kettles, "90.00", name="Far but fine")

    assert names(alternatives_for(product=product)) == ["Released", "Far but fine"]


def test_the_merchants_choice_comes_first_and_replaces_the_automatic_ones(main, kettles):
    product = ProductFactory(category=kettles, price=Decimal("50.00"))
    stocked(main, kettles, "50.00", name="Same price")
    far = stocked(main, None, "99.00", name="Merchant's far pick")
    near = stocked(main, None, "45.00", name="Merchant's near pick")
    gone = stocked(main, None, "50.00", units=0, name="Merchant's sold-out pick")
    product.alternatives.set([far, near, gone])

    # Chosen and in stock: nearest price first; the sold-out one left out; no automatic ones.
    assert names(alternatives_for(product=product)) == ["Merchant's near pick", "Merchant's far pick"]

    # None of the chosen in stock: the automatic ones.
    product.alternatives.set([gone])
    assert names(alternatives_for(product=product)) == ["Same price"]


def test_no_category_and_no_choice_offers_nothing(main):
    product = ProductFactory(category=None)
    stocked(main, None, "19.90")
    assert alternatives_for(product=product) == []


def test_queries_are_pinned_whatever_the_number_of_candidates(main, kettles, django_assert_num_queries):
    product = ProductFactory(category=kettles, price=Decimal("50.00"))
    for i in range(12):
        stocked(main, kettles, f"{40 + i}.00")
    # Merchant's choice (none), the category's nearest four, availability's four.
    with django_assert_num_queries(6):
        found = alternatives_for(product=product)
    assert len(found) == 4
