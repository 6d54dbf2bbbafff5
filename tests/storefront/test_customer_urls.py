"""The apps below storefront link to customer pages (a model's get_absolute_url, the links in
emails) by the URL names in settings.CUSTOMER_URL_NAMES: they import nothing from storefront
and spell none of its URL names, and every link keeps the path it had before the move."""

import re
from pathlib import Path

from django.conf import settings

from catalog.models import Product
from notifications.links import row_cancel_url
from notifications.models import Subscription
from notifications.waitlist import unsubscribe_url
from orders.links import guest_order_path, order_url
from orders.models import Order, OrderRow
from storefront import urls

REPO = Path(__file__).resolve().parents[2]
DOMAIN_APPS = ["catalog", "inventory", "orders", "notifications"]


def test_every_customer_url_name_is_a_storefront_page():
    names = {pattern.name for pattern in urls.urlpatterns}
    for name in settings.CUSTOMER_URL_NAMES.values():
        namespace, _, page = name.partition(":")
        assert namespace == urls.app_name == "storefront"
        assert page in names


def test_no_domain_app_spells_a_storefront_url_name():
    spelled = re.compile(r"[\"']storefront:")
    found = [
        f"{path.relative_to(REPO)}:{n}"
        for app in DOMAIN_APPS
        for path in sorted((REPO / app).rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if spelled.search(line)
    ]
    assert found == []


def test_the_links_keep_their_paths():
    assert Product(slug="brass-lamp").get_absolute_url() == "/products/brass-lamp/"
    member, guest = Order(number="R-ABCD2345", user_id=7), Order(number="R-EFGH6789")
    assert member.get_absolute_url() == "/account/orders/R-ABCD2345/"
    assert order_url(member) == settings.SITE_URL + "/account/orders/R-ABCD2345/"
    assert re.fullmatch(r"/orders/[^/]+/", guest_order_path(guest))
    assert order_url(guest) == settings.SITE_URL + guest_order_path(guest)
    row = OrderRow(pk=3, order=guest)
    assert re.fullmatch(re.escape(settings.SITE_URL) + r"/cancel/[^/]+/", row_cancel_url(row))
    subscription = Subscription(pk=5)
    assert re.fullmatch(re.escape(settings.SITE_URL) + r"/unsubscribe/[^/]+/", unsubscribe_url(subscription))
