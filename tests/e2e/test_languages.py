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
from tests.catalog.factories import CategoryFactory, DiscountRuleFactory, ProductFactory
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


def test_the_discount_flow_in_german_from_search_to_email(page: Page, main, screenshot_dir):
    """Issue 14's flow in German: search, a discounted pre-order, a backorder split in the
    cart, the dummy payment, the order page and the email, with German words, dates and money."""
    ProductFactory(name="Tidewater", price=D("60.00"), preorder=True)
    lantern = ProductFactory(name="Laterne", price=D("20.00"), notify=True)
    receive(lantern, 2, main)
    DiscountRuleFactory(name="Waiting deal", value=D("10"), applies_to="both")

    page.goto("/")
    page.get_by_role("button", name="Deutsch").click()  # the footer's form, no JavaScript needed
    expect(page.locator("html")).to_have_attribute("lang", "de")
    page.get_by_role("searchbox", name="Artikel suchen").fill("tidewater")
    page.get_by_role("button", name="Suchen", exact=True).click()
    card = page.locator("li.card").filter(has=page.get_by_role("heading", name="Tidewater", exact=True))
    expect(card.locator(".price__now")).to_have_text("54,00\xa0€")
    expect(card.locator(".discount-reason")).to_have_text("10 % Rabatt während der Vorbestellung")
    card.get_by_role("link", name="Tidewater", exact=True).click()
    expect(page.locator(".badge")).to_contain_text("Vorbestellung — erscheint am")
    page.get_by_role("button", name="Vorbestellen").click()
    expect(page.locator(".message--success")).to_contain_text("1 × Tidewater in den Warenkorb gelegt.")

    page.goto(lantern.get_absolute_url())
    page.get_by_label("Menge", exact=True).fill("5")
    page.get_by_role("button", name=re.compile(r"^(In den Warenkorb|Nachbestellen)")).click()
    row = page.locator("table.cart-table tbody tr").filter(has_text="Laterne")
    parts = [" ".join(t.split()) for t in row.locator(".price-parts li").all_inner_texts()]
    assert parts == [
        "2 × 20,00 € voller Preis",
        "3 × 18,00 € statt 20,00 € (10 % Rabatt während der Nachbestellung)",
    ]
    snapshot(page, screenshot_dir, "cart-de")

    page.get_by_role("link", name="Zur Kasse").click()
    page.get_by_label("E-Mail").fill("grete@example.com")
    page.get_by_label("Vollständiger Name").fill("Grete Hopper")
    page.get_by_label("Lieferadresse").fill("Compilerweg 7")
    page.get_by_role("button", name="Zahlungspflichtig bestellen").click()
    expect(page.locator(".amount-due")).to_have_text("Jetzt zu zahlen: 152,90\xa0€")  # 148 + 4,90
    pay_with_dummy(page, "preauth")

    order = Order.objects.get()
    expect(page.locator(".message--success")).to_have_text(
        f"Vielen Dank! Zahlung erhalten: Ihre Bestellung {order.number} ist bestätigt."
    )
    statuses = page.locator("table.rows-table td .status").all_inner_texts()
    assert sorted(statuses) == ["Nachbestellt", "Reserviert", "Vorbestellt"]
    rows_text = " ".join(page.locator("table.rows-table").inner_text().split())
    assert "1 × 54,00 € statt 60,00 € (10 % Rabatt während der Vorbestellung)" in rows_text
    snapshot(page, screenshot_dir, "confirmation-de")
    assert order.language == "de"

    emails_send_batch()
    (email,) = [m for m in mail.outbox if m.to == ["grete@example.com"]]
    assert email.subject == f"Ihre Restock-Bestellung {order.number}"
    assert "3 x 18,00\xa0€ statt 20,00\xa0€: 10 % Rabatt während der Nachbestellung" in email.body
    assert "Gesamt: 152,90\xa0€" in email.body


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
