"""The order confirmation through a real Celery worker on Redis and a real SMTP server.

Nothing is mocked: checkout runs in the test process and writes the outbox in its
transaction; after commit send_outbox is published to Redis (eager mode off); a
`celery -A config worker` process on the test database sends over SMTP to an aiosmtpd
sink started here. The test reads what the sink received (envelope, headers, both
parts) and follows the links in it with the Django test client.
"""

import re
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from notifications.models import OutboxMessage, OutboxStatus
from orders.models import RowStatus
from orders.services import CartLine, Customer, checkout_place_order
from tests.billing.factories import pay
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.inventory.factories import SourceFactory
from tests.workers import wait_until

from .smtp import WORKER_SETTINGS

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DELIVERY_TIMEOUT = 30.0


@pytest.fixture
def smtp_worker(celery_workers, sink):
    """A real worker (conftest's fixture) whose Django sends through the sink."""
    return celery_workers.worker(DJANGO_SETTINGS_MODULE=WORKER_SETTINGS, EMAIL_URL=sink.url)


def all_sent() -> bool:
    statuses = set(OutboxMessage.objects.values_list("status", flat=True))
    return statuses == {OutboxStatus.SENT}


def test_the_worker_sends_the_confirmation_over_smtp_with_both_parts_and_working_links(
    smtp_worker, sink, client
):
    main = SourceFactory(code="main", name="Main warehouse", priority=1)
    lamp = ProductFactory(name="Brass Lamp", notify=True)  # allow_notify: the customer is told
    receive(lamp, 1, main)
    customer = Customer(email="ada@example.com", full_name="Ada Lovelace", address="1 Analytical Way")

    order = checkout_place_order(lines=[CartLine(lamp.pk, 3)], customer=customer)
    pay(order)  # authorized with the dummy provider: the order's emails may go out

    # After commit send_outbox went to Redis; the worker sends every message of the order.
    wait_until(all_sent, timeout=DELIVERY_TIMEOUT, what="the worker to send the outbox")
    outbox = {row.key: row for row in OutboxMessage.objects.all()}
    sink.wait_for(len(outbox), timeout=5)
    assert sorted(sink.count_by_message_id().values()) == [1] * len(outbox)
    assert set(sink.count_by_message_id()) == {row.message_id for row in outbox.values()}

    row = outbox[f"order_confirmation:{order.number}:ada@example.com"]
    (received,) = sink.to("ada@example.com")
    assert received.rcpt_tos == ("ada@example.com",)
    assert received.to == "ada@example.com"
    assert received.mail_from == "shop@restock.invalid"
    assert received.subject == f"Your Restock order {order.number}"
    assert received.message_id == row.message_id  # stable per outbox row: a resend is recognisable
    assert received.message.get_content_type() == "multipart/alternative"
    text, html = received.text, received.html
    assert f"thank you for your order {order.number}" in text
    assert f"1 x Brass Lamp ({lamp.sku}): Allocated from Main warehouse" in text
    assert f"2 x Brass Lamp ({lamp.sku}): Backordered" in text
    notice = "2 of the 3 Brass Lamp you ordered are backordered"
    assert notice in text and notice in html
    # 3 x 19.90 ships free (from 50.00); 20 % tax included, per unit 3.32
    for line in ["Subtotal: €59.70", "Shipping: €0.00", "Tax (20%, included): €9.96", "Total: €59.70"]:
        assert line in text
    assert "Charged so far: €0.00" in text and "To be charged as the rest ships: €59.70" in text
    assert "€59.70" in html
    assert "<table" in html and f"<strong>{order.number}</strong>" in html
    # The merchant is told of the backorder, as the policy says notify (and of low stock).
    merchant = {m.subject for m in sink.to(settings.MERCHANT_EMAILS[0])}
    assert f"Backorder placed: order {order.number}" in merchant

    # The links work: the cancel link (signed, no sign-in) and the order page.
    cancel_url = re.search(r"Cancel it: (\S+)", text).group(1)
    assert f'href="{cancel_url}"' in html
    order_link = re.search(r"See your order at any time: (\S+)", text).group(1)
    assert f'href="{order_link}"' in html
    assert cancel_url.startswith(settings.SITE_URL) and order_link.startswith(settings.SITE_URL)
    cancel_path, order_path = urlsplit(cancel_url).path, urlsplit(order_link).path

    page = client.get(cancel_path)
    assert page.status_code == 200
    assert '<button type="submit"' in page.content.decode()
    assert "Cancel 2 × Brass Lamp" in page.content.decode()
    backordered = order.rows.get(status=RowStatus.BACKORDERED)

    assert client.post(cancel_path).status_code == 302
    backordered.refresh_from_db()
    assert backordered.status == RowStatus.CANCELLED
    assert order.rows.get(status=RowStatus.ALLOCATED).quantity == 1  # the other row is untouched

    page = client.get(order_path)
    assert page.status_code == 200
    assert order.number in page.content.decode()
