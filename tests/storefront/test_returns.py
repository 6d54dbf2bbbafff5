"""The customer's order page after the sale: shipments with their tracking links, returns
with their status, and the form to ask for one (signed in)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders.links import guest_order_path
from orders.models import ReturnRequest
from orders.services import CartLine, Customer, checkout_place_order, return_approve, shipment_create
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.orders.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]


@pytest.fixture
def ada():
    return UserFactory(username="ada")


@pytest.fixture
def shipped(main, ada, settings):
    """Ada's order of 3 lamps, shipped with DHL tracking."""
    settings.SHIPPING_CARRIERS = {"dhl": {"name": "DHL", "url": "https://track.example/dhl?id={number}"}}
    lamp = ProductFactory(sku="LAMP-1", name="Brass Lamp")
    receive(lamp, 3, main)
    customer = Customer(email=ada.email, full_name="Ada Lovelace", address="1 Analytical Way", user=ada)
    order = checkout_place_order(lines=[CartLine(lamp.pk, 3)], customer=customer)
    shipment_create(order=order, source=main, carrier="dhl", tracking_number="JD0146")
    return order


def texts(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def return_url(order):
    return reverse("storefront:order_return", kwargs={"number": order.number})


def test_the_customer_asks_for_a_return_from_the_order_page_and_sees_its_status(client, ada, shipped):
    client.force_login(ada)
    row = shipped.rows.get()
    html = client.get(shipped.get_absolute_url()).content.decode()
    assert "Return Brass Lamp" in html and 'max="3"' in html and "3 can be returned" in html
    assert '<a href="https://track.example/dhl?id=JD0146" rel="noopener">track parcel JD0146</a>' in html

    response = client.post(
        return_url(shipped), {"row_id": row.pk, "quantity": 2, "reason": "Too bright"}, follow=True
    )

    assert texts(response) == [
        "We have your request to return 2 × Brass Lamp; we will email you the next steps."
    ]
    ret = ReturnRequest.objects.get()
    assert (ret.row, ret.quantity, ret.reason, ret.requested_by) == (row, 2, "Too bright", ada)
    html = response.content.decode()
    assert 'status--return-requested">Requested' in html
    assert 'max="1"' in html and "1 can be returned" in html
    return_approve(return_id=ret.pk)
    assert 'status--return-approved">Approved' in client.get(shipped.get_absolute_url()).content.decode()


def test_asking_for_more_than_is_left_says_what_can_still_be_returned(client, ada, shipped):
    client.force_login(ada)
    row = shipped.rows.get()
    client.post(return_url(shipped), {"row_id": row.pk, "quantity": 2, "reason": "Too bright"}, follow=True)

    response = client.post(
        return_url(shipped), {"row_id": row.pk, "quantity": 2, "reason": "More"}, follow=True
    )

    assert texts(response) == [
        f"Brass Lamp (order {shipped.number}, line 1): 1 can still be returned; you asked to return 2."
    ]
    assert ReturnRequest.objects.count() == 1


def test_a_return_needs_a_reason_and_a_quantity(client, ada, shipped):
    client.force_login(ada)
    row = shipped.rows.get()
    response = client.post(return_url(shipped), {"row_id": row.pk, "quantity": "", "reason": ""}, follow=True)
    assert texts(response) == ["Enter a quantity.", "Please say why you are returning these items."]
    assert not ReturnRequest.objects.exists()


def test_nobody_else_can_ask_to_return_an_order_and_guests_see_no_form(client, shipped):
    row = shipped.rows.get()
    client.force_login(UserFactory(username="eve"))
    response = client.post(return_url(shipped), {"row_id": row.pk, "quantity": 1, "reason": "mine now"})
    assert response.status_code == 404
    assert not ReturnRequest.objects.exists()
    client.logout()
    guest = client.get(guest_order_path(shipped)).content.decode()
    assert "track parcel JD0146" in guest and "Return Brass Lamp" not in guest


def test_the_order_page_costs_the_same_queries_with_more_shipments_and_returns(client, ada, shipped, main):
    client.force_login(ada)
    client.get(shipped.get_absolute_url())  # warm up
    with CaptureQueriesContext(connection) as one:
        client.get(shipped.get_absolute_url())
    lamp = shipped.rows.get().product
    receive(lamp, 4, main)
    for _ in range(2):
        more = checkout_place_order(
            lines=[CartLine(lamp.pk, 2)],
            customer=Customer(email=ada.email, full_name="Ada", address="x", user=ada),
        )
        shipment_create(order=more, source=main, carrier="dhl", tracking_number="JD0147")
    # the same order with more returns: still the same page cost
    row = shipped.rows.get()
    for _ in range(3):
        client.post(return_url(shipped), {"row_id": row.pk, "quantity": 1, "reason": "x"})
    with CaptureQueriesContext(connection) as many:
        client.get(shipped.get_absolute_url())
    assert len(many) == len(one)
