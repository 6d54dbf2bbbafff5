"""The session cart: add, change, remove, re-checked on every view, tamper-proof."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders.services import CartLine, Customer, checkout_place_order
from storefront.cart import SESSION_KEY
from tests.catalog.factories import ProductFactory
from tests.helpers import receive

pytestmark = pytest.mark.django_db
CART = reverse("storefront:cart")


def stocked(source, qty=10, **kwargs):
    product = ProductFactory(**kwargs)
    if qty:
        receive(product, qty, source)
    return product


def add(client, product_id, quantity, follow=True):
    return client.post(
        reverse("storefront:cart_add"), {"product_id": product_id, "quantity": quantity}, follow=follow
    )


def cart_of(client) -> dict:
    return dict(client.session.get(SESSION_KEY, {}))


def texts(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def set_cart(client, data) -> None:
    session = client.session
    session[SESSION_KEY] = data
    session.save()


def sell_elsewhere(product, quantity):
    checkout_place_order(
        lines=[CartLine(product.pk, quantity)], customer=Customer("o@example.com", "Other", "Road 2")
    )


# -- add / change / remove ------------------------------------------------------------------------


def test_add_puts_the_product_in_the_cart_and_adds_up(client, source):
    product = stocked(source)
    response = add(client, product.pk, 2)
    assert response.redirect_chain[-1][0] == CART
    assert f"Added 2 × {product.name} to your cart." in texts(response)
    add(client, product.pk, 3)
    assert cart_of(client) == {str(product.pk): 5}
    html = client.get(CART).content.decode()
    assert product.name in html and 'value="5"' in html


def test_add_more_than_available_is_refused_and_nothing_changes(client, source):
    product = stocked(source, qty=3)
    add(client, product.pk, 2)
    response = add(client, product.pk, 2)
    assert f"Only 3 of {product.name} available." in texts(response)
    assert cart_of(client) == {str(product.pk): 2}


def test_adds_past_the_per_order_limit_in_total_are_refused(client, source):
    product = stocked(source, qty=20_000)
    add(client, product.pk, 6_000)
    response = add(client, product.pk, 5_000)  # each is allowed, together they are not
    assert f"{product.name}: at most 10,000 per order." in texts(response)
    assert cart_of(client) == {str(product.pk): 6_000}


def test_out_of_stock_product_cannot_be_added(client):
    product = ProductFactory()
    response = add(client, product.pk, 1)
    assert f"{product.name} is out of stock." in texts(response)
    assert cart_of(client) == {}


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("0", "Quantity must be at least 1."),
        ("-3", "Quantity must be at least 1."),
        ("abc", "Quantity must be a whole number."),
        ("2.5", "Quantity must be a whole number."),
        ("1000000000", "Quantity must be at most 10,000."),
        ("", "Enter a quantity."),
    ],
)
def test_bad_quantities_get_a_clear_message_and_write_nothing(client, source, quantity, message):
    product = stocked(source)
    response = add(client, product.pk, quantity)
    assert f"{product.name}: {message}" in texts(response)
    assert response.redirect_chain[-1][0] == reverse(
        "storefront:product_detail", kwargs={"slug": product.slug}
    )
    assert cart_of(client) == {}


@pytest.mark.parametrize("product_id", ["999999", "abc", "-1", "", "99999999999999999999999"])
def test_unknown_or_unreadable_product_id_is_404(client, product_id):
    assert add(client, product_id, 1, follow=False).status_code == 404
    assert cart_of(client) == {}


def test_inactive_product_is_404(client, source):
    product = stocked(source, is_active=False)
    assert add(client, product.pk, 1, follow=False).status_code == 404
    assert cart_of(client) == {}


def test_adding_needs_post(client, source):
    product = stocked(source)
    response = client.get(reverse("storefront:cart_add"), {"product_id": product.pk, "quantity": 1})
    assert response.status_code == 405


def test_add_without_csrf_token_is_403_and_writes_nothing(source):
    client = Client(enforce_csrf_checks=True)
    product = stocked(source)
    response = add(client, product.pk, 1, follow=False)
    assert response.status_code == 403
    assert cart_of(client) == {}


def test_change_quantity(client, source):
    product = stocked(source, qty=5)
    add(client, product.pk, 1)
    response = client.post(
        reverse("storefront:cart_update"), {"product_id": product.pk, "quantity": 4}, follow=True
    )
    assert f"{product.name}: quantity changed to 4." in texts(response)
    assert cart_of(client) == {str(product.pk): 4}


@pytest.mark.parametrize("quantity", ["0", "-1", "x", "1000000000", "6"])
def test_bad_or_unavailable_change_leaves_the_cart_alone(client, source, quantity):
    product = stocked(source, qty=5)
    add(client, product.pk, 2)
    response = client.post(
        reverse("storefront:cart_update"), {"product_id": product.pk, "quantity": quantity}, follow=True
    )
    assert any("Your cart was not changed." in t for t in texts(response))
    assert cart_of(client) == {str(product.pk): 2}


def test_change_of_a_product_not_in_the_cart(client, source):
    product = stocked(source)
    response = client.post(
        reverse("storefront:cart_update"), {"product_id": product.pk, "quantity": 1}, follow=True
    )
    assert f"{product.name} is not in your cart." in texts(response)
    assert cart_of(client) == {}


def test_remove(client, source):
    keep, drop = stocked(source), stocked(source)
    add(client, keep.pk, 1)
    add(client, drop.pk, 1)
    response = client.post(reverse("storefront:cart_remove"), {"product_id": drop.pk}, follow=True)
    assert f"{drop.name} was removed from your cart." in texts(response)
    assert cart_of(client) == {str(keep.pk): 1}
    assert client.post(reverse("storefront:cart_remove"), {"product_id": "x"}).status_code == 404


def test_empty_cart_page(client):
    assert "Your cart is empty." in client.get(CART).content.decode()


# -- what the cart says about availability ---------------------------------------------------------


def test_notify_product_cart_says_how_many_are_backordered(client, source):
    product = stocked(source, qty=3, notify=True)
    response = add(client, product.pk, 5)
    assert any("3 in stock now, 2 will be backordered." in t for t in texts(response))
    assert "3 in stock now, 2 will be backordered." in response.content.decode()


def test_allow_product_cart_stays_silent_about_backorders(client, source):
    product = stocked(source, qty=3, backorderable=True)
    response = add(client, product.pk, 5)
    assert "backordered" not in response.content.decode()
    assert cart_of(client) == {str(product.pk): 5}


def test_cart_rechecks_and_says_when_a_quantity_is_no_longer_available(client, source):
    product = stocked(source, qty=5)
    add(client, product.pk, 4)
    sell_elsewhere(product, 3)
    response = client.get(CART)
    html = response.content.decode()
    assert any(f"Only 2 of {product.name} available." in t for t in texts(response))
    assert "Available now: 2." in html
    assert "Check out</a>" not in html
    # Told once; the line stays marked until the customer fixes it.
    again = client.get(CART)
    assert texts(again) == [] and "Available now: 2." in again.content.decode()


def test_cart_tells_a_notify_customer_when_stock_ran_out_under_them(client, source):
    product = stocked(source, qty=5, notify=True)
    add(client, product.pk, 4)
    sell_elsewhere(product, 3)
    response = client.get(CART)
    assert any("stock has changed — 2 in stock now, 2 will be backordered." in t for t in texts(response))


def test_product_gone_inactive_is_removed_with_a_message(client, source):
    product = stocked(source)
    add(client, product.pk, 1)
    product.is_active = False
    product.save()
    response = client.get(CART)
    assert f"{product.name} is no longer available, so we removed it from your cart." in texts(response)
    assert cart_of(client) == {}


def test_tampered_session_lines_are_dropped_with_a_message(client, source):
    good = stocked(source)
    retired = stocked(source, is_active=False)
    set_cart(
        client,
        {
            str(good.pk): 2,
            "abc": 1,
            "-4": 1,
            "007": 1,
            str(good.pk + 1000): 1,  # unknown product
            str(retired.pk): 1,
            "12": "lots",
            "13": True,
            "14": -1,
            "15": 10**9,
            "16": None,
            "17": 1.5,
        },
    )
    response = client.get(CART)
    messages = texts(response)
    assert "We removed 9 items from your cart that we could not read. Please add them again." in messages
    assert "1 item in your cart is no longer sold and we removed it." in messages
    assert f"{retired.name} is no longer available, so we removed it from your cart." in messages
    assert cart_of(client) == {str(good.pk): 2}


@pytest.mark.parametrize("junk", [["1", 2], "x", 7, [[1, 2]]])
def test_a_cart_that_is_not_a_mapping_is_reset(client, junk):
    set_cart(client, junk)
    response = client.get(CART)
    assert "We removed 1 item from your cart that we could not read. Please add it again." in texts(response)
    assert cart_of(client) == {}


def test_cart_queries_do_not_grow_with_lines(client, source, django_assert_num_queries):
    products = [stocked(source, notify=True) for _ in range(5)]
    add(client, products[0].pk, 12)  # partly backordered
    client.get(CART)  # warm up: the first look stores what the customer saw
    with CaptureQueriesContext(connection) as one:
        assert client.get(CART).status_code == 200
    expected = len(one)  # read it now: the next request resets the connection's query log
    for product in products[1:]:
        add(client, product.pk, 2)
    client.get(CART)
    with django_assert_num_queries(expected):
        response = client.get(CART)
    assert len(response.context["review"].lines) == 5
