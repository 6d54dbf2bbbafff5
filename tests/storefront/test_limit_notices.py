"""'Only N more can be backordered / pre-ordered' near a limit (issue 9.11), as customers see it
on the product list, the product page and the cart. When and with which number is decided
by catalog.availability (tests/catalog/test_availability.py); these check every page says it."""

import pytest
from django.urls import reverse

from orders.services import CartLine, Customer, checkout_place_order
from tests.catalog.factories import ProductFactory, global_settings_set

pytestmark = pytest.mark.django_db

OTHERS = Customer(email="others@example.com", full_name="Others", address="Road 2")


def limited(mode: str, *, limit: int, waiting: int, name: str = "Brass Lamp"):
    """A product with nothing on the shelf and ``waiting`` of its ``limit`` units already waiting."""
    product = ProductFactory(
        name=name,
        use_global_backorders=False,
        backorders=mode,
        use_global_backorder_limit=False,
        backorder_limit=limit,
    )
    if waiting:
        checkout_place_order(lines=[CartLine(product.pk, waiting)], customer=OTHERS)
    return product


def pages(client, product) -> dict[str, str]:
    client.post(reverse("storefront:cart_add"), {"product_id": product.pk, "quantity": 1})
    return {
        "list": client.get(reverse("storefront:product_list")).content.decode(),
        "page": client.get(product.get_absolute_url()).content.decode(),
        "cart": client.get(reverse("storefront:cart")).content.decode(),
    }


@pytest.mark.parametrize(
    ("mode", "notice"),
    [("allow_notify", "Only 3 more can be backordered"), ("allow", "Only 3 more available")],
)
def test_a_close_backorder_limit_is_shown_on_list_page_and_cart(client, mode, notice):
    product = limited(mode, limit=10, waiting=7)

    for where, html in pages(client, product).items():
        assert f'<p class="limit-notice">{notice}</p>' in html, where
        if mode == "allow":
            assert "backorder" not in html.lower(), where


def test_no_notice_while_the_limit_is_far(client):
    product = limited("allow_notify", limit=10, waiting=4)  # 6 left, threshold 5

    for where, html in pages(client, product).items():
        assert "limit-notice" not in html, where


def test_the_merchants_threshold_decides(client):
    global_settings_set(allowance_notice_threshold=8)
    product = limited("allow_notify", limit=10, waiting=4)

    for where, html in pages(client, product).items():
        assert "Only 6 more can be backordered" in html, where


def test_a_close_preorder_limit_is_shown(client):
    record = ProductFactory(name="Nightfall LP", preorder=True, preorder_limit=50)
    checkout_place_order(lines=[CartLine(record.pk, 48)], customer=OTHERS)

    for where, html in pages(client, record).items():
        assert "Only 2 more can be pre-ordered" in html, where


def test_the_number_follows_the_queue(client):
    product = limited("allow_notify", limit=5, waiting=0)
    assert "Only 5 more can be backordered" in pages(client, product)["page"]

    checkout_place_order(lines=[CartLine(product.pk, 4)], customer=OTHERS)
    html = client.get(product.get_absolute_url()).content.decode()
    assert "Only 1 more can be backordered" in html

    checkout_place_order(lines=[CartLine(product.pk, 1)], customer=OTHERS)
    html = client.get(product.get_absolute_url()).content.decode()
    assert "limit-notice" not in html and "No longer taking backorders" in html
