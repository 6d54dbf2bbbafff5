"""The storefront's discounted prices and alternatives, as a customer reads the pages.

Discounts: product page, list, cart, checkout and order page show the discounted price and
why, only for the units that wait. Alternatives: "Want it sooner? In stock now:" where a
product cannot ship now and beside a refused line, each with an add-to-cart form.
"""

from decimal import Decimal
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import strip_tags

from catalog.models import Category
from orders.models import Order
from tests.billing.factories import shop_settings
from tests.catalog.factories import DiscountRuleFactory, ProductFactory
from tests.helpers import receive
from tests.storefront.paying import pay

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]
ADD_URL = reverse("storefront:cart_add")
CART = reverse("storefront:cart")
CHECKOUT = reverse("storefront:checkout")
GUEST = {"email": "ada@example.com", "full_name": "Ada Lovelace", "address": "1 Analytical Way\nLondon"}
SOONER = "Want it sooner? In stock now:"


@pytest.fixture(autouse=True)
def shop(settings):
    return shop_settings(settings)


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return " ".join(unescape(strip_tags(response.content.decode())).split())


def html_of(response) -> str:
    return response.content.decode()


def product_page(client, product, **params) -> str:
    return text(product_response(client, product, **params))


def product_response(client, product, **params):
    return client.get(reverse("storefront:product_detail", kwargs={"slug": product.slug}), params)


def add(client, product, quantity):
    return client.post(ADD_URL, {"product_id": product.pk, "quantity": quantity}, follow=True)


# -- discounts ----------------------------------------------------------------------------------


def test_pre_order_page_shows_the_discounted_price_and_why(client):
    game = ProductFactory(name="Game", preorder=True, price=Decimal("60.00"))
    DiscountRuleFactory(value=Decimal("10"), applies_to="preorder")
    html = product_page(client, game)
    assert "Was €60.00 €54.00" in html
    assert "10 % off while on pre-order" in html


def test_product_page_splits_the_price_of_units_from_stock_and_units_that_wait(client, source):
    kettle = ProductFactory(name="Kettle", notify=True, price=Decimal("20.00"))
    receive(kettle, 2, source)
    DiscountRuleFactory(value=Decimal("10"), applies_to="backorder")

    # One unit ships from stock: the list price, no discount shown.
    one = product_page(client, kettle)
    assert "€20.00" in one and "off while on backorder" not in one
    # Five: 2 from stock at full price, 3 backordered at 10 % off.
    five = product_page(client, kettle, quantity=5)
    assert "2 × €20.00 full price" in five
    assert "3 × €18.00 was €20.00 (10 % off while on backorder)" in five


def test_list_shows_discounted_prices_reading_the_rules_once(client, source):
    for i in range(6):
        ProductFactory(name=f"Game {i}", preorder=True, price=Decimal("60.00"))
    in_stock = ProductFactory(name="Kettle", price=Decimal("20.00"))
    receive(in_stock, 5, source)
    DiscountRuleFactory(value=Decimal("10"), applies_to="preorder")

    with CaptureQueriesContext(connection) as queries:
        html = text(client.get(reverse("storefront:product_list")))

    assert html.count("Was €60.00 €54.00") == 6
    assert html.count("10 % off while on pre-order") == 6
    assert "Was €20.00" not in html
    rule_reads = [q for q in queries.captured_queries if 'FROM "catalog_discountrule"' in q["sql"]]
    assert len(rule_reads) == 1


def test_cart_checkout_and_order_page_show_the_split_price_and_the_same_amounts(client, source):
    kettle = ProductFactory(name="Kettle", notify=True, price=Decimal("20.00"))
    receive(kettle, 2, source)
    DiscountRuleFactory(value=Decimal("10"), applies_to="backorder")
    add(client, kettle, 5)

    cart = text(client.get(CART))
    assert "2 × €20.00 full price" in cart and "3 × €18.00 was €20.00 (10 % off while on backorder)" in cart
    # 2 x 20.00 + 3 x 18.00 = 94.00; shipping 4.90: 98.90.
    assert "Subtotal€94.00" in cart.replace(" ", "") and "Total€98.90" in cart.replace(" ", "")
    checkout = text(client.get(CHECKOUT))
    assert "3 × €18.00" in checkout and "Total€98.90" in checkout.replace(" ", "")

    placed = client.post(CHECKOUT, GUEST)
    order = Order.objects.get()
    assert order.totals.total == Decimal("98.90")
    page = text(pay(client, placed.url))
    assert "3 × €18.00 was €20.00 (10 % off while on backorder)" in page
    assert "€98.90" in page and "€54.00" in page and "€40.00" in page


# -- alternatives -------------------------------------------------------------------------------


@pytest.fixture
def kettles(source):
    category = Category.objects.create(name="Kettles", slug="kettles")
    steel = ProductFactory(name="Steel kettle", category=category, price=Decimal("45.00"))
    receive(steel, 3, source)
    return category, steel


def alternative_forms(page: str, product) -> int:
    """Add-to-cart forms for ``product`` on the page (its raw HTML)."""
    return page.count(f'<input type="hidden" name="product_id" value="{product.pk}">')


def test_out_of_stock_page_offers_an_alternative_that_can_be_bought(client, kettles):
    category, steel = kettles
    glass = ProductFactory(name="Glass kettle", category=category, price=Decimal("50.00"))

    response = product_response(client, glass)

    assert "Out of stock" in text(response) and SOONER in text(response)
    assert "Steel kettle €45.00 Add to cart: Steel kettle" in text(response)
    assert alternative_forms(html_of(response), steel) == 1
    response = add(client, steel, 1)
    assert "Added 1 × Steel kettle to your cart." in [str(m) for m in response.context["messages"]]


@pytest.mark.parametrize(
    "fields",
    [
        {"notify": True},
        {"preorder": True},
        {"backorderable": True, "use_global_backorder_limit": False, "backorder_limit": 0},
    ],
    ids=["backorder", "pre-order", "no longer taking backorders"],
)
def test_pages_that_cannot_ship_now_offer_alternatives(client, kettles, fields):
    category, steel = kettles
    glass = ProductFactory(name="Glass kettle", category=category, **fields)
    response = product_response(client, glass)
    assert SOONER in text(response) and alternative_forms(html_of(response), steel) == 1


def test_an_in_stock_page_offers_none(client, kettles, source):
    category, steel = kettles
    glass = ProductFactory(name="Glass kettle", category=category)
    receive(glass, 1, source)
    assert SOONER not in product_page(client, glass)


def test_a_refused_cart_and_checkout_line_has_its_alternatives(client, kettles, source):
    category, steel = kettles
    glass = ProductFactory(name="Glass kettle", category=category)
    receive(glass, 1, source)
    add(client, glass, 1)
    # Sold elsewhere: the line is refused now.
    glass.stocks.update(on_hand=0)

    cart = client.get(CART)
    assert "Glass kettle is out of stock." in text(cart) and SOONER in text(cart)
    assert alternative_forms(html_of(cart), steel) == 1
    summary = client.get(CHECKOUT)
    assert SOONER in text(summary) and alternative_forms(html_of(summary), steel) == 1
    # Placing it anyway is refused by the checkout, with the alternatives beside the line.
    refused = client.post(CHECKOUT, GUEST)
    assert "We could not place your order" in text(refused)
    assert SOONER in text(refused) and alternative_forms(html_of(refused), steel) == 1
    assert not Order.objects.exists()


def test_an_out_of_stock_page_costs_the_same_queries_for_1_or_4_alternatives(client, source):
    def queries_for(alternatives: int) -> int:
        category = Category.objects.create(name=f"Shelf {alternatives}", slug=f"shelf-{alternatives}")
        for i in range(alternatives):
            receive(ProductFactory(name=f"Alt {alternatives}-{i}", category=category), 2, source)
        gone = ProductFactory(name=f"Gone {alternatives}", category=category)
        with CaptureQueriesContext(connection) as queries:
            html = product_page(client, gone)
        assert html.count("Add to cart: Alt ") == alternatives
        return len(queries)

    assert queries_for(1) == queries_for(4)
