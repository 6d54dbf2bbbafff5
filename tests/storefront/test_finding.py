"""Finding products: search, the availability filter and the sorts on the listings,
category pages with their subcategories, breadcrumbs, and the query counts."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders.services import CartLine, Customer, checkout_place_order
from tests.catalog.factories import CategoryFactory, ProductFactory
from tests.helpers import receive

pytestmark = pytest.mark.django_db
SHOP = reverse("storefront:product_list")


def names(response) -> list[str]:
    """The product names of the listing's cards, in the order shown."""
    assert response.status_code == 200
    return re.findall(r'class="card__title"><a href="[^"]+">([^<]+)</a>', response.content.decode())


def in_days(n: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=n)


@pytest.fixture
def shelf(source):
    """One product per availability state; names sort unlike the ship dates and prices."""
    stocked = ProductFactory(name="Elm stool", price=Decimal("40.00"))
    receive(stocked, 5, source)
    ProductFactory(
        name="Dune lamp", price=Decimal("10.00"), backorderable=True, expected_restock_date=in_days(5)
    )
    ProductFactory(
        name="Cedar box", price=Decimal("30.00"), backorderable=True, expected_restock_date=in_days(12)
    )
    ProductFactory(name="Aster vase", price=Decimal("20.00"), preorder=True)  # releases in 30 days
    ProductFactory(name="Birch tray", price=Decimal("50.00"))  # out of stock, backorders off
    # On the shelf but all held back (safety stock): the rule says not in stock, not orderable.
    held = ProductFactory(
        name="Fir peg", price=Decimal("5.00"), use_global_safety_stock=False, safety_stock=2
    )
    receive(held, 2, source)
    # Free units all promised to a waiting row: a new order would wait, so not in stock now.
    queued = ProductFactory(name="Gum jar", price=Decimal("15.00"), backorderable=True)
    checkout_place_order(lines=[CartLine(queued.pk, 2)], customer=Customer("a@example.com", "A", "Street 1"))
    receive(queued, 1, source)


def test_the_shop_lists_by_name_by_default(client, shelf):
    assert names(client.get(SHOP)) == [
        "Aster vase",
        "Birch tray",
        "Cedar box",
        "Dune lamp",
        "Elm stool",
        "Fir peg",
        "Gum jar",
    ]


def test_in_stock_now_keeps_what_ships_from_the_shelf(client, shelf):
    assert names(client.get(SHOP, {"availability": "in_stock"})) == ["Elm stool"]


def test_can_be_ordered_keeps_stock_backorders_and_pre_orders(client, shelf):
    assert names(client.get(SHOP, {"availability": "orderable"})) == [
        "Aster vase",
        "Cedar box",
        "Dune lamp",
        "Elm stool",
        "Gum jar",
    ]


def test_sorted_by_ships_by_date(client, shelf):
    # Today from stock; then the promise dates: the queued jar (lead time, 14 days), the lamp
    # (restock in 5) before the box (12); the vase on its release (30); what cannot be ordered last.
    shown = names(client.get(SHOP, {"sort": "ships_by"}))

    assert shown[:5] == ["Elm stool", "Dune lamp", "Cedar box", "Gum jar", "Aster vase"]
    assert sorted(shown[5:]) == ["Birch tray", "Fir peg"]


def test_sorted_by_price_both_ways(client, shelf):
    assert names(client.get(SHOP, {"sort": "price"})) == [
        "Fir peg",
        "Dune lamp",
        "Gum jar",
        "Aster vase",
        "Cedar box",
        "Elm stool",
        "Birch tray",
    ]
    assert names(client.get(SHOP, {"sort": "-price"}))[0] == "Birch tray"


def test_filter_and_sort_together_with_a_search(client, shelf):
    ProductFactory(name="Lamp shade", backorderable=True)  # lead time: ships in 14 days

    response = client.get(SHOP, {"q": "lamp", "availability": "orderable", "sort": "ships_by"})

    assert names(response) == ["Dune lamp", "Lamp shade"]
    assert "2 products found for “lamp”." in response.content.decode()


def test_search_through_the_shop_ranks_name_hits_first(client):
    ProductFactory(name="Asian teapot", description="Pairs with any kettle.")
    ProductFactory(name="Steel kettle")

    response = client.get(SHOP, {"q": "kettle"})

    assert names(response) == ["Steel kettle", "Asian teapot"]
    html = response.content.decode()
    assert 'value="kettle"' in html  # the box keeps what was searched
    assert "<title>Search: kettle · Shop" in html


def test_nothing_found_says_so(client, shelf):
    html = client.get(SHOP, {"q": "zeppelin"}).content.decode()

    assert "No product matches." in html and "0 products found for “zeppelin”." in html


def test_bad_filter_values_fall_back_to_the_defaults(client, shelf):
    assert len(names(client.get(SHOP, {"availability": "soon", "sort": "colour", "page": "x"}))) == 7


def test_pages_keep_the_search_filter_and_sort(client, source):
    for i in range(14):
        receive(ProductFactory(name=f"Stool {i:02d}"), 1, source)
    ProductFactory(name="Stool 99")  # out of stock

    first = client.get(SHOP, {"q": "stool", "availability": "in_stock", "sort": "-price", "page": 1})
    html = first.content.decode()
    assert len(names(first)) == 12
    assert 'href="?q=stool&amp;availability=in_stock&amp;sort=-price&amp;page=2" rel="next"' in html
    second = client.get(SHOP, {"q": "stool", "availability": "in_stock", "sort": "-price", "page": 2})
    assert len(names(second)) == 2 and "Stool 99" not in names(second)


# -- query counts ----------------------------------------------------------------------


# One page in SQL: categories, count, the page, the four of availability (global settings, free
# stock, waiting units, inbound supply), pictures. Filtered or by ships-by date: categories,
# every candidate, the four of availability, pictures.
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, 8),
        ({"q": "stool"}, 8),
        ({"sort": "price"}, 8),
        ({"availability": "in_stock"}, 7),
        ({"q": "stool", "availability": "orderable", "sort": "ships_by"}, 7),
    ],
    ids=["shop", "search", "price", "in-stock", "search-filter-ships-by"],
)
def test_listing_queries_do_not_grow_with_products(
    client, source, params, expected, django_assert_num_queries
):
    kitchen = CategoryFactory(name="Kitchen")
    CategoryFactory(name="Kettles", parent=kitchen)

    def make(n):
        for _ in range(n):
            product = ProductFactory(name="Stool", backorderable=True, category=kitchen)
            receive(product, 1, source)

    make(2)
    client.get(SHOP, params)  # warm up: the global settings row is created once
    with django_assert_num_queries(expected):
        assert client.get(SHOP, params).status_code == 200
    make(20)
    with django_assert_num_queries(expected):
        assert client.get(SHOP, params).status_code == 200


# -- categories ----------------------------------------------------------------------


@pytest.fixture
def tree():
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen", position=1)
    kettles = CategoryFactory(name="Kettles", slug="kettles", parent=kitchen)
    garden = CategoryFactory(name="Garden", slug="garden", position=2)
    ProductFactory(name="Steel kettle", category=kettles)
    ProductFactory(name="Chef knife", category=kitchen)
    ProductFactory(name="Retired kettle", category=kettles, is_active=False)
    ProductFactory(name="Rake", category=garden)
    return kitchen, kettles, garden


def test_a_category_page_lists_its_products_and_its_subcategories_products(client, tree):
    kitchen, kettles, _garden = tree

    assert names(client.get(kitchen.get_absolute_url())) == ["Chef knife", "Steel kettle"]
    assert names(client.get(kettles.get_absolute_url())) == ["Steel kettle"]


def test_a_category_page_searches_and_filters_within_the_category(client, tree, source):
    kitchen, _kettles, _garden = tree
    ProductFactory(name="Garden kettle", category=tree[2])

    assert names(client.get(kitchen.get_absolute_url(), {"q": "kettle"})) == ["Steel kettle"]
    assert names(client.get(kitchen.get_absolute_url(), {"availability": "in_stock"})) == []


def test_an_unknown_category_is_not_found(client, tree):
    assert client.get(reverse("storefront:category_detail", kwargs={"slug": "nope"})).status_code == 404


def test_breadcrumbs_on_a_subcategory_page(client, tree):
    kitchen, kettles, _garden = tree

    html = client.get(kettles.get_absolute_url()).content.decode()

    assert (
        '<nav class="breadcrumbs" aria-label="Breadcrumb">'
        f'<a href="{SHOP}">Shop</a> <span aria-hidden="true">/</span> '
        f'<a href="{kitchen.get_absolute_url()}">Kitchen</a> <span aria-hidden="true">/</span> '
        '<span aria-current="page">Kettles</span></nav>'
    ) in html
    assert "<h1>Kettles</h1>" in html


def test_breadcrumbs_on_a_product_page_name_its_categories(client, tree):
    kitchen, kettles, _garden = tree
    product = kettles.products.get(name="Steel kettle")

    html = client.get(product.get_absolute_url()).content.decode()

    assert (
        f'<a href="{SHOP}">Shop</a> <span aria-hidden="true">/</span> '
        f'<a href="{kitchen.get_absolute_url()}">Kitchen</a> <span aria-hidden="true">/</span> '
        f'<a href="{kettles.get_absolute_url()}">Kettles</a> <span aria-hidden="true">/</span> '
        '<span aria-current="page">Steel kettle</span>'
    ) in html


def test_an_uncategorised_product_page_has_the_shop_crumb_only(client):
    product = ProductFactory(name="Loose item")

    html = client.get(product.get_absolute_url()).content.decode()

    assert (
        f'<a href="{SHOP}">Shop</a> <span aria-hidden="true">/</span> '
        '<span aria-current="page">Loose item</span>'
    ) in html


def test_the_listings_show_the_category_tree(client, tree):
    kitchen, kettles, garden = tree

    html = client.get(kettles.get_absolute_url()).content.decode()
    nav = html[html.index('<nav class="categories"') :]
    nav = nav[: nav.index("</nav>")]

    assert re.findall(r">([A-Z][a-z]+)</a>", nav) == ["Kitchen", "Kettles", "Garden"]
    assert f'<a href="{kettles.get_absolute_url()}" aria-current="page">Kettles</a>' in nav


def test_category_and_product_page_queries_do_not_grow(client, tree, django_assert_num_queries):
    kitchen, kettles, _garden = tree
    product = kettles.products.get(name="Steel kettle")
    for url in (kitchen.get_absolute_url(), product.get_absolute_url()):
        client.get(url)
        with CaptureQueriesContext(connection) as few:
            client.get(url)
        expected = len(few)
        ProductFactory.create_batch(5, category=kettles)
        CategoryFactory.create_batch(3, parent=kitchen)
        with django_assert_num_queries(expected):
            assert client.get(url).status_code == 200
