"""The emails of issue 14: the order confirmation shows a discounted row's price and why
(the checkout's snapshot), and the back-in-stock email offers the product's alternatives
for when it sells out again before the subscriber comes."""

from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from payments import PaymentStatus

from catalog.models import Category, DiscountRule
from notifications.events import emails_send_batch
from notifications.models import Subscription
from notifications.waitlist import back_in_stock_notify
from tests.billing.factories import pay, place, shop_settings
from tests.catalog.factories import DiscountRuleFactory, ProductFactory
from tests.helpers import receive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings", "eager")]


@pytest.fixture(autouse=True)
def shop(settings):
    return shop_settings(settings)


def bodies(message) -> tuple[str, str]:
    html = next(content for content, kind in message.alternatives if kind == "text/html")
    return message.body, html


def test_the_confirmation_shows_the_discounted_units_at_their_snapshotted_price(
    main, django_capture_on_commit_callbacks
):
    kettle = ProductFactory(name="Kettle", notify=True, price=Decimal("20.00"))
    receive(kettle, 2, main)
    rule = DiscountRuleFactory(value=Decimal("10"), applies_to="backorder")
    order = place([(kettle, 5)])
    # Changed before the email is written: the email still tells what the order was placed at.
    DiscountRule.objects.filter(pk=rule.pk).update(value=Decimal("50"))
    with django_capture_on_commit_callbacks(execute=True):
        pay(order, PaymentStatus.PREAUTH)
    emails_send_batch()

    [confirmation] = [m for m in mail.outbox if order.number in m.subject and m.to == [order.email]]
    text, html = bodies(confirmation)
    assert "3 x €18.00 instead of €20.00: 10 % off while on backorder" in text
    assert "3 × €18.00 instead of €20.00: 10 % off while on backorder" in html
    assert "Subtotal: €94.00" in text and "Total: €98.90" in text
    assert text.count("instead of") == 1  # the 2 units from stock are at the list price


def test_back_in_stock_email_offers_the_alternatives_in_stock_now(main):
    lamps = Category.objects.create(name="Lamps", slug="lamps")
    lamp = ProductFactory(name="Brass Lamp", category=lamps, price=Decimal("80.00"))
    steel = ProductFactory(name="Steel Lamp", category=lamps, price=Decimal("75.00"))
    receive(steel, 4, main)
    ProductFactory(name="Sold-out Lamp", category=lamps, price=Decimal("80.00"))
    Subscription.objects.create(product=lamp, email="fan@example.com")
    receive(lamp, 1, main)

    assert back_in_stock_notify(product_id=lamp.pk) == 1
    emails_send_batch()

    [email] = mail.outbox
    text, html = bodies(email)
    assert "Sold out again before you got there? These are in stock now:" in text
    assert f"- Steel Lamp, €75.00: {settings.SITE_URL}{steel.get_absolute_url()}" in text
    assert "Sold-out Lamp" not in text
    assert f'{steel.get_absolute_url()}" style="color:#0969da;">Steel Lamp</a>, €75.00' in html


def test_back_in_stock_email_without_alternatives_says_nothing_of_them(main):
    lamp = ProductFactory(name="Brass Lamp")
    Subscription.objects.create(product=lamp, email="fan@example.com")
    receive(lamp, 1, main)
    back_in_stock_notify(product_id=lamp.pk)
    emails_send_batch()
    [email] = mail.outbox
    assert "Sold out again" not in email.body
