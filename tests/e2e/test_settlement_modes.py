"""Both settlement modes end to end in a real headless Chromium, with the dummy provider:
a signed-in customer checks out 2 lanterns with 1 on the shelf (the other backordered) and
pays; the merchant ships the allocated row; a restock allocates the waiting row; the merchant
ships it. Per shipment: one capture per shipment, of exactly its rows (shipping on the first),
nothing left to release. At checkout: one capture of the total. And at checkout, the customer
cancels the waiting row from the account page: it is refunded, exactly its value."""

import re
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from billing.models import DummyGatewayCall, EntryKind, EntryState, LedgerEntry, LedgerLine
from orders.models import Order, RowStatus, Shipment
from orders.services import shipment_create
from tests.catalog.factories import ProductFactory
from tests.e2e.test_payment_flow import check_out
from tests.e2e.test_shop_flow import PASSWORD, pay_with_dummy
from tests.helpers import receive
from tests.inventory.factories import SourceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# €20.00 a lantern, 20 % tax included, €4.90 shipping (2 lanterns stay under the free threshold).
PRICE, SHIPPING = D("20.00"), D("4.90")


@pytest.fixture(autouse=True)
def shop(settings, live_server, global_settings, eager):
    settings.SITE_URL = live_server.url
    settings.BILLING_CURRENCY = "EUR"
    settings.BILLING_SHIPPING, settings.BILLING_FREE_SHIPPING_FROM = "4.90", "50.00"
    settings.BILLING_TAX_RATE, settings.BILLING_PRICES_INCLUDE_TAX = "0.20", True
    settings.BILLING_PAYMENT_WINDOW_MINUTES = 30
    return settings


@pytest.fixture
def main():
    return SourceFactory(code="main", name="Main warehouse", priority=1)


def sign_in(page: Page) -> None:
    get_user_model().objects.create_user("grace", "grace@example.com", PASSWORD)
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in").click()
    page.get_by_label("Username").fill("grace")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out")).to_be_visible()


def rows_shown(page: Page) -> list[tuple[str, str]]:
    """(status, payment) of each row on the order page, as the customer reads them."""
    found = []
    for tr in page.locator("table.rows-table tbody tr").all():
        status = tr.locator("th, td").all()[2].inner_text().strip()
        found.append((status, tr.locator("td.row-payment").inner_text().strip()))
    return sorted(found)


def open_order(page: Page, number: str) -> None:
    page.goto(f"/account/orders/{number}/")
    expect(page.get_by_role("heading", name=f"Order {number}")).to_be_visible()


def buy_two_with_one_on_the_shelf(page: Page, main, dummy_status: str) -> Order:
    lantern = ProductFactory(name="Lantern", price=PRICE, notify=True)
    receive(lantern, 1, main)
    sign_in(page)
    number = check_out(page, "Lantern", 2)
    expect(page.locator(".amount-due")).to_have_text("To pay now: €44.90")
    pay_with_dummy(page, dummy_status)
    expect(page).to_have_url(re.compile(rf"/checkout/thanks/{number}/$"))
    order = Order.objects.get(number=number)
    assert order.user.username == "grace"
    assert sorted(order.rows.values_list("status", "quantity")) == [
        (RowStatus.ALLOCATED, 1),
        (RowStatus.BACKORDERED, 1),
    ]
    return order


def ship_rest_after_restock(order: Order, main) -> tuple[Shipment, Shipment]:
    """The merchant ships what is allocated; a restock allocates the waiting row; ship again."""
    first = shipment_create(order=order, source=main)
    (lantern,) = {row.product for row in order.rows.all()}
    receive(lantern, 1, main)  # allocation to the waiting row runs as a job (eager here)
    assert sorted(order.rows.values_list("status", flat=True)) == [RowStatus.ALLOCATED, RowStatus.SHIPPED]
    second = shipment_create(order=order, source=main)
    return first, second


def ledger(order: Order) -> list[tuple[str, str, D, list[int], bool]]:
    return [
        (e.kind, e.state, e.amount, sorted(e.lines.values_list("row_id", flat=True)), e.covers_shipping)
        for e in LedgerEntry.objects.filter(order=order).order_by("pk")
    ]


def test_per_shipment_charges_each_shipment_for_its_rows_and_shipping_once(page: Page, main, shop):
    shop.BILLING_SETTLEMENT = "per_shipment"
    order = buy_two_with_one_on_the_shelf(page, main, "Pre-authorized")
    allocated = order.rows.get(status=RowStatus.ALLOCATED)
    waiting = order.rows.get(status=RowStatus.BACKORDERED)
    open_order(page, order.number)
    assert rows_shown(page) == [
        ("Allocated", "To be charged when it ships"),
        ("Backordered", "To be charged when it ships"),
    ]

    first, second = ship_rest_after_restock(order, main)

    assert list(first.rows.values_list("pk", flat=True)) == [allocated.pk]
    assert list(second.rows.values_list("pk", flat=True)) == [waiting.pk]
    auth = LedgerEntry.objects.get(order=order, kind=EntryKind.AUTHORIZE)
    assert ledger(order) == [
        (EntryKind.AUTHORIZE, EntryState.SUCCEEDED, PRICE * 2 + SHIPPING, [], False),
        (EntryKind.CAPTURE, EntryState.SUCCEEDED, PRICE + SHIPPING, [allocated.pk], True),
        (EntryKind.CAPTURE, EntryState.SUCCEEDED, PRICE, [waiting.pk], False),
    ]
    captures = LedgerEntry.objects.filter(kind=EntryKind.CAPTURE).order_by("pk")
    assert [(c.shipment_id, c.parent_id) for c in captures] == [(first.pk, auth.pk), (second.pk, auth.pk)]
    auth.refresh_from_db()
    assert auth.available == 0  # all of it captured: no release due
    assert not LedgerEntry.objects.filter(order=order, kind=EntryKind.RELEASE).exists()
    assert list(DummyGatewayCall.objects.order_by("pk").values_list("operation", "amount")) == [
        ("capture", PRICE + SHIPPING),
        ("capture", PRICE),
    ]

    open_order(page, order.number)
    assert rows_shown(page) == [("Shipped", "Paid"), ("Shipped", "Paid")]


def test_at_checkout_charges_the_total_once_and_shipments_charge_nothing(page: Page, main, shop):
    shop.BILLING_SETTLEMENT = "at_checkout"
    order = buy_two_with_one_on_the_shelf(page, main, "Confirmed")
    expect(page.locator(".payment-state")).to_contain_text("Paid.")
    open_order(page, order.number)
    assert rows_shown(page) == [("Allocated", "Paid"), ("Backordered", "Paid")]

    ship_rest_after_restock(order, main)

    rows = sorted(order.rows.values_list("pk", flat=True))
    assert ledger(order) == [(EntryKind.CAPTURE, EntryState.SUCCEEDED, PRICE * 2 + SHIPPING, rows, True)]
    assert not DummyGatewayCall.objects.exists()  # the checkout's charge was the only one
    open_order(page, order.number)
    assert rows_shown(page) == [("Shipped", "Paid"), ("Shipped", "Paid")]


def test_at_checkout_a_cancelled_waiting_row_is_refunded_its_value(page: Page, main, shop):
    shop.BILLING_SETTLEMENT = "at_checkout"
    order = buy_two_with_one_on_the_shelf(page, main, "Confirmed")
    waiting = order.rows.get(status=RowStatus.BACKORDERED)

    open_order(page, order.number)
    page.get_by_role("button", name="Cancel 1 × Lantern").click()
    expect(page.locator(".message--success")).to_have_text("Cancelled 1 × Lantern.")
    page.reload()  # the refund job ran after the cancellation's commit
    assert rows_shown(page) == [("Allocated", "Paid"), ("Cancelled", "Refunded")]

    capture = LedgerEntry.objects.get(order=order, kind=EntryKind.CAPTURE)
    refund = LedgerEntry.objects.get(order=order, kind=EntryKind.REFUND)
    # Prices include tax: the row's €20.00 carries its €3.33 tax share; shipping stays charged.
    assert (refund.state, refund.amount, refund.parent_id, refund.covers_shipping) == (
        EntryState.SUCCEEDED,
        PRICE,
        capture.pk,
        False,
    )
    assert list(LedgerLine.objects.filter(entry=refund).values_list("row_id", "amount")) == [
        (waiting.pk, PRICE)
    ]
    assert list(DummyGatewayCall.objects.values_list("operation", "amount")) == [("refund", PRICE)]
    capture.refresh_from_db()
    assert capture.available == PRICE + SHIPPING
