"""After-the-sale emails over a real SMTP server (aiosmtpd sink): the shipped email's
tracking link, a resend arriving as a second message of its own, and the merchant told of
a return request."""

import pytest

from notifications.after_sale import outbox_resend
from notifications.events import emails_send_batch
from notifications.models import OutboxMessage, OutboxStatus
from orders.services import CartLine, Customer, checkout_place_order, return_request, shipment_create
from tests.catalog.factories import ProductFactory
from tests.helpers import receive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]


@pytest.fixture
def smtp(sink, settings):
    for name, value in sink.django_settings().items():
        setattr(settings, name, value)
    settings.SHIPPING_CARRIERS = {"dhl": {"name": "DHL", "url": "https://track.example/dhl?id={number}"}}
    return sink


def shipped(smtp):
    return [m for m in smtp.to("ada@example.com") if m.subject.endswith("has shipped")]


def test_the_shipped_email_links_to_the_tracking_page_and_a_resend_arrives_as_a_new_message(smtp, main):
    lamp = ProductFactory(sku="LAMP-1", name="Brass Lamp")
    receive(lamp, 1, main)
    customer = Customer(email="ada@example.com", full_name="Ada Lovelace", address="1 Analytical Way")
    order = checkout_place_order(lines=[CartLine(lamp.pk, 1)], customer=customer)
    shipment_create(order=order, source=main, carrier="dhl", tracking_number="JD 0146")

    emails_send_batch()  # (the merchants' low-stock alert goes too)
    smtp.wait_for(OutboxMessage.objects.filter(status=OutboxStatus.SENT).count(), timeout=5)
    (received,) = shipped(smtp)

    assert received.rcpt_tos == ("ada@example.com",)
    assert "Carrier: DHL, tracking number JD 0146" in received.text
    assert "Track your parcel: https://track.example/dhl?id=JD%200146" in received.text
    assert (
        '<a href="https://track.example/dhl?id=JD%200146" style="color:#0969da;">Track your parcel</a>'
        in received.html
    )

    sent = OutboxMessage.objects.get(kind="shipped")
    assert sent.status == OutboxStatus.SENT
    copy, new = outbox_resend(message_id=sent.pk, nonce="page-1")
    assert new and emails_send_batch().sent == 1
    smtp.wait_for(OutboxMessage.objects.filter(status=OutboxStatus.SENT).count(), timeout=5)
    first, again = shipped(smtp)
    assert again.text == first.text and again.subject == first.subject
    assert again.message_id == copy.message_id != first.message_id  # a message of its own


def test_a_return_request_reaches_the_merchant_with_the_reason_and_a_link_to_the_return(smtp, main, settings):
    settings.MERCHANT_EMAILS = ["shop@example.com"]
    lamp = ProductFactory(sku="LAMP-1", name="Brass Lamp")
    receive(lamp, 2, main)
    customer = Customer(email="ada@example.com", full_name="Ada Lovelace", address="1 Way", language="de")
    order = checkout_place_order(lines=[CartLine(lamp.pk, 2)], customer=customer)
    shipment_create(order=order, source=main)
    ret = return_request(row_id=order.rows.get().pk, quantity=1, reason="Scratched <badly> & dented")

    emails_send_batch()
    smtp.wait_for(OutboxMessage.objects.filter(status=OutboxStatus.SENT).count(), timeout=5)
    (received,) = [m for m in smtp.to("shop@example.com") if m.subject.startswith("Return requested")]

    assert received.rcpt_tos == ("shop@example.com",)
    assert received.subject == f"Return requested: order {order.number}, 1 x LAMP-1"
    assert "- line 1: 1 x Brass Lamp (LAMP-1), of 2 shipped on" in received.text
    assert "Reason given: Scratched <badly> & dented" in received.text
    link = f"{settings.SITE_URL}/admin/orders/returnrequest/{ret.pk}/change/"
    assert f"Approve or reject the return: {link}" in received.text
    assert "Scratched &lt;badly&gt; &amp; dented" in received.html  # the customer's words, escaped
    assert f'<a href="{link}"' in received.html
