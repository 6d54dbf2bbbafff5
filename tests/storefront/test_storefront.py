"""Product list and product page: badge, button label, notes, the notify split, query counts."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders.services import CartLine, Customer, checkout_place_order
from tests.catalog.factories import ProductFactory, global_settings_set
from tests.helpers import receive
from tests.inventory.factories import SourceFactory

pytestmark = pytest.mark.django_db
ADD_URL = reverse("storefront:cart_add")


def page(client, product, **params):
    response = client.get(reverse("storefront:product_detail", kwargs={"slug": product.slug}), params)
    assert response.status_code == 200
    return response.content.decode()


def has_add_button(html: str) -> bool:
    return f'action="{ADD_URL}"' in html


# -- product list -------------------------------------------------------------------------------


def test_list_shows_active_products_with_badge_and_state_button(client, source):
    in_stock = ProductFactory(name="Kettle")
    receive(in_stock, 10, source)
    ProductFactory(name="Poster")  # out of stock, backorders off
    ProductFactory(name="Lamp", notify=True, backorder_label="Order ahead")
    ProductFactory(name="Record", preorder=True)
    ProductFactory(name="Retired", is_active=False)

    html = client.get(reverse("storefront:product_list")).content.decode()

    assert "Kettle" in html and "In stock" in html and "Add to cart" in html
    assert "Poster" in html and "Out of stock" in html
    assert "Available on backorder" in html and "Order ahead" in html
    assert "Pre-order — releases" in html and ">Pre-order<" in html
    assert "Retired" not in html
    assert html.count(f'action="{ADD_URL}"') == 3  # not for the out-of-stock poster


def test_list_is_paginated_by_twelve(client):
    for i in range(13):
        ProductFactory(name=f"Item {i:02d}")
    first = client.get(reverse("storefront:product_list")).content.decode()
    second = client.get(reverse("storefront:product_list"), {"page": 2}).content.decode()
    assert "Item 11" in first and "Item 12" not in first
    assert "Item 12" in second and "Item 00" not in second
    assert "Page 2 of 2" in second
    # A page number that is not one falls back to a real page instead of an error.
    assert client.get(reverse("storefront:product_list"), {"page": "x"}).status_code == 200
    assert client.get(reverse("storefront:product_list"), {"page": "999"}).status_code == 200


def test_product_list_queries_do_not_grow_with_products(client, django_assert_num_queries, source):
    def make(n):
        for _ in range(n):
            product = ProductFactory(backorderable=True)
            receive(product, 2, source)
            receive(product, 1, SourceFactory())

    make(3)
    client.get(reverse("storefront:product_list"))  # warm up: the global settings row is created once
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("storefront:product_list")).status_code == 200
    expected = len(few)  # read it now: the next request resets the connection's query log
    make(9)
    with django_assert_num_queries(expected):
        assert client.get(reverse("storefront:product_list")).status_code == 200


# -- product page -------------------------------------------------------------------------------


def test_inactive_or_unknown_product_page_is_404(client):
    retired = ProductFactory(is_active=False)
    assert client.get(reverse("storefront:product_detail", kwargs={"slug": retired.slug})).status_code == 404
    assert client.get(reverse("storefront:product_detail", kwargs={"slug": "nope"})).status_code == 404


def test_in_stock_and_low_stock_badges(client, source):
    plenty, few = ProductFactory(), ProductFactory()
    receive(plenty, 20, source)
    receive(few, 1, source)
    assert "In stock" in page(client, plenty)
    html = page(client, few)
    assert "Only 1 left" in html and "Add to cart" in html


def test_backorder_note_fills_in_the_effective_lead_time(client):
    product = ProductFactory(
        notify=True,
        use_global_lead_time_days=False,
        lead_time_days=30,
        backorder_label="Backorder now",
        backorder_note="Backorder now — ships in ~{days} days",
        expected_restock_date=timezone.localdate() + dt.timedelta(days=9),
    )
    html = page(client, product)
    assert "Available on backorder" in html
    assert "ships in ~30 days" in html and "{days}" not in html
    assert ">Backorder now<" in html
    assert "Expected back in stock" in html
    assert f"{product.expected_restock_date:%-d %b %Y}" in html


def test_default_backorder_label_and_global_lead_time(client):
    global_settings_set(lead_time_days=21)
    product = ProductFactory(notify=True, backorder_note="Ships in about {days} days")
    html = page(client, product)
    assert ">Backorder<" in html and "Ships in about 21 days" in html
    assert "Expected back in stock" not in html  # no date known


def test_preorder_page_shows_release_date_custom_label_and_note(client):
    product = ProductFactory(preorder=True, preorder_label="Reserve yours", preorder_note="One per fan.")
    html = page(client, product)
    assert f"Pre-order — releases {product.release_date:%-d %b %Y}" in html
    assert ">Reserve yours<" in html and "One per fan." in html


def test_refused_states_show_no_add_button(client, source):
    out = ProductFactory()
    exhausted = ProductFactory(notify=True, use_global_backorder_limit=False, backorder_limit=2)
    checkout_place_order(
        lines=[CartLine(exhausted.pk, 2)], customer=Customer("a@example.com", "A", "Street 1")
    )
    full = ProductFactory(preorder=True, preorder_limit=0)

    html = page(client, out)
    assert "Out of stock" in html and not has_add_button(html)
    html = page(client, exhausted)
    assert "No longer taking backorders" in html and not has_add_button(html)
    html = page(client, full)
    assert "Pre-orders are full" in html and not has_add_button(html)
    assert "cannot be ordered right now" in html


def test_notify_policy_tells_how_many_will_be_backordered_for_the_chosen_quantity(client, source):
    product = ProductFactory(notify=True)
    receive(product, 3, source)
    html = page(client, product, quantity=5)
    assert "3 in stock now, 2 will be backordered." in html
    assert 'value="5"' in html  # the add form carries the chosen quantity
    # Quantity 1 comes from stock: nothing to announce.
    assert "will be backordered" not in page(client, product, quantity=1).split("any more will")[0]


def test_allow_policy_backorders_silently(client, source):
    product = ProductFactory(backorderable=True)
    receive(product, 3, source)
    html = page(client, product, quantity=5)
    assert "will be backordered" not in html
    assert "In stock" in html and has_add_button(html)


def test_a_refused_quantity_is_explained_on_the_page(client, source):
    product = ProductFactory()
    receive(product, 3, source)
    html = page(client, product, quantity=7)
    assert f"Only 3 of {product.name} available." in html


@pytest.mark.parametrize("bad", ["abc", "0", "-2", "1000000000", "", "1.5"])
def test_bad_quantity_parameter_is_ignored_safely(client, source, bad):
    product = ProductFactory(notify=True)
    receive(product, 3, source)
    html = page(client, product, quantity=bad)
    assert 'value="1"' in html


def test_product_page_queries_do_not_grow_with_stock_rows_or_orders(client, django_assert_num_queries):
    product = ProductFactory(backorderable=True)
    receive(product, 2, SourceFactory())
    customer = Customer("a@example.com", "A", "Street 1")
    checkout_place_order(lines=[CartLine(product.pk, 3)], customer=customer)
    url = reverse("storefront:product_detail", kwargs={"slug": product.slug})
    client.get(url)  # warm up
    with CaptureQueriesContext(connection) as few:
        assert client.get(url, {"quantity": 2}).status_code == 200
    expected = len(few)
    for _ in range(4):
        receive(product, 5, SourceFactory())
    for _ in range(5):
        checkout_place_order(lines=[CartLine(product.pk, 30)], customer=customer)
    with django_assert_num_queries(expected):
        assert client.get(url, {"quantity": 2}).status_code == 200
