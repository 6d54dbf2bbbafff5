"""Silent backorders (issue 9.10): with "allow" a customer never reads the word backorder.

The same shop is walked through in both modes, page by page and email by email, as a
customer sees it: with "allow" nothing says backorder (not even a CSS class or a
button) and every waiting item carries its ships-by date; with "allow_notify" the
customer is told what is backordered. Merchant pages keep the real status.
"""

import datetime as dt
import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from catalog.models import Product
from notifications.events import emails_send_batch
from orders.links import order_url
from orders.models import Order, OrderRow, RowStatus
from orders.services import (
    CartLine,
    Customer,
    backorders_allocate,
    checkout_place_order,
    preorders_release,
    promises_refresh,
)
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.orders.factories import UserFactory
from tests.storefront.paying import pay

pytestmark = pytest.mark.django_db

GUEST = {"email": "ada@example.com", "full_name": "Ada Lovelace", "address": "1 Analytical Way"}
SILENT, NOTIFY = "allow", "allow_notify"
LEAD_DAYS = 14  # the global default: no supply in sight, so waiting units ship by today + 14


def product(mode: str, name: str, **fields) -> Product:
    # The seed's custom wording for a backorderable product: shown only when notifying.
    return ProductFactory(
        name=name,
        use_global_backorders=False,
        backorders=mode,
        backorder_label="Backorder now",
        backorder_note="Backorder now — ships in ~{days} days",
        **fields,
    )


def says_backorder(text: str) -> bool:
    return "backorder" in text.lower()


def day(date: dt.date) -> str:
    return f"{date.day} {date:%b %Y}"  # "5 Dec 2026", as the order pages and emails write it


def sent(subject_part: str) -> list:
    emails_send_batch()
    return [m for m in mail.outbox if subject_part in m.subject]


def bodies(message) -> str:
    return message.body + message.alternatives[0][0]


@pytest.mark.parametrize("mode", [SILENT, NOTIFY])
def test_guest_shop_pages_and_confirmation_email(client, main, mode):
    """Product list and page, cart, checkout, confirmation page, guest order page, the
    confirmation email and the cancel-link page."""
    lamp = product(mode, "Brass Lamp")  # nothing on the shelf
    kettle = product(mode, "Copper Kettle")
    receive(kettle, 1, main)  # 1 on the shelf, 2 more will wait
    ships_by = timezone.localdate() + dt.timedelta(days=LEAD_DAYS)
    silent = mode == SILENT

    listing = client.get(reverse("storefront:product_list")).content.decode()
    lamp_page = client.get(lamp.get_absolute_url()).content.decode()
    kettle_page = client.get(kettle.get_absolute_url(), {"quantity": 3}).content.decode()
    for html in (listing, lamp_page):
        if silent:
            assert f"Available — ships by {ships_by:%-d %b %Y}" in html
            assert "Add to cart" in html
        else:
            assert f"Available on backorder — ships by {ships_by:%-d %b %Y}" in html
            assert ">Backorder now" in html and "ships in ~14 days" in html
    assert f"expected to ship by {day(ships_by)}" in kettle_page
    assert ("1 in stock now, 2 will be backordered." in kettle_page) is not silent

    client.post(reverse("storefront:cart_add"), {"product_id": lamp.pk, "quantity": 2})
    added = client.post(reverse("storefront:cart_add"), {"product_id": kettle.pk, "quantity": 3}, follow=True)
    cart = added.content.decode()  # with the "added" message
    checkout = client.get(reverse("storefront:checkout")).content.decode()
    for html in (cart, checkout):
        assert f"to ship by {day(ships_by)}" in html
        assert ("2 will be backordered" in html) is not silent

    placed = pay(client, client.post(reverse("storefront:checkout"), GUEST).url)  # back on the confirmation
    order = Order.objects.get()
    confirmation_page = placed.content.decode()
    guest_page = client.get(order_url(order).removeprefix("http://127.0.0.1:8000")).content.decode()
    for html in (confirmation_page, guest_page):
        assert f"Order {order.number}" in html
        assert day(ships_by) in html
        if silent:
            assert html.count('status--preparing">Preparing<') == 2
        else:
            assert html.count('status--backordered">Backordered<') == 2

    (email,) = sent("Your Restock order")
    assert f"2 x Brass Lamp ({lamp.sku}): {'Preparing' if silent else 'Backordered'}" in email.body
    assert f"2 x Copper Kettle ({kettle.sku}): {'Preparing' if silent else 'Backordered'}" in email.body
    assert f"Expected by {day(ships_by)}" in email.body
    assert ("are backordered and will ship when restocked" in email.body) is not silent

    cancel_link = re.search(r"Cancel it: (\S+)", email.body).group(1)
    cancel_page = client.get(cancel_link.removeprefix("http://127.0.0.1:8000")).content.decode()
    assert f"2 × Brass Lamp, {'preparing' if silent else 'backordered'}." in cancel_page

    pages = [listing, lamp_page, kettle_page, cart, checkout, confirmation_page, guest_page, cancel_page]
    texts = [*pages, bodies(email)]
    if silent:
        assert not [t for t in texts if says_backorder(t)]
    else:
        assert all(says_backorder(t) for t in [listing, lamp_page, kettle_page, cart, checkout])
        assert all(says_backorder(t) for t in [confirmation_page, guest_page, cancel_page, bodies(email)])


@pytest.mark.parametrize("mode", [SILENT, NOTIFY])
def test_account_order_page(client, main, mode):
    user = UserFactory()
    lamp = product(mode, "Brass Lamp")
    order = checkout_place_order(
        lines=[CartLine(lamp.pk, 2)],
        customer=Customer(email=user.email, full_name="Ada", address="Road 1", user=user),
    )
    promised = order.rows.get().promise_date
    client.force_login(user)

    html = client.get(order.get_absolute_url()).content.decode()

    assert day(promised) in html
    if mode == SILENT:
        assert 'status--preparing">Preparing<' in html and not says_backorder(html)
    else:
        assert 'status--backordered">Backordered<' in html and "Waiting for stock" in html


@pytest.mark.parametrize("mode", [SILENT, NOTIFY])
def test_ready_to_ship_and_promise_moved_emails(main, mode):
    lamp = product(mode, "Brass Lamp", use_global_lead_time_days=False, lead_time_days=14)
    customer = Customer(email="ada@example.com", full_name="Ada", address="Road 1")
    order = checkout_place_order(lines=[CartLine(lamp.pk, 5)], customer=customer)
    sent("Your Restock order")

    # Supply slips: the lead time grows, the promise moves later and the customer is told.
    Product.objects.filter(pk=lamp.pk).update(lead_time_days=30)
    promises_refresh(product_id=lamp.pk)
    later = timezone.localdate() + dt.timedelta(days=30)
    (moved,) = sent("New expected date")
    assert f"now expected by {day(later)}" in moved.body

    # 2 arrive: they are ready to ship, the other 3 still wait.
    receive(lamp, 2, main)
    backorders_allocate(product_id=lamp.pk)
    (ready,) = sent("ready to ship")
    assert f"2 x Brass Lamp ({lamp.sku}): Allocated from Main warehouse" in ready.body
    assert order.rows.filter(status=RowStatus.BACKORDERED).get().quantity == 3

    if mode == SILENT:
        assert not says_backorder(bodies(moved)) and not says_backorder(bodies(ready))


@pytest.mark.parametrize("mode", [SILENT, NOTIFY])
def test_released_preorder_waits_as_preparing_when_silent(main, mode):
    today = timezone.localdate()
    game = product(mode, "Star Game", preorder_enabled=True, release_date=today + dt.timedelta(days=1))
    customer = Customer(email="ada@example.com", full_name="Ada", address="Road 1")
    checkout_place_order(lines=[CartLine(game.pk, 1)], customer=customer, today=today)

    preorders_release(today=today + dt.timedelta(days=1))

    (released,) = sent("Released")
    status = "Preparing" if mode == SILENT else "Backordered"
    assert f"1 x Star Game ({game.sku}): {status}" in released.body
    assert says_backorder(bodies(released)) is (mode == NOTIFY)


def test_the_merchant_still_sees_the_real_status(admin_client, main):
    lamp = product(SILENT, "Brass Lamp")
    order = checkout_place_order(
        lines=[CartLine(lamp.pk, 2)], customer=Customer(email="a@example.com", full_name="A", address="R")
    )
    row = order.rows.get()
    assert row.status == RowStatus.BACKORDERED

    order_admin = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    rows_admin = admin_client.get(reverse("admin:orders_orderrow_changelist")).content.decode()
    product_admin = admin_client.get(reverse("admin:catalog_product_changelist")).content.decode()

    assert "Backordered" in order_admin and "Backordered" in rows_admin
    assert "Preparing" not in order_admin
    assert "Available on backorder" in product_admin


def test_rows_are_worded_with_one_settings_read_whatever_their_number(main, django_assert_num_queries):
    from orders.presentation import rows_for_customer

    lamps = [product(SILENT, f"Lamp {i}") for i in range(3)] + [ProductFactory(notify=True)]
    order = checkout_place_order(
        lines=[CartLine(p.pk, 1) for p in lamps],
        customer=Customer(email="a@example.com", full_name="A", address="R"),
    )
    rows = list(OrderRow.objects.select_related("product").filter(order=order).order_by("line_no"))

    with django_assert_num_queries(1):
        shown = rows_for_customer(rows)

    assert [s.status for s in shown] == ["Preparing", "Preparing", "Preparing", "Backordered"]
