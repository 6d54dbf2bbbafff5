"""What customers and merchants are told, read from the real outbox and mail backend."""

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone

from notifications.events import digest_aged_backorders, emails_send_batch
from notifications.models import OutboxMessage
from orders.models import OrderRow, RowStatus
from orders.services import (
    CartLine,
    Customer,
    backorders_allocate,
    checkout_place_order,
    preorders_release,
    shipment_create,
)
from orders.signals import rows_allocated
from tests.billing.factories import pay
from tests.catalog.factories import ProductFactory
from tests.helpers import receive

pytestmark = pytest.mark.django_db


def place(*lines, name="Ada Lovelace", email="ada@example.com", today=None):
    """A real checkout, paid (authorized) through billing with the dummy provider: the
    order's emails go out once it is paid."""
    order = checkout_place_order(
        lines=[CartLine(p.pk, q) for p, q in lines],
        customer=Customer(email=email, full_name=name, address="1 Analytical Way"),
        today=today,
    )
    pay(order)
    return order


def sent(kind=None):
    emails_send_batch()
    return [m for m in mail.outbox if kind is None or kind in m.subject]


def html(message) -> str:
    return message.alternatives[0][0]


def test_confirmation_lists_every_row_and_says_what_is_backordered_with_allow_notify(main, settings):
    settings.MERCHANT_EMAILS = ["shop@example.com"]
    expected = timezone.localdate() + dt.timedelta(days=30)
    lamp = ProductFactory(name="Brass Lamp", notify=True, expected_restock_date=expected)
    receive(lamp, 3, main)

    order = place((lamp, 5))

    (confirmation,) = sent("Your Restock order")
    (merchant,) = sent("Backorder placed")
    assert confirmation.to == ["ada@example.com"]
    assert confirmation.subject == f"Your Restock order {order.number}"
    assert f"3 x Brass Lamp ({lamp.sku}): Allocated from Main warehouse" in confirmation.body
    assert f"2 x Brass Lamp ({lamp.sku}): Backordered" in confirmation.body
    assert "2 of the 5 Brass Lamp you ordered are backordered" in confirmation.body
    assert f"Expected by {expected.day} {expected:%b %Y}" in confirmation.body
    assert "2 of the 5 Brass Lamp you ordered are backordered" in html(confirmation)
    # the merchant hears of the backorder because the policy says notify
    assert merchant.to == ["shop@example.com"]
    assert merchant.subject == f"Backorder placed: order {order.number}"
    assert f"2 x Brass Lamp ({lamp.sku})" in merchant.body


def test_allow_backorders_silently(main):
    lamp = ProductFactory(name="Brass Lamp", backorderable=True)
    receive(lamp, 3, main)
    place((lamp, 5))
    (confirmation,) = sent("Your Restock order")
    assert sent("Backorder placed") == []
    assert "you ordered" not in confirmation.body  # no "N of M are backordered" notice
    # the row reads as being prepared, never as backordered (issue 9.10)
    assert "Preparing" in confirmation.body and "backorder" not in confirmation.body.lower()


def test_waiting_rows_carry_a_signed_cancel_link_that_works_once(client, main):
    lamp = ProductFactory(name="Brass Lamp", backorderable=True)
    order = place((lamp, 2))
    (confirmation,) = sent()
    link = re.search(r"Cancel it: (\S+)", confirmation.body).group(1)
    assert link in html(confirmation)
    path = link.removeprefix("http://127.0.0.1:8000")

    page = client.get(path)
    assert page.status_code == 200 and "Cancel 2 × Brass Lamp" in page.content.decode()
    client.post(path)
    row = order.rows.get()
    assert row.status == RowStatus.CANCELLED
    again = client.get(path).content.decode()
    assert "This item is cancelled; nothing more to do." in again
    assert "<button" not in again.split("<main", 1)[1].split("</main>", 1)[0]
    # tampered and expired links say so
    assert client.get(path[:-3] + "xyz/").status_code == 404


def test_cancel_link_expires(client, main, settings):
    lamp = ProductFactory(backorderable=True)
    place((lamp, 1))
    (confirmation,) = sent()
    path = re.search(r"Cancel it: (\S+)", confirmation.body).group(1).removeprefix("http://127.0.0.1:8000")
    later = timezone.now() + dt.timedelta(days=31)
    from unittest import mock

    with mock.patch("django.core.signing.time.time", return_value=later.timestamp()):
        page = client.get(path)
    assert page.status_code == 404
    assert "expired" in page.content.decode()


def test_untrusted_text_is_escaped_in_html(main):
    lamp = ProductFactory(backorderable=True)
    place((lamp, 1), name='<script>alert("x")</script>')
    (confirmation,) = sent()
    assert "<script>" not in html(confirmation)
    assert "&lt;script&gt;" in html(confirmation)
    assert '<script>alert("x")</script>' in confirmation.body  # plain text is not HTML


def test_restock_tells_the_waiting_customer_once_that_items_are_ready(main):
    lamp = ProductFactory(name="Brass Lamp", backorderable=True)
    order = place((lamp, 2))
    receive(lamp, 2, main)
    backorders_allocate(product_id=lamp.pk)
    allocated = list(OrderRow.objects.filter(product=lamp, status=RowStatus.ALLOCATED))
    # The same allocation announced again (a redelivered job): the outbox key keeps one message.
    rows_allocated.send(sender=OrderRow, rows=allocated)
    assert OutboxMessage.objects.filter(kind="rows_allocated").count() == 1

    ready = sent("ready to ship")

    assert len(ready) == 1
    assert ready[0].subject == f"Good news: items of order {order.number} are ready to ship"
    assert f"2 x Brass Lamp ({lamp.sku}): Allocated from Main warehouse" in ready[0].body
    # Announced once more after it went out: still the one email.
    rows_allocated.send(sender=OrderRow, rows=allocated)
    assert len(sent("ready to ship")) == 1


def test_a_sent_message_made_due_again_is_not_sent_again(main):
    lamp = ProductFactory(name="Brass Lamp", backorderable=True)
    place((lamp, 2))
    assert len(sent("Your Restock order")) == 1
    # As if a retry time were left on it: only pending (or abandoned) messages are claimed.
    OutboxMessage.objects.update(next_attempt_at=timezone.now() - dt.timedelta(hours=1))

    assert emails_send_batch().sent == 0
    assert len(mail.outbox) == 1


def test_shipment_email(main):
    lamp = ProductFactory(name="Brass Lamp")
    receive(lamp, 1, main)
    order = place((lamp, 1))
    shipment_create(order=order, source=main)
    (shipped,) = sent("has shipped")
    assert shipped.subject == f"Order {order.number} has shipped"
    assert "left Main warehouse" in shipped.body
    assert f"1 x Brass Lamp ({lamp.sku}): Shipped from Main warehouse" in shipped.body


def test_preorder_release_email_keeps_the_cancel_link(main):
    today = dt.date(2026, 11, 23)
    game = ProductFactory(name="Star Game", preorder_enabled=True, release_date=today + dt.timedelta(days=1))
    order = place((game, 1), today=today)
    preorders_release(today=today + dt.timedelta(days=1))
    (released,) = sent("Released")
    assert released.subject == f"Released: your pre-order in order {order.number}"
    assert "1 x Star Game (" in released.body and "Backordered" in released.body
    assert "Cancel it: http" in released.body


def test_low_stock_alert_once_a_day(main, settings):
    settings.MERCHANT_EMAILS = ["shop@example.com", "warehouse@example.com"]
    lamp = ProductFactory(sku="LAMP-1", use_global_low_stock_threshold=False, low_stock_threshold=2)
    receive(lamp, 5, main)
    place((lamp, 2))  # 3 free: above the threshold
    assert sent("Low stock") == []
    place((lamp, 1))  # 2 free
    place((lamp, 1))  # 1 free, same day
    alerts = sent("Low stock")
    assert sorted(m.to[0] for m in alerts) == ["shop@example.com", "warehouse@example.com"]
    assert alerts[0].subject == "Low stock: LAMP-1 has 2 free"


def test_aged_backorders_digest_groups_by_product(settings):
    settings.MERCHANT_EMAILS = ["shop@example.com"]
    settings.AGED_BACKORDER_DAYS = [7, 30]
    lamp = ProductFactory(name="Brass Lamp", backorderable=True)
    chair = ProductFactory(name="Oak Chair", backorderable=True)
    old, older, fresh = place((lamp, 2)), place((lamp, 1)), place((chair, 4))
    now = timezone.now()
    OrderRow.objects.filter(order=old).update(queue_at=now - dt.timedelta(days=10))
    OrderRow.objects.filter(order=older).update(queue_at=now - dt.timedelta(days=40))
    OrderRow.objects.filter(order=fresh).update(queue_at=now - dt.timedelta(days=2))
    mail.outbox.clear()
    OutboxMessage.objects.all().delete()

    assert digest_aged_backorders() == 1
    assert digest_aged_backorders() == 1  # same day: same key, not sent twice
    (digest,) = sent("Aged backorders")
    assert "2 rows waiting" in digest.subject
    assert "Brass Lamp" in digest.body and "3 units in 2 rows, oldest 40 days; 2 / 1" in digest.body
    assert "Oak Chair" not in digest.body


def test_checkout_refuses_an_email_with_a_line_break(client):
    from storefront.forms import CheckoutForm

    form = CheckoutForm(data={"email": "a@example.com\nBcc: x@example.com", "full_name": "A", "address": "x"})
    assert not form.is_valid()
    assert "email" in form.errors
