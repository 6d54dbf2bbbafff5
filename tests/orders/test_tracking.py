"""Shipments carry a carrier and tracking number: asked by the admin's ship actions on an
intermediate page (optional), linked from the shipped email and the customer's order page."""

import pytest
from django.urls import reverse

from notifications.models import OutboxMessage
from orders.exceptions import InvalidTracking
from orders.models import RowStatus, Shipment
from orders.services import CartLine, Customer, checkout_place_order, shipment_create
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.orders.factories import UserFactory
from tests.orders.test_admin_orders import parcel_form

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]
ORDERS = reverse("admin:orders_order_changelist")
ROWS = reverse("admin:orders_orderrow_changelist")
CARRIERS = {
    "dhl": {"name": "DHL", "url": "https://track.example/dhl?id={number}"},
    "post": {"name": "Post", "url": ""},
}


@pytest.fixture(autouse=True)
def carriers(settings):
    settings.SHIPPING_CARRIERS = CARRIERS


@pytest.fixture
def lamp(main):
    product = ProductFactory(sku="LAMP-1", name="Brass Lamp")
    receive(product, 5, main)
    return product


def place(product, quantity, user=None):
    email = user.email if user else "ada@example.com"
    customer = Customer(email=email, full_name="Ada Lovelace", address="1 Analytical Way", user=user)
    return checkout_place_order(lines=[CartLine(product.pk, quantity)], customer=customer)


def test_a_shipment_links_its_tracking_number_to_the_carriers_page(main, lamp):
    order = place(lamp, 1)
    shipment = shipment_create(
        order=order,
        source=main,
        carrier=" dhl",
        tracking_number=" JD 014600 ",  # trimmed
    )
    assert (shipment.carrier, shipment.carrier_name, shipment.tracking_number) == ("dhl", "DHL", "JD 014600")
    assert shipment.tracking_url == "https://track.example/dhl?id=JD%20014600"  # quoted into the pattern

    post = shipment_create(order=place(lamp, 1), source=main, carrier="post", tracking_number="RR123456789DE")
    assert post.tracking_url == ""  # a carrier without a tracking page: the number is shown unlinked


@pytest.mark.parametrize(
    ("carrier", "number", "field", "message"),
    [
        ("fedex", "", "carrier", "Unknown carrier 'fedex' (known: dhl, post)."),
        ("", "JD0146", "carrier", "Tracking number 'JD0146' needs its carrier."),
        ("dhl", "x", "tracking_number", "Tracking number 'x': 4 to 64 letters, digits, spaces or dashes."),
        ("dhl", "JD01<script>", "tracking_number", "Tracking number 'JD01<script>': 4 to 64 letters"),
    ],
)
def test_bad_tracking_is_refused_before_anything_ships(main, lamp, carrier, number, field, message):
    order = place(lamp, 1)
    with pytest.raises(InvalidTracking) as refused:
        shipment_create(order=order, source=main, carrier=carrier, tracking_number=number)
    assert refused.value.field == field and str(refused.value).startswith(message)
    assert not Shipment.objects.exists() and not order.rows.filter(status=RowStatus.SHIPPED).exists()


def test_the_ship_action_asks_for_tracking_per_parcel_and_the_email_and_page_link_to_it(
    admin_client, client, main, overflow, lamp
):
    ada = UserFactory(username="ada")
    receive(lamp, 1, overflow)
    first = place(lamp, 5, user=ada)  # 5 at main
    second = place(lamp, 1)  # 1 at overflow
    chosen = [first.pk, second.pk]

    page = admin_client.post(ORDERS, {"action": "ship_allocated", "_selected_action": chosen})
    html = page.content.decode()
    assert html.count('name="ship-') >= 8 and f"Carrier for {first.number}" in html
    assert not Shipment.objects.exists()  # asked, not shipped

    form = parcel_form([(first, main), (second, overflow)], **{"0": ("dhl", "JD0146"), "1": ("", "")})
    done = admin_client.post(
        ORDERS, {"action": "ship_allocated", "_selected_action": chosen, "apply": "1", **form}, follow=True
    )

    assert "Shipments created: 2." in done.content.decode()
    tracked = Shipment.objects.get(order=first)
    assert (tracked.carrier, tracked.tracking_number, tracked.shipped_by.username) == (
        "dhl",
        "JD0146",
        "admin",
    )
    assert Shipment.objects.get(order=second).tracking_number == ""
    email = OutboxMessage.objects.get(kind="shipped", order=first)
    assert "Carrier: DHL, tracking number JD0146" in email.body_text
    assert "Track your parcel: https://track.example/dhl?id=JD0146" in email.body_text
    assert '<a href="https://track.example/dhl?id=JD0146"' in email.body_html
    untracked = OutboxMessage.objects.get(kind="shipped", order=second)
    assert "tracking" not in untracked.body_text.lower()

    client.force_login(ada)
    account = client.get(first.get_absolute_url()).content.decode()
    assert '<a href="https://track.example/dhl?id=JD0146" rel="noopener">track parcel JD0146</a>' in account
    admin_page = admin_client.get(reverse("admin:orders_order_change", args=[first.pk])).content.decode()
    assert 'href="https://track.example/dhl?id=JD0146"' in admin_page


def test_bad_tracking_in_the_ship_form_is_shown_and_nothing_ships(admin_client, main, lamp):
    order = place(lamp, 2)
    row = order.rows.get()
    form = parcel_form([(order, main)], **{"0": ("", "JD0146")})

    response = admin_client.post(
        ROWS, {"action": "ship_rows", "_selected_action": [row.pk], "apply": "1", **form}
    )

    assert response.status_code == 200
    assert "Tracking number &#x27;JD0146&#x27; needs its carrier." in response.content.decode()
    assert not Shipment.objects.exists()
    form = parcel_form([(order, main)], **{"0": ("post", "RR123456789DE")})
    done = admin_client.post(
        ROWS, {"action": "ship_rows", "_selected_action": [row.pk], "apply": "1", **form}, follow=True
    )
    assert "Rows shipped: 1." in done.content.decode()
    assert Shipment.objects.get().tracking_number == "RR123456789DE"


def test_a_double_submitted_ship_form_ships_once(admin_client, main, lamp):
    order = place(lamp, 2)
    data = {
        "action": "ship_allocated",
        "_selected_action": [order.pk],
        "apply": "1",
        **parcel_form([(order, main)]),
    }
    admin_client.post(ORDERS, data)
    again = admin_client.post(ORDERS, data, follow=True)
    assert Shipment.objects.count() == 1
    assert "nothing left to ship" in again.content.decode() or "Nothing allocated" in again.content.decode()
