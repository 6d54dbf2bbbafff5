"""The payment step in a real headless Chromium against the live server, with django-payments'
dummy provider: pay; decline then pay; abandon, and after the window billing's expiry job
cancels the order and its unit goes to the next waiting customer."""

import datetime as dt
import re
from decimal import Decimal as D

import pytest
import time_machine
from playwright.sync_api import Page, expect

from billing.models import EntryKind, LedgerEntry
from billing.services import unpaid_orders_expire
from inventory.models import Stock
from orders.models import Order, RowStatus
from tests.billing.factories import pay, place
from tests.catalog.factories import ProductFactory
from tests.e2e.test_shop_flow import pay_with_dummy, snapshot
from tests.helpers import receive
from tests.inventory.factories import SourceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def shop(settings, live_server, global_settings):
    settings.SITE_URL = live_server.url  # where the provider sends the payer back
    settings.BILLING_CURRENCY = "EUR"
    settings.BILLING_SHIPPING, settings.BILLING_FREE_SHIPPING_FROM = "4.90", "50.00"
    settings.BILLING_TAX_RATE, settings.BILLING_PRICES_INCLUDE_TAX = "0.20", True
    settings.BILLING_SETTLEMENT = "per_shipment"
    settings.BILLING_PAYMENT_WINDOW_MINUTES = 30


@pytest.fixture
def main():
    return SourceFactory(code="main", name="Main warehouse", priority=1)


def check_out(page: Page, product_name: str, quantity: int) -> str:
    """Add to the cart and place the order as a guest; on the payment page, its number."""
    add_to_cart(page, product_name, quantity)
    return place_as_guest(page)


def add_to_cart(page: Page, product_name: str, quantity: int) -> None:
    """From the shop's first page to the product's, add ``quantity``; ends on the cart."""
    page.goto("/")
    page.get_by_role("link", name=product_name, exact=True).click()
    page.get_by_label("Quantity", exact=True).fill(str(quantity))
    page.get_by_role("button", name=re.compile(r"^(Add to cart|Backorder|Pre-order)")).click()
    expect(page).to_have_url(re.compile(r"/cart/$"))


def place_as_guest(page: Page) -> str:
    """From the cart, check out as a guest; on the payment page, the order's number."""
    page.get_by_role("link", name="Check out").click()
    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_label("Full name").fill("Grace Hopper")
    page.get_by_label("Shipping address").fill("7 Compiler Lane")
    page.get_by_role("button", name="Place order").click()
    expect(page).to_have_url(re.compile(r"/checkout/pay/R-[A-Z0-9]+/$"))
    return page.url.rstrip("/").rsplit("/", 1)[-1]


def totals(page: Page) -> dict[str, str]:
    block = page.locator("dl.totals").first
    labels, amounts = block.locator("dt").all_inner_texts(), block.locator("dd").all_inner_texts()
    return dict(zip(labels, amounts, strict=True))


def payment_column(page: Page) -> list[str]:
    return page.locator("table.rows-table td.row-payment").all_inner_texts()


def test_guest_pays_and_sees_totals_and_row_payment_state(page: Page, main, screenshot_dir):
    lantern = ProductFactory(name="Lantern", price=D("20.00"), notify=True)
    receive(lantern, 2, main)

    number = check_out(page, "Lantern", 3)  # 2 from the shelf, 1 backordered: €60.00, free shipping

    expected = {"Subtotal": "€60.00", "Shipping": "Free", "Tax (included)": "€9.99", "Total": "€60.00"}
    expect(page.locator(".amount-due")).to_have_text("To pay now: €60.00")
    assert totals(page) == expected
    snapshot(page, screenshot_dir, "payment-page")
    pay_with_dummy(page, "Pre-authorized")

    expect(page).to_have_url(re.compile(rf"/checkout/thanks/{number}/$"))
    expect(page.locator(".message--success")).to_have_text(
        f"Thank you! Payment received: your order {number} is confirmed."
    )
    expect(page.locator(".payment-state")).to_contain_text("Payment authorized.")
    assert totals(page) == expected
    assert payment_column(page) == ["To be charged when it ships"] * 2
    snapshot(page, screenshot_dir, "confirmation-paid")

    page.locator("a.guest-link").click()
    expect(page.get_by_role("heading", name=f"Order {number}")).to_be_visible()
    assert totals(page) == expected
    assert payment_column(page) == ["To be charged when it ships"] * 2
    snapshot(page, screenshot_dir, "guest-order-payment-state")

    order = Order.objects.get(number=number)
    assert list(LedgerEntry.objects.filter(order=order).values_list("kind", "amount")) == [
        (EntryKind.AUTHORIZE, D("60.00"))
    ]
    assert sorted(order.rows.values_list("status", "quantity")) == [
        (RowStatus.ALLOCATED, 2),
        (RowStatus.BACKORDERED, 1),
    ]


def test_a_declined_payment_is_retried_on_the_same_order(page: Page, main):
    lamp = ProductFactory(name="Desk Lamp", price=D("20.00"))
    receive(lamp, 5, main)
    number = check_out(page, "Desk Lamp", 1)
    pay_url = page.url

    pay_with_dummy(page, "Rejected")

    expect(page).to_have_url(pay_url)
    expect(page.locator(".message--error")).to_contain_text(
        "Your payment did not go through, so nothing was charged. You can try again until"
    )
    assert not LedgerEntry.objects.exists()
    expect(page.locator(".amount-due")).to_have_text("To pay now: €24.90")  # €20.00 + €4.90 shipping

    pay_with_dummy(page, "Confirmed")

    expect(page).to_have_url(re.compile(rf"/checkout/thanks/{number}/$"))
    expect(page.locator(".payment-state")).to_contain_text("Paid.")
    assert payment_column(page) == ["Paid"]
    order = Order.objects.get(number=number)
    assert list(LedgerEntry.objects.filter(order=order).values_list("kind", "amount")) == [
        (EntryKind.CAPTURE, D("24.90"))
    ]
    assert list(order.payments.order_by("pk").values_list("status", flat=True)) == ["rejected", "confirmed"]


def test_an_abandoned_payment_expires_and_the_unit_goes_to_the_next_waiting_customer(
    page: Page, main, screenshot_dir
):
    kettle = ProductFactory(name="Copper Kettle", price=D("30.00"), notify=True)
    receive(kettle, 1, main)

    # The browser's guest takes the last kettle from the shelf, then leaves the payment page.
    number = check_out(page, "Copper Kettle", 1)
    mine = Order.objects.get(number=number)
    assert list(mine.rows.values_list("status", flat=True)) == [RowStatus.ALLOCATED]
    # Another customer backorders one and pays.
    theirs = place([(kettle, 1)], email="bob@example.com")
    (waiting,) = theirs.rows.all()
    assert waiting.status == RowStatus.BACKORDERED
    pay(theirs)

    page.goto(f"/checkout/thanks/{number}/")
    expect(page.locator(".payment-state")).to_contain_text("Awaiting payment.")
    with time_machine.travel(mine.totals.pay_by + dt.timedelta(minutes=1)):
        assert unpaid_orders_expire() == [mine.pk]
        page.reload()
        expect(page.locator(".payment-state")).to_contain_text("This order has expired:")
        expect(page.get_by_role("link", name="Pay now")).to_have_count(0)
        assert payment_column(page) == ["Not charged"]
        snapshot(page, screenshot_dir, "confirmation-expired")

    assert list(mine.rows.values_list("status", flat=True)) == [RowStatus.CANCELLED]
    waiting.refresh_from_db()
    assert (waiting.status, waiting.source_id) == (RowStatus.ALLOCATED, main.pk)
    stock = Stock.objects.get(product=kettle, source=main)
    assert (stock.on_hand, stock.allocated) == (1, 1)
    assert not LedgerEntry.objects.filter(order=mine).exists()
