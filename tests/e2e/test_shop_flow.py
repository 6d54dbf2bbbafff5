"""End-to-end in a real headless Chromium against the live server.

A guest browses, buys an in-stock and a backorderable product and sees the split
rows on the confirmation page; a customer signs in and cancels a backordered
row; a merchant signs into the admin, filters rows by status and ships one.
Data comes from the real services and factories; the checks read what the
browser shows, then the database.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from inventory.models import MovementKind, Stock, StockMovement
from orders.models import Order, OrderRow, RowStatus, Shipment
from orders.services import CartLine, Customer, checkout_place_order
from tests.catalog.factories import ProductFactory, global_settings_set
from tests.helpers import receive
from tests.inventory.factories import SourceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


def snapshot(page: Page, folder, name: str) -> None:
    """Keep a full-page picture of a page worth looking at (E2E_SCREENSHOTS picks the folder)."""
    page.screenshot(path=str(folder / f"e2e-{name}.png"), full_page=True)


def order_rows(page: Page) -> list[tuple[str, str, str, str]]:
    """(item, quantity, status, ships from) of each row in the order table, as shown."""
    found = []
    for tr in page.locator("table.rows-table tbody tr").all():
        item, quantity, status, source = (c.inner_text().strip() for c in tr.locator("th, td").all()[:4])
        found.append((item, quantity, status, source))
    return found


def pay_with_dummy(page: Page, status: str) -> None:
    """Answer django-payments' dummy provider on the payment page (Pre-authorized = approve,
    Rejected = decline) and submit it."""
    expect(page.get_by_role("heading", name="Payment")).to_be_visible()
    page.get_by_label(re.compile(r"^Status")).select_option(label=status)
    page.get_by_label(re.compile(r"^Fraud status")).select_option(label="Passed")
    page.get_by_label(re.compile(r"^Gateway response")).select_option(label="3DS disabled")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()


@pytest.fixture(autouse=True)
def _site_url(settings, live_server):
    # the payment provider sends the payer back to SITE_URL (billing.Payment's return URLs)
    settings.SITE_URL = live_server.url


def card(page: Page, name: str):
    return page.locator("li.card").filter(has=page.get_by_role("heading", name=name, exact=True))


def place_order(*, lines: list[tuple], email: str, user=None) -> Order:
    customer = Customer(email=email, full_name="Ada Lovelace", address="1 Analytical Way\nLondon", user=user)
    return checkout_place_order(lines=[CartLine(p.pk, qty) for p, qty in lines], customer=customer)


# -- 1. guest: browse, add, check out, see the split rows -----------------------------------------


def test_guest_buys_in_stock_and_backordered_units_and_sees_split_rows(page: Page, screenshot_dir):
    global_settings_set(low_stock_threshold=3)
    main = SourceFactory(code="main", name="Main warehouse", priority=1)
    floor = SourceFactory(code="floor", name="Shop floor", priority=2)
    lamp = ProductFactory(name="Desk Lamp")  # backorders off (global default)
    receive(lamp, 10, main)
    kettle = ProductFactory(name="Copper Kettle", notify=True)  # allow_notify
    receive(kettle, 1, main)
    receive(kettle, 1, floor)
    ProductFactory(name="Garden Hose", notify=True)  # nothing on the shelf
    ProductFactory(name="Old Radio")  # nothing on the shelf, backorders off

    # Browse: every product with its availability badge.
    page.goto("/")
    expect(page.get_by_role("heading", name="Shop", level=1)).to_be_visible()
    for name, badge in [
        ("Desk Lamp", "In stock"),
        ("Copper Kettle", "Only 2 left"),
        ("Garden Hose", re.compile(r"^Available on backorder — ships by \d{2} \w{3} \d{4}$")),
        ("Old Radio", "Out of stock"),
    ]:
        expect(card(page, name).locator(".badge")).to_have_text(badge)
    expect(card(page, "Old Radio").get_by_role("button")).to_have_count(0)

    # One in-stock lamp.
    page.get_by_role("link", name="Desk Lamp", exact=True).click()
    expect(page.get_by_role("heading", name="Desk Lamp", level=1)).to_be_visible()
    page.get_by_label("Quantity", exact=True).fill("1")
    page.get_by_role("button", name="Add to cart").click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    expect(page.locator(".message--success")).to_contain_text("Added 1 × Desk Lamp to your cart.")

    # Five kettles with two on the shelf: the page says three will be backordered.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Shop").click()
    page.get_by_role("link", name="Copper Kettle", exact=True).click()
    page.get_by_label("How many will ship now?").fill("5")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#split")).to_have_text("For 5: 2 in stock now, 3 will be backordered.")
    expect(page.get_by_label("Quantity", exact=True)).to_have_value("5")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator(".message--success")).to_contain_text(
        "Added 5 × Copper Kettle to your cart. Of the 5 in your cart: 2 in stock now, 3 will be backordered."
    )

    # The cart holds both.
    expect(page.get_by_label("Quantity of Desk Lamp")).to_have_value("1")
    expect(page.get_by_label("Quantity of Copper Kettle")).to_have_value("5")
    kettle_line = page.locator("table.cart-table tbody tr").filter(has_text="Copper Kettle")
    expect(kettle_line.locator(".split")).to_have_text("2 in stock now, 3 will be backordered.")
    expect(page.get_by_role("link", name=re.compile(r"^Cart"))).to_contain_text("6")

    # Check out as a guest.
    page.get_by_role("link", name="Check out").click()
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    expect(page.get_by_text("Checking out as a guest.")).to_be_visible()
    expect(page.locator(".summary-list")).to_contain_text("3 will be backordered.")
    page.get_by_label("Email").fill("guest@example.com")
    page.get_by_label("Full name").fill("Grace Hopper")
    page.get_by_label("Shipping address").fill("7 Compiler Lane\nArlington")
    page.get_by_role("button", name="Place order").click()

    # The payment page: the dummy provider's form; the payer approves.
    expect(page).to_have_url(re.compile(r"/checkout/pay/R-[A-Z0-9]+/$"))
    number = page.url.rstrip("/").rsplit("/", 1)[-1]
    pay_with_dummy(page, "Pre-authorized")

    # Confirmation: one row per source used, the rest backordered.
    expect(page).to_have_url(re.compile(rf"/checkout/thanks/{number}/$"))
    expect(page.get_by_role("heading", name=f"Order {number}")).to_be_visible()
    expect(page.locator(".message--success")).to_have_text(
        f"Thank you! Payment received: your order {number} is confirmed."
    )
    expect(page.locator("table.rows-table tbody tr")).to_have_count(4)
    shown = sorted(order_rows(page))
    assert shown == sorted(
        [
            (f"Desk Lamp {lamp.sku}", "1", "Allocated", "Main warehouse"),
            (f"Copper Kettle {kettle.sku}", "1", "Allocated", "Main warehouse"),
            (f"Copper Kettle {kettle.sku}", "1", "Allocated", "Shop floor"),
            (f"Copper Kettle {kettle.sku}", "3", "Backordered", "Waiting for stock"),
        ]
    )
    expect(page.locator("a.guest-link")).to_contain_text("/orders/")
    snapshot(page, screenshot_dir, "confirmation")

    order = Order.objects.get(number=number)
    assert (order.email, order.full_name, order.user_id) == ("guest@example.com", "Grace Hopper", None)
    assert sorted(order.rows.values_list("product__name", "status", "quantity", "source__code")) == sorted(
        [
            ("Desk Lamp", RowStatus.ALLOCATED, 1, "main"),
            ("Copper Kettle", RowStatus.ALLOCATED, 1, "main"),
            ("Copper Kettle", RowStatus.ALLOCATED, 1, "floor"),
            ("Copper Kettle", RowStatus.BACKORDERED, 3, None),
        ]
    )
    # The cart was emptied by the order.
    expect(page.get_by_role("link", name=re.compile(r"^Cart"))).to_contain_text("0")


# -- 2. customer: sign in, cancel a backordered row -------------------------------------------------


def test_signed_in_customer_cancels_a_backordered_row(page: Page):
    user = get_user_model().objects.create_user("ada", "ada@example.com", PASSWORD)
    main = SourceFactory(code="main", name="Main warehouse", priority=1)
    lantern = ProductFactory(name="Lantern", backorderable=True)
    receive(lantern, 2, main)
    order = place_order(lines=[(lantern, 5)], email=user.email, user=user)
    backordered = order.rows.get(status=RowStatus.BACKORDERED)
    allocated = order.rows.get(status=RowStatus.ALLOCATED)
    assert (allocated.quantity, backordered.quantity) == (2, 3)

    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in").click()
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("button", name="Sign out")).to_be_visible()

    nav.get_by_role("link", name="Your orders").click()
    expect(page.get_by_role("heading", name="Your orders")).to_be_visible()
    page.get_by_role("link", name=order.number).click()
    expect(page.get_by_role("heading", name=f"Order {order.number}")).to_be_visible()

    # Only the waiting row can be cancelled; the allocated one has no button.
    expect(page.get_by_role("button", name="Cancel 2 × Lantern")).to_have_count(0)
    page.get_by_role("button", name="Cancel 3 × Lantern").click()
    expect(page.locator(".message--success")).to_have_text("Cancelled 3 × Lantern.")
    assert sorted(order_rows(page)) == [
        (f"Lantern {lantern.sku}", "2", "Allocated", "Main warehouse"),
        (f"Lantern {lantern.sku}", "3", "Cancelled", "—"),
    ]
    expect(page.get_by_role("button", name=re.compile(r"^Cancel"))).to_have_count(0)

    backordered.refresh_from_db()
    allocated.refresh_from_db()
    assert backordered.status == RowStatus.CANCELLED
    assert allocated.status == RowStatus.ALLOCATED
    assert backordered.events.filter(to_status=RowStatus.CANCELLED, user=user).exists()


# -- 3. merchant: admin sign-in, filter rows by status, ship an allocated row -----------------------


def merchant_shop():
    """A superuser, and one guest order: 2 kettles allocated + 3 backordered, 1 lamp allocated."""
    get_user_model().objects.create_superuser("boss", "boss@example.com", PASSWORD)
    main = SourceFactory(code="main", name="Main warehouse", priority=1)
    kettle = ProductFactory(name="Copper Kettle", backorderable=True)
    lamp = ProductFactory(name="Desk Lamp")
    receive(kettle, 2, main)
    receive(lamp, 4, main)
    order = place_order(lines=[(kettle, 5), (lamp, 1)], email="guest@example.com")
    return main, kettle, lamp, order


def admin_sign_in(page: Page) -> None:
    """Open the order rows and sign in through the admin's own form on the way."""
    page.goto("/admin/orders/orderrow/")
    expect(page).to_have_url(re.compile(r"/admin/login/"))
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/admin/orders/orderrow/$"))


def filter_status(page: Page, label: str) -> None:
    page.locator("#changelist-filter").get_by_role("link", name=label, exact=True).click()
    expect(page).to_have_url(re.compile(rf"status__exact={label.lower()}"))


def ship_selected(page: Page, sku: str) -> None:
    page.locator("#result_list tbody tr").filter(has_text=sku).get_by_role("checkbox").check()
    page.get_by_role("combobox", name=re.compile(r"^Action")).select_option(
        label="Ship selected allocated rows"
    )
    page.get_by_role("button", name="Go").click()
    # the intermediate page: carrier and tracking number are optional
    page.get_by_role("button", name="Ship").click()


def test_merchant_filters_rows_and_ships_an_allocated_row(page: Page, screenshot_dir):
    main, kettle, lamp, order = merchant_shop()
    kettle_row = order.rows.get(product=kettle, status=RowStatus.ALLOCATED)
    lamp_row = order.rows.get(product=lamp, status=RowStatus.ALLOCATED)
    waiting_row = order.rows.get(product=kettle, status=RowStatus.BACKORDERED)

    admin_sign_in(page)
    results = page.locator("#result_list tbody tr")
    expect(results).to_have_count(3)

    # Backordered rows only.
    filter_status(page, "Backordered")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text(order.number)
    expect(results.first).to_contain_text("Backordered")
    expect(results.first.locator("td.field-quantity")).to_have_text("3")
    snapshot(page, screenshot_dir, "admin-backordered-rows")

    # Allocated rows: pick the kettle row and ship it.
    filter_status(page, "Allocated")
    expect(results).to_have_count(2)
    ship_selected(page, kettle.sku)
    expect(page.locator("ul.messagelist .success")).to_have_text("Rows shipped: 1.")
    # Still on the allocated filter: only the lamp row is left.
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text(lamp.sku)
    page.set_viewport_size({"width": 1600, "height": 900})  # every column in the picture
    page.goto("/admin/orders/orderrow/")
    expect(results.filter(has_text=kettle.sku).filter(has_text="Shipped")).to_have_count(1)
    snapshot(page, screenshot_dir, "admin-rows")

    kettle_row.refresh_from_db()
    assert kettle_row.status == RowStatus.SHIPPED
    assert OrderRow.objects.get(pk=lamp_row.pk).status == RowStatus.ALLOCATED
    assert OrderRow.objects.get(pk=waiting_row.pk).status == RowStatus.BACKORDERED
    stock = Stock.objects.get(product=kettle, source=main)
    assert (stock.on_hand, stock.allocated) == (0, 0)
    lamp_stock = Stock.objects.get(product=lamp, source=main)
    assert (lamp_stock.on_hand, lamp_stock.allocated) == (4, 1)
    shipment = Shipment.objects.get(order=order)
    assert kettle_row.shipment_id == shipment.pk
    assert shipment.source_id == main.pk
    assert shipment.shipped_by.username == "boss"
    ledger = StockMovement.objects.filter(kind=MovementKind.SHIPMENT)
    assert list(ledger.values_list("product_id", "source_id", "quantity")) == [(kettle.pk, main.pk, -2)]


def test_shipping_under_the_allocated_filter_reports_no_error(page: Page):
    _, kettle, _, _ = merchant_shop()
    admin_sign_in(page)
    filter_status(page, "Allocated")
    ship_selected(page, kettle.sku)
    expect(page.locator("ul.messagelist .success")).to_have_text("Rows shipped: 1.")
    assert page.locator("ul.messagelist .error").all_inner_texts() == []
