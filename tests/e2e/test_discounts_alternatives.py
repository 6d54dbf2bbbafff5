"""Issue 14 in a real headless Chromium against the live server.

1. A pre-order discounted by a merchant's rule, found by a search, and a backorder product
   ordered beyond its stock: the search result and the product pages show the discounted
   price and why, the cart splits the line (units from stock at full price, the rest
   discounted), the order is paid with the dummy
   provider, and the order page and the confirmation email (received by a real SMTP sink)
   show the same amounts.
2. An out-of-stock product page offers an in-stock alternative, which is added to the cart
   with its own button and ordered.
"""

import re
from decimal import Decimal as D

import pytest
from playwright.sync_api import Page, expect

from catalog.models import Category
from notifications.events import emails_send_batch
from orders.models import Order, RowStatus
from tests.catalog.factories import DiscountRuleFactory, ProductFactory

# shop: the payment tests' settings, autouse here too (EUR, 20 % tax included, free shipping
# from 50.00, per shipment, SITE_URL the live server's).
from tests.e2e.test_payment_flow import add_to_cart, place_as_guest, shop, totals  # noqa: F401
from tests.e2e.test_shop_flow import pay_with_dummy, snapshot
from tests.helpers import receive
from tests.notifications.smtp import SmtpSink

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sink(settings):
    """A real SMTP server; this process's Django sends to it."""
    with SmtpSink() as server:
        for name, value in server.django_settings().items():
            setattr(settings, name, value)
        yield server


def test_discounted_pre_order_and_split_backorder_from_page_to_email(page: Page, main, sink, screenshot_dir):
    ProductFactory(name="Tidewater", price=D("60.00"), preorder=True)
    lantern = ProductFactory(name="Lantern", price=D("20.00"), notify=True)
    receive(lantern, 2, main)
    DiscountRuleFactory(name="Waiting deal", value=D("10"), applies_to="both")

    # Found by a search; the result and the product page: the discounted price, the list
    # price struck, why.
    page.goto("/")
    page.get_by_role("searchbox", name="Search products").fill("tidewater")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("li.card")).to_have_count(1)
    card = page.locator("li.card").filter(has=page.get_by_role("heading", name="Tidewater", exact=True))
    expect(card.locator(".price__now")).to_have_text("€54.00")
    expect(card.locator(".discount-reason")).to_have_text("10 % off while on pre-order")
    card.get_by_role("link", name="Tidewater", exact=True).click()
    expect(page.locator(".price--large s")).to_contain_text("€60.00")
    expect(page.locator(".price--large ins")).to_have_text("€54.00")
    expect(page.locator(".discount-reason").first).to_have_text("10 % off while on pre-order")
    snapshot(page, screenshot_dir, "discount-pre-order-page")

    add_to_cart(page, "Tidewater", 1)
    add_to_cart(page, "Lantern", 5)

    # The cart splits the lantern: 2 from stock at full price, 3 backordered at 10 % off.
    row = page.locator("table.cart-table tbody tr").filter(has_text="Lantern")
    parts = [" ".join(t.split()) for t in row.locator(".price-parts li").all_inner_texts()]
    assert parts == ["2 × €20.00 full price", "3 × €18.00 was €20.00 (10 % off while on backorder)"]
    expect(row.locator("td.num").last).to_have_text("€94.00")
    cart_total = page.locator("tr.cart-total td.num").inner_text()
    assert cart_total == "€148.00"  # 94.00 + 54.00, shipped free
    snapshot(page, screenshot_dir, "discount-cart-split")

    number = place_as_guest(page)
    expect(page.locator(".amount-due")).to_have_text("To pay now: €148.00")
    pay_with_dummy(page, "Pre-authorized")
    expect(page).to_have_url(re.compile(rf"/checkout/thanks/{number}/$"))

    shown = totals(page)
    assert (shown["Subtotal"], shown["Shipping"], shown["Total"]) == ("€148.00", "Free", "€148.00")
    rows_text = page.locator("table.rows-table").inner_text()
    assert "3 × €18.00 was €20.00 (10 % off while on backorder)" in " ".join(rows_text.split())
    assert "1 × €54.00 was €60.00 (10 % off while on pre-order)" in " ".join(rows_text.split())
    snapshot(page, screenshot_dir, "discount-order-page")

    order = Order.objects.get(number=number)
    assert sorted(order.rows.values_list("status", "quantity", "unit_price")) == [
        (RowStatus.ALLOCATED, 2, D("20.00")),
        (RowStatus.BACKORDERED, 3, D("18.00")),
        (RowStatus.PREORDERED, 1, D("54.00")),
    ]

    # The confirmation email, as the send job sends it, received over SMTP: the same amounts.
    emails_send_batch()
    sink.wait_for(1, timeout=5)
    [received] = [r for r in sink.to("grace@example.com") if number in r.message["Subject"]]
    body = received.message.get_body(preferencelist=("plain",)).get_content()
    assert "3 x €18.00 instead of €20.00: 10 % off while on backorder" in body
    assert "1 x €54.00 instead of €60.00: 10 % off while on pre-order" in body
    assert "Subtotal: €148.00" in body and "Total: €148.00" in body


def test_an_out_of_stock_page_offers_an_alternative_that_can_be_bought(page: Page, main, screenshot_dir):
    kettles = Category.objects.create(name="Kettles", slug="kettles")
    ProductFactory(name="Glass Kettle", price=D("50.00"), category=kettles)  # out of stock
    steel = ProductFactory(name="Steel Kettle", price=D("45.00"), category=kettles)
    receive(steel, 3, main)

    page.goto("/")
    page.get_by_role("link", name="Glass Kettle", exact=True).click()
    expect(page.locator(".badge")).to_have_text("Out of stock")
    offer = page.get_by_role("region", name="Want it sooner? In stock now:")
    expect(offer.get_by_role("link", name="Steel Kettle")).to_be_visible()
    snapshot(page, screenshot_dir, "alternative-offered")
    offer.get_by_role("button", name=re.compile(r"^Add to cart\W+Steel Kettle$")).click()

    expect(page).to_have_url(re.compile(r"/cart/$"))
    expect(page.locator(".message--success")).to_have_text("Added 1 × Steel Kettle to your cart.")
    number = place_as_guest(page)
    pay_with_dummy(page, "Pre-authorized")
    expect(page).to_have_url(re.compile(rf"/checkout/thanks/{number}/$"))
    order = Order.objects.get(number=number)
    assert list(order.rows.values_list("product__name", "status", "quantity")) == [
        ("Steel Kettle", RowStatus.ALLOCATED, 1)
    ]
