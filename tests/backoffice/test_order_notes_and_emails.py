"""The order page's staff notes and communication log: notes with author and time (staff who
may only view orders can still add them with orders.add_ordernote), every email written for
the order with its state, and a resend that writes a new message, once per click."""

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.models import OutboxMessage, OutboxStatus
from orders.models import OrderNote
from orders.services import CartLine, Customer, checkout_place_order, shipment_create
from tests.catalog.factories import ProductFactory
from tests.helpers import receive, staff_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]


@pytest.fixture
def order(main):
    lamp = ProductFactory(sku="LAMP-1", name="Brass Lamp")
    receive(lamp, 2, main)
    customer = Customer(email="ada@example.com", full_name="Ada Lovelace", address="1 Analytical Way")
    order = checkout_place_order(lines=[CartLine(lamp.pk, 2)], customer=customer)
    shipment_create(order=order, source=main, carrier="dhl", tracking_number="JD0146")
    return order


def page(client, order) -> str:
    response = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert response.status_code == 200
    return response.content.decode()


def note_url(order):
    return reverse("admin:orders_order_note_add", args=[order.pk])


def resend_url(order, message):
    return reverse("admin:orders_order_email_resend", args=[order.pk, message.pk])


def shipped_email(order) -> OutboxMessage:
    message = OutboxMessage.objects.get(kind="shipped", order=order)
    message.status, message.sent_at = OutboxStatus.SENT, timezone.now()
    message.save()
    return message


def test_staff_notes_are_listed_with_author_and_time(admin_client, order):
    admin_client.post(note_url(order), {"text": "Customer called: leave the parcel next door."})
    empty = admin_client.post(note_url(order), {"text": "   "}, follow=True)

    (note,) = OrderNote.objects.filter(order=order)
    assert (note.author.username, note.text) == ("admin", "Customer called: leave the parcel next door.")
    assert f"Order {order.number}: a note needs some text; nothing was added." in empty.content.decode()
    html = page(admin_client, order)
    assert "Customer called: leave the parcel next door." in html and "<td>admin</td>" in html
    assert f"{timezone.localtime(note.created_at):%-d %b %Y}" in html


def test_staff_who_may_only_view_orders_add_notes_with_the_note_permission(client, order):
    clerk = staff_client(client, "orders.view_order", "orders.add_ordernote", username="clerk")
    assert 'value="Add note"' in page(clerk, order)
    clerk.post(note_url(order), {"text": "Checked the address with the customer."})
    assert OrderNote.objects.get(order=order).author.username == "clerk"


def test_viewers_without_the_note_permission_see_notes_but_cannot_add(client, order):
    OrderNote.objects.create(order=order, text="Fragile")
    viewer = staff_client(client, "orders.view_order", username="viewer")
    html = page(viewer, order)
    assert "Fragile" in html and 'value="Add note"' not in html
    assert viewer.post(note_url(order), {"text": "sneaky"}).status_code == 403
    assert OrderNote.objects.filter(order=order).count() == 1


def test_the_order_page_lists_every_email_for_the_order_with_its_state(admin_client, order):
    sent = shipped_email(order)
    OutboxMessage.objects.create(
        key="other", kind="shipped", to_email="x@example.com", subject="not this order"
    )

    html = page(admin_client, order)

    assert 'id="order-emails"' in html
    assert sent.subject in html and "ada@example.com" in html and "Sent" in html
    assert "not this order" not in html
    assert html.count('value="Resend"') == 1  # only sent messages can be resent


def test_resend_writes_a_new_message_once_per_page_and_notes_who_did_it(admin_client, order):
    sent = shipped_email(order)
    sent.attachments = [{"filename": "lines.csv", "mimetype": "text/csv", "content": "sku,qty\nLAMP-1,2\n"}]
    sent.save()
    nonce = "a" * 32  # what the page rendered into its resend form

    first = admin_client.post(resend_url(order, sent), {"nonce": nonce}, follow=True)
    double = admin_client.post(resend_url(order, sent), {"nonce": nonce}, follow=True)  # the double click

    (copy,) = OutboxMessage.objects.filter(resent_from=sent)
    assert (copy.status, copy.kind, copy.to_email, copy.order_id) == (
        "pending",
        "shipped",
        sent.to_email,
        order.pk,
    )
    assert (copy.subject, copy.body_text, copy.body_html) == (sent.subject, sent.body_text, sent.body_html)
    assert copy.attachments == sent.attachments
    sent.refresh_from_db()
    assert sent.status == OutboxStatus.SENT  # the original is left as it was sent
    assert "The shipped email is queued again to ada@example.com." in first.content.decode()
    assert "already queued again from this page; not sent twice" in double.content.decode()
    note = OrderNote.objects.get(order=order)
    assert note.author.username == "admin" and note.text.startswith("Resent the shipped email")

    admin_client.post(resend_url(order, sent), {"nonce": "b" * 32})  # a fresh page: a deliberate resend
    assert OutboxMessage.objects.filter(resent_from=sent).count() == 2


def test_a_message_not_sent_yet_is_not_resent(admin_client, order):
    pending = OutboxMessage.objects.get(kind="shipped", order=order)
    response = admin_client.post(resend_url(order, pending), {"nonce": "c" * 32}, follow=True)
    assert (
        f"Email {pending.pk} cannot be resent: it is pending, not sent; retry it instead."
        in response.content.decode()
    )
    assert not OutboxMessage.objects.filter(resent_from=pending).exists()


def test_resend_needs_its_permission(client, order):
    sent = shipped_email(order)
    viewer = staff_client(client, "orders.view_order", "notifications.view_outboxmessage", username="viewer")
    html = page(viewer, order)
    assert sent.subject in html and 'value="Resend"' not in html
    assert viewer.post(resend_url(order, sent), {"nonce": "d" * 32}).status_code == 403
    assert not OutboxMessage.objects.filter(resent_from=sent).exists()


def test_staff_without_the_outbox_view_permission_do_not_see_the_emails(client, order):
    viewer = staff_client(client, "orders.view_order", username="viewer")
    assert 'id="order-emails"' not in page(viewer, order)
