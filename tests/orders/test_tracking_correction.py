"""A shipped parcel's carrier and tracking number can be corrected (a typo leaves the customer
with a dead tracking link): checked like the ship action's, recorded as a note on the order,
the customer emailed the new link once per change in the order's language; the admin's
correction page needs orders.change_shipment; the customer's order page shows the new link."""

import pytest
from django.urls import reverse

from notifications.models import OutboxMessage
from orders.exceptions import InvalidTracking, NotAllowed
from orders.models import OrderNote, Shipment
from orders.services import (
    CartLine,
    Customer,
    checkout_place_order,
    shipment_create,
    shipment_tracking_change,
)
from tests.catalog.factories import ProductFactory
from tests.helpers import receive, staff_client
from tests.orders.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]
CARRIERS = {
    "dhl": {"name": "DHL", "url": "https://track.example/dhl?id={number}"},
    "ups": {"name": "UPS", "url": "https://track.example/ups/{number}"},
}
TYPO, RIGHT = "JD0164", "JD0146"


@pytest.fixture(autouse=True)
def carriers(settings):
    settings.SHIPPING_CARRIERS = CARRIERS


@pytest.fixture
def ada():
    return UserFactory(username="ada", email="ada@example.com")


def shipped(main, *, user=None, language="en", carrier="dhl", number=TYPO) -> Shipment:
    lamp = ProductFactory(name="Brass Lamp")
    receive(lamp, 1, main)
    customer = Customer(
        email="ada@example.com", full_name="Ada Lovelace", address="1 Way", user=user, language=language
    )
    order = checkout_place_order(lines=[CartLine(lamp.pk, 1)], customer=customer)
    return shipment_create(order=order, source=main, carrier=carrier, tracking_number=number)


def corrections(shipment) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(kind="tracking_changed", order=shipment.order))


# -- the service -------------------------------------------------------------------------------


def test_a_correction_is_noted_on_the_order_and_emails_the_new_link_once(main, django_user_model):
    shipment = shipped(main)
    merchant = django_user_model.objects.create_user("merchant", is_staff=True)

    changed = shipment_tracking_change(shipment=shipment, carrier="dhl", tracking_number=RIGHT, user=merchant)
    with pytest.raises(NotAllowed) as again:  # the double submit
        shipment_tracking_change(shipment=shipment, carrier="dhl", tracking_number=RIGHT, user=merchant)

    shipment.refresh_from_db()
    assert (changed.tracking_number, shipment.carrier, shipment.tracking_number) == (RIGHT, "dhl", RIGHT)
    assert str(again.value) == (
        f"Shipment {shipment.pk} of order {shipment.order.number} already has DHL {RIGHT}: nothing changed."
    )
    (note,) = OrderNote.objects.filter(order=shipment.order)
    assert note.author == merchant
    assert note.text == (
        f"Tracking of shipment {shipment.pk} (from Main warehouse) corrected: DHL {TYPO} → DHL {RIGHT}."
    )
    (email,) = corrections(shipment)
    assert email.to_email == "ada@example.com"
    assert email.subject == f"Order {shipment.order.number}: new tracking number for your parcel"
    assert f"Carrier: DHL, tracking number {RIGHT}" in email.body_text
    assert f"Track your parcel: https://track.example/dhl?id={RIGHT}" in email.body_text
    assert f"This replaces the tracking number {TYPO} we sent you before." in email.body_text
    assert f'<a href="https://track.example/dhl?id={RIGHT}"' in email.body_html
    assert f"id={TYPO}" not in email.body_html  # no link to the dead number

    # a later change is a change of its own: its own note and email
    shipment_tracking_change(shipment=shipment, carrier="ups", tracking_number="1Z999AA1", user=merchant)
    assert len(corrections(shipment)) == 2 and OrderNote.objects.filter(order=shipment.order).count() == 2
    latest = OutboxMessage.objects.filter(kind="tracking_changed").latest("pk")
    assert "Track your parcel: https://track.example/ups/1Z999AA1" in latest.body_text


def test_the_correction_email_is_in_the_orders_language(main):
    shipment = shipped(main, language="de")
    shipment_tracking_change(shipment=shipment, carrier="dhl", tracking_number=RIGHT)
    (email,) = corrections(shipment)
    assert email.subject == f"Bestellung {shipment.order.number}: neue Sendungsnummer für Ihr Paket"
    assert "Hallo Ada Lovelace," in email.body_text
    assert f"Versanddienst: DHL, Sendungsnummer {RIGHT}" in email.body_text
    assert f"Sendung verfolgen: https://track.example/dhl?id={RIGHT}" in email.body_text
    assert f"Diese Nummer ersetzt die Sendungsnummer {TYPO}" in email.body_text
    assert '<html lang="de">' in email.body_html


def test_tracking_can_be_added_to_a_parcel_shipped_without_it(main):
    shipment = shipped(main, carrier="", number="")
    shipment_tracking_change(shipment=shipment, carrier="dhl", tracking_number=RIGHT)
    assert OrderNote.objects.get().text.endswith(f"corrected: no tracking → DHL {RIGHT}.")
    (email,) = corrections(shipment)
    assert f"Track your parcel: https://track.example/dhl?id={RIGHT}" in email.body_text
    assert "replaces" not in email.body_text  # nothing was sent before


@pytest.mark.parametrize(
    ("carrier", "number", "error", "message"),
    [
        ("fedex", RIGHT, InvalidTracking, "Unknown carrier 'fedex' (known: dhl, ups)."),
        (
            "dhl",
            "  ",
            InvalidTracking,
            "Shipment {pk}: enter the corrected tracking number; it cannot be empty.",
        ),
        ("", "", InvalidTracking, "Shipment {pk}: enter the corrected tracking number; it cannot be empty."),
        ("dhl", "JD<01>", InvalidTracking, "Tracking number 'JD<01>': 4 to 64 letters"),
        (
            " dhl ",
            f" {TYPO} ",
            NotAllowed,
            "Shipment {pk} of order {order} already has DHL JD0164: nothing changed.",
        ),
    ],
)
def test_a_bad_unchanged_or_empty_correction_is_refused_and_changes_nothing(
    main, carrier, number, error, message
):
    shipment = shipped(main)
    with pytest.raises(error) as refused:
        shipment_tracking_change(shipment=shipment, carrier=carrier, tracking_number=number)
    assert str(refused.value).startswith(message.format(pk=shipment.pk, order=shipment.order.number))
    shipment.refresh_from_db()
    assert (shipment.carrier, shipment.tracking_number) == ("dhl", TYPO)
    assert not OrderNote.objects.exists() and corrections(shipment) == []


# -- the admin ---------------------------------------------------------------------------------


def order_page(shipment) -> str:
    return reverse("admin:orders_order_change", args=[shipment.order_id])


def correct_url(shipment) -> str:
    return reverse("admin:orders_order_shipment_tracking", args=[shipment.order_id, shipment.pk])


def test_a_merchant_with_the_permission_corrects_tracking_from_the_order_page(client, main):
    shipment = shipped(main)
    merchant = staff_client(
        client, "orders.view_order", "orders.view_shipment", "orders.change_shipment", username="merchant"
    )
    assert (
        f'href="{correct_url(shipment)}">Correct tracking</a>'
        in merchant.get(order_page(shipment)).content.decode()
    )
    form = merchant.get(correct_url(shipment)).content.decode()
    assert f'value="{TYPO}"' in form and '<option value="dhl" selected>DHL</option>' in form

    done = merchant.post(correct_url(shipment), {"carrier": "dhl", "tracking_number": RIGHT}, follow=True)

    assert done.redirect_chain[-1][0] == order_page(shipment)
    html = done.content.decode()
    assert f"now has DHL {RIGHT}; the customer is emailed the new tracking link." in html
    assert f"corrected: DHL {TYPO} → DHL {RIGHT}." in html  # the note, on the order page
    assert f'href="https://track.example/dhl?id={RIGHT}"' in html
    shipment.refresh_from_db()
    assert shipment.tracking_number == RIGHT
    assert OrderNote.objects.get().author.username == "merchant"
    assert len(corrections(shipment)) == 1


def test_the_correction_page_shows_what_the_service_refused(admin_client, main):
    shipment = shipped(main)
    unchanged = admin_client.post(correct_url(shipment), {"carrier": "dhl", "tracking_number": TYPO})
    bad = admin_client.post(correct_url(shipment), {"carrier": "dhl", "tracking_number": "x"})
    assert unchanged.status_code == bad.status_code == 200
    assert f"already has DHL {TYPO}: nothing changed." in unchanged.content.decode()
    assert "Tracking number &#x27;x&#x27;: 4 to 64 letters" in bad.content.decode()
    assert not OrderNote.objects.exists() and corrections(shipment) == []


def test_a_view_only_clerk_cannot_correct_tracking(client, main):
    shipment = shipped(main)
    clerk = staff_client(client, "orders.view_order", "orders.view_shipment", username="clerk")
    page = clerk.get(order_page(shipment)).content.decode()
    assert TYPO in page and "Correct tracking" not in page

    assert clerk.get(correct_url(shipment)).status_code == 403
    refused = clerk.post(correct_url(shipment), {"carrier": "dhl", "tracking_number": RIGHT})

    assert refused.status_code == 403
    assert "(<code>orders.change_shipment</code>)" in refused.content.decode()
    shipment.refresh_from_db()
    assert shipment.tracking_number == TYPO and corrections(shipment) == []


# -- the customer ------------------------------------------------------------------------------


def test_the_customers_order_page_links_to_the_corrected_tracking(client, main, ada):
    shipment = shipped(main, user=ada)
    shipment_tracking_change(shipment=shipment, carrier="dhl", tracking_number=RIGHT)
    client.force_login(ada)
    html = client.get(shipment.order.get_absolute_url()).content.decode()
    assert f'<a href="https://track.example/dhl?id={RIGHT}" rel="noopener">track parcel {RIGHT}</a>' in html
    assert TYPO not in html
