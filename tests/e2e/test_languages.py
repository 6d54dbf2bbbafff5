"""Both languages in a real browser: a German customer switches language with the footer's
plain form, buys, pays with the dummy provider and gets a German page and email; and
axe-core finds no serious or critical accessibility violation on any storefront page, in
English or German."""

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone
from playwright.sync_api import Page, expect

from notifications.events import emails_send_batch
from notifications.links import row_cancel_url
from notifications.models import Subscription
from notifications.waitlist import unsubscribe_url
from orders.links import order_url
from orders.models import Order, RowStatus
from tests.billing.factories import pay, place
from tests.catalog.factories import CategoryFactory, ProductFactory
from tests.e2e.test_shop_flow import snapshot
from tests.helpers import receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def shop(settings, live_server, global_settings):
    settings.SITE_URL = live_server.url
    settings.BILLING_CURRENCY = "EUR"
    settings.BILLING_SHIPPING, settings.BILLING_FREE_SHIPPING_FROM = "4.90", ""
    settings.BILLING_TAX_RATE, settings.BILLING_PRICES_INCLUDE_TAX = "0.20", True
    settings.BILLING_SETTLEMENT = "per_shipment"


def pay_with_dummy(page: Page, status: str) -> None:
    """The dummy provider's form by its fields' names: its labels come in the page's language."""
    page.locator("select[name=status]").select_option(status)
    page.locator("select[name=fraud_status]").select_option("accept")
    page.locator("select[name=gateway_response]").select_option("3ds-disabled")
    page.locator(".payment-form button[type=submit]").click()


def test_a_german_customer_switches_language_buys_and_is_told_in_german(page: Page, main, screenshot_dir):
    lamp = ProductFactory(name="Messinglampe", price=D("12.50"), notify=True)
    receive(lamp, 1, main)

    page.goto("/")
    page.get_by_role("button", name="Deutsch").click()  # the footer's form, no JavaScript needed
    expect(page.locator("html")).to_have_attribute("lang", "de")
    page.get_by_role("link", name="Messinglampe", exact=True).click()
    page.get_by_label("Menge", exact=True).fill("2")
    page.get_by_role("button", name=re.compile(r"^(In den Warenkorb|Nachbestellen)")).click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    expect(page.locator(".message--success")).to_contain_text("2 × Messinglampe in den Warenkorb gelegt.")
    page.get_by_role("link", name="Zur Kasse").click()
    page.get_by_label("E-Mail").fill("grete@example.com")
    page.get_by_label("Vollständiger Name").fill("Grete Hopper")
    page.get_by_label("Lieferadresse").fill("Compilerweg 7")
    page.get_by_role("button", name="Zahlungspflichtig bestellen").click()
    expect(page.locator(".amount-due")).to_have_text("Jetzt zu zahlen: 29,90\xa0€")
    snapshot(page, screenshot_dir, "payment-page-de")
    pay_with_dummy(page, "preauth")

    order = Order.objects.get()
    expect(page.locator(".message--success")).to_have_text(
        f"Vielen Dank! Zahlung erhalten: Ihre Bestellung {order.number} ist bestätigt."
    )
    statuses = page.locator("table.rows-table td .status").all_inner_texts()
    assert sorted(statuses) == ["Nachbestellt", "Reserviert"]
    snapshot(page, screenshot_dir, "confirmation-de")
    assert order.language == "de"

    emails_send_batch()
    (email,) = [m for m in mail.outbox if m.to == ["grete@example.com"]]
    assert email.subject == f"Ihre Restock-Bestellung {order.number}"
    assert "Gesamt: 29,90\xa0€" in email.body


def storefront_pages(live_server, main) -> list[tuple[str, str]]:
    """(name, path) of every storefront page in its interesting states."""
    today = timezone.localdate()
    lamps = CategoryFactory(name="Lamps", slug="lamps")
    in_stock = ProductFactory(name="Desk Lamp", price=D("20.00"), category=lamps)
    receive(in_stock, 10, main)
    backorder = ProductFactory(name="Brass Lamp", price=D("30.00"), notify=True)
    preorder = ProductFactory(
        name="Comet Kit", preorder_enabled=True, release_date=today + dt.timedelta(days=30)
    )
    sold_out = ProductFactory(name="Old Lamp", category=lamps)  # offers the desk lamp instead
    guest = place([(in_stock, 1), (backorder, 2)], email="guest@example.com")
    pay(guest)
    waiting = guest.rows.get(status=RowStatus.BACKORDERED)
    subscription = Subscription.objects.create(product=sold_out, email="fan@example.com")
    return [
        ("product list", "/"),
        ("search", "/?q=lamp&availability=in_stock&sort=price"),
        ("category", lamps.get_absolute_url()),
        ("in stock", in_stock.get_absolute_url()),
        ("backorder", backorder.get_absolute_url()),
        ("pre-order", preorder.get_absolute_url()),
        ("out of stock", sold_out.get_absolute_url()),
        ("guest order", order_url(guest).removeprefix(live_server.url)),
        ("cancel link", row_cancel_url(waiting).removeprefix(live_server.url)),
        ("unsubscribe", unsubscribe_url(subscription).removeprefix(live_server.url)),
        ("find my order", "/find-my-order/"),
        ("sign in", "/accounts/login/"),
        ("sign up", "/accounts/signup/"),
        ("password reset", "/accounts/password_reset/"),
    ]


def serious(page: Page) -> list[str]:
    found = Axe().run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("language", ["en", "de"])
def test_no_serious_accessibility_violation_on_any_storefront_page(page: Page, live_server, main, language):
    pages = storefront_pages(live_server, main)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    problems = {}

    def check(name):
        assert page.locator("html").get_attribute("lang") == language, name
        if found := serious(page):
            problems[name] = found

    for name, path in pages:
        page.goto(path)
        check(name)
    # The cart, checkout and payment pages with something in the cart; then a customer's pages.
    page.goto(dict(pages)["in stock"])
    page.locator(".buy-form button[type=submit]").click()
    check("cart")
    page.goto("/checkout/")
    check("checkout")
    page.locator("#id_email").fill("ada@example.com")
    page.locator("#id_full_name").fill("Ada Lovelace")
    page.locator("#id_address").fill("1 Analytical Way")
    page.locator(".checkout__form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/checkout/pay/"))
    check("payment")
    pay_with_dummy(page, "preauth")
    expect(page).to_have_url(re.compile(r"/checkout/thanks/"))
    check("confirmation")
    get_user_model().objects.create_user("ada", "ada@example.com", "a long password 42")
    page.goto("/accounts/login/")
    page.locator("#id_username").fill("ada")
    page.locator("#id_password").fill("a long password 42")
    page.locator("main form button[type=submit]").click()
    for name, path in [("account", "/account/"), ("alerts", "/account/subscriptions/")]:
        page.goto(path)
        check(name)

    assert problems == {}
