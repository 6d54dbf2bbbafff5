"""The merchants hear of a return request: one email per request, written with it, in the
merchant's language, saying what comes back and why, linking to the return in the admin."""

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import dateformat, timezone

from notifications.models import OutboxMessage
from orders.models import ReturnEvent, ReturnRequest
from orders.services import (
    CartLine,
    Customer,
    checkout_place_order,
    return_approve,
    return_reject,
    return_request,
    shipment_create,
)
from orders.signals import return_moved
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.orders.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]


@pytest.fixture
def shop(settings):
    settings.MERCHANT_EMAILS = ["shop@example.com"]
    settings.ADMIN_LANGUAGE_CODE = "en"
    settings.SITE_URL = "https://shop.example"


@pytest.fixture
def ada():
    return UserFactory(username="ada", email="ada@example.com")


@pytest.fixture
def shipped(shop, main, ada):
    """Ada's order of 3 lamps, placed in German and shipped."""
    lamp = ProductFactory(sku="LAMP-1", name="Brass Lamp")
    receive(lamp, 3, main)
    customer = Customer(
        email=ada.email, full_name="Ada Lovelace", address="1 Analytical Way", user=ada, language="de"
    )
    order = checkout_place_order(lines=[CartLine(lamp.pk, 3)], customer=customer)
    shipment_create(order=order, source=main)
    return order


def to_merchant():
    return list(OutboxMessage.objects.filter(to_email="shop@example.com", kind="return_requested"))


def test_a_return_request_emails_the_merchant_once_in_english_with_what_comes_back_and_why(shipped):
    row = shipped.rows.get()
    ret = return_request(row_id=row.pk, quantity=2, reason="Zu hell für mein Arbeitszimmer")

    (email,) = to_merchant()
    assert OutboxMessage.objects.filter(kind="return_requested").count() == 1
    assert email.subject == f"Return requested: order {shipped.number}, 2 x LAMP-1"
    assert email.order_id == shipped.pk  # listed on the order's page in the admin
    shipped_on = dateformat.format(timezone.localtime(row.shipment.shipped_at), "j M Y")  # English dates
    admin_url = "https://shop.example" + reverse("admin:orders_returnrequest_change", args=[ret.pk])
    assert email.body_text == (
        f"Ada Lovelace <ada@example.com> asks to return items from order {shipped.number}:\n"
        f"- line 1: 2 x Brass Lamp (LAMP-1), of 3 shipped on {shipped_on}\n\n"
        "Reason given: Zu hell für mein Arbeitszimmer\n\n"
        f"Approve or reject the return: {admin_url}\n"
        f"The order: https://shop.example{reverse('admin:orders_order_change', args=[shipped.pk])}\n"
    )
    assert '<html lang="en">' in email.body_html
    assert f'<a href="{admin_url}" style="color:#0969da;">Approve or reject the return</a>' in email.body_html
    # the customer's own email stays in the order's language
    customer = OutboxMessage.objects.get(kind="return_update")
    assert customer.to_email == "ada@example.com"
    assert customer.subject == f"Rückgabeanfrage erhalten: Bestellung {shipped.number}"


def test_a_double_submit_or_a_repeated_announcement_writes_no_second_merchant_email(client, ada, shipped):
    client.force_login(ada)
    row = shipped.rows.get()
    url = reverse("storefront:order_return", kwargs={"number": shipped.number})
    form = {"row_id": row.pk, "quantity": 3, "reason": "Too bright"}

    client.post(url, form)
    client.post(url, form)  # the button clicked twice: the units are already asked back

    ret = ReturnRequest.objects.get()
    assert len(to_merchant()) == 1
    # the request announced again (a receiver run twice): the outbox key holds
    event = ReturnEvent.objects.get(return_request=ret)
    with transaction.atomic():
        return_moved.send(sender=ReturnRequest, return_request=ret, event=event)
    assert len(to_merchant()) == 1


def test_each_request_is_its_own_email_and_the_merchants_own_steps_email_only_the_customer(shipped):
    row = shipped.rows.get()
    first = return_request(row_id=row.pk, quantity=1, reason="Dented")
    second = return_request(row_id=row.pk, quantity=2, reason="Too bright")

    return_approve(return_id=first.pk)
    return_reject(return_id=second.pk, reason="Used")

    assert sorted(m.subject for m in to_merchant()) == [
        f"Return requested: order {shipped.number}, 1 x LAMP-1",
        f"Return requested: order {shipped.number}, 2 x LAMP-1",
    ]
    assert OutboxMessage.objects.filter(kind="return_update").count() == 4


def test_the_merchant_email_is_written_with_the_request_and_rolls_back_with_it(shipped):
    row = shipped.rows.get()
    with pytest.raises(RuntimeError), transaction.atomic():
        return_request(row_id=row.pk, quantity=1, reason="Dented")
        assert len(to_merchant()) == 1  # in the request's transaction, not after its commit
        raise RuntimeError("the request failed after asking")

    assert to_merchant() == []
