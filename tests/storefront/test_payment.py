"""The payment step with django-payments' dummy provider, through the pages: checkout → the
payment page → back to the confirmation; a decline and a retry; two tabs; the window closing;
guests through their session or the signed link; totals and each row's payment state."""

import datetime as dt
from decimal import Decimal as D

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing.models import EntryKind, EntryState, LedgerEntry, Payment
from billing.selectors import order_is_paid
from billing.services import unpaid_orders_expire
from orders.links import guest_order_path, guest_order_token
from orders.models import Order, RowStatus
from orders.services import shipment_create
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.orders.factories import UserFactory
from tests.storefront.paying import APPROVE, CHARGE, DECLINE, dummy_answer, pay, texts

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]
CHECKOUT = reverse("storefront:checkout")
GUEST = {"email": "ada@example.com", "full_name": "Ada Lovelace", "address": "1 Analytical Way"}


@pytest.fixture(autouse=True)
def money(settings):
    settings.BILLING_CURRENCY = "EUR"
    settings.BILLING_SHIPPING, settings.BILLING_FREE_SHIPPING_FROM = "4.90", "50.00"
    settings.BILLING_TAX_RATE, settings.BILLING_PRICES_INCLUDE_TAX = "0.20", True
    settings.BILLING_SETTLEMENT = "per_shipment"
    settings.BILLING_PAYMENT_WINDOW_MINUTES = 30


@pytest.fixture
def lantern(main):
    """€20.00 (tax included), 2 on the shelf, backorderable: 2 + 1 = 1 row allocated, 1 waiting."""
    product = ProductFactory(name="Lantern", price=D("20.00"), notify=True)
    receive(product, 2, main)
    return product


def add(client, product, quantity):
    client.post(reverse("storefront:cart_add"), {"product_id": product.pk, "quantity": quantity})


def checkout(client, product, quantity) -> tuple[Order, str]:
    """Put ``quantity`` in the cart and place the order: (the order, its payment page)."""
    add(client, product, quantity)
    response = client.post(CHECKOUT, GUEST)
    order = Order.objects.latest("pk")
    assert response.status_code == 302
    return order, response.url


def confirmation(order) -> str:
    return reverse("storefront:order_confirmation", kwargs={"number": order.number})


def totals_shown(html: str) -> dict[str, str]:
    """The totals block (<dl class="totals">) as label -> amount, as the page shows it."""
    import re

    block = html[html.index('class="totals"') :]
    block = block[: block.index("</dl>")]
    return dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", block))


# Tax included at 20 %, per unit: €20.00 = 16.67 + 3.33; shipping €4.90 = 4.08 + 0.82.
# 2 lanterns: €40.00 + €4.90 shipping (under €50.00); tax 2 × 3.33 + 0.82 = €7.48.
# 3 lanterns: €60.00, shipping free (from €50.00); tax 3 × 3.33 = €9.99.
THREE_TOTALS = {"Subtotal": "€60.00", "Shipping": "Free", "Tax (included)": "€9.99", "Total": "€60.00"}
TWO_TOTALS = {"Subtotal": "€40.00", "Shipping": "€4.90", "Tax (included)": "€7.48", "Total": "€44.90"}


def test_guest_pays_and_comes_back_to_the_confirmation_with_totals(client, lantern):
    add(client, lantern, 2)
    cart = client.get(reverse("storefront:cart")).content.decode()
    assert "€44.90" in cart and "€7.48" in cart and "€4.90" in cart and "€40.00" in cart
    assert totals_shown(client.get(CHECKOUT).content.decode()) == TWO_TOTALS
    placed = client.post(CHECKOUT, GUEST, follow=True)
    order = Order.objects.get()

    page = placed.content.decode()
    assert placed.redirect_chain == [(reverse("storefront:order_pay", kwargs={"number": order.number}), 302)]
    assert f"Your order {order.number} is placed. Please pay to confirm it." in texts(placed)
    assert "To pay now: <strong>€44.90</strong>" in page and totals_shown(page) == TWO_TOTALS
    assert not order_is_paid(order_id=order.pk)  # placed, awaiting payment

    back = client.post(placed.redirect_chain[-1][0], dummy_answer(APPROVE), follow=True)

    assert back.redirect_chain[-1][0] == confirmation(order)
    assert f"Thank you! Payment received: your order {order.number} is confirmed." in texts(back)
    html = back.content.decode()
    assert totals_shown(html) == TWO_TOTALS
    assert "Payment authorized." in html and html.count("To be charged when it ships") == 1
    (auth,) = LedgerEntry.objects.filter(order=order)
    assert (auth.kind, auth.state, auth.amount) == (EntryKind.AUTHORIZE, EntryState.SUCCEEDED, D("44.90"))
    # the rows are as checkout placed them: one allocated, none waiting
    assert sorted(order.rows.values_list("status", "quantity")) == [(RowStatus.ALLOCATED, 2)]


def test_a_decline_says_so_and_the_same_order_is_paid_on_the_next_try(client, lantern):
    order, pay_url = checkout(client, lantern, 3)  # 2 allocated + 1 backordered, free shipping

    declined = pay(client, pay_url, DECLINE)

    assert declined.redirect_chain[-1][0] == pay_url  # back on the payment page, to try again
    (message,) = texts(declined)
    assert message.startswith(
        "Your payment did not go through, so nothing was charged. You can try again until "
    )
    assert not LedgerEntry.objects.exists() and not order_is_paid(order_id=order.pk)
    assert totals_shown(declined.content.decode()) == THREE_TOTALS

    paid = client.post(pay_url, dummy_answer(CHARGE), follow=True)

    assert paid.redirect_chain[-1][0] == confirmation(order)
    assert [p.status for p in Payment.objects.filter(order=order).order_by("pk")] == ["rejected", "confirmed"]
    (capture,) = LedgerEntry.objects.filter(order=order)
    assert (capture.kind, capture.amount) == (EntryKind.CAPTURE, D("60.00"))
    html = paid.content.decode()
    assert html.count('<td class="row-payment">Paid</td>') == 2  # the allocated and the waiting row
    assert sorted(order.rows.values_list("status", "quantity")) == [
        (RowStatus.ALLOCATED, 2),
        (RowStatus.BACKORDERED, 1),
    ]


def test_two_tabs_paying_one_order_charge_once(client, lantern):
    order, pay_url = checkout(client, lantern, 2)
    first = client.get(pay_url).context["payment"]
    second = client.get(pay_url).context["payment"]
    assert first == second  # both tabs pay the same payment

    client.post(pay_url, dummy_answer(APPROVE))
    again = client.post(pay_url, dummy_answer(APPROVE), follow=True)

    assert again.redirect_chain[-1][0] == confirmation(order)
    assert f"Order {order.number} is paid already. Nothing more was charged." in texts(again)
    assert Payment.objects.filter(order=order).count() == 1
    assert list(LedgerEntry.objects.filter(order=order).values_list("kind", "amount")) == [
        (EntryKind.AUTHORIZE, D("44.90"))
    ]


def test_3d_secure_comes_back_through_the_providers_return_to_the_confirmation(client, lantern):
    order, pay_url = checkout(client, lantern, 2)
    back = pay(client, pay_url, "waiting", three_d_secure=APPROVE)
    assert [url for url, _ in back.redirect_chain][-1] == confirmation(order)
    assert any("/payments/process/" in url for url, _ in back.redirect_chain)
    assert order_is_paid(order_id=order.pk)


def test_after_the_window_the_order_cannot_be_paid_and_says_it_expired(client, lantern, main):
    order, pay_url = checkout(client, lantern, 2)
    client.get(pay_url)  # the payer opens the page, then leaves
    later = order.totals.pay_by + dt.timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        refused = client.post(pay_url, dummy_answer(APPROVE), follow=True)
        assert refused.redirect_chain[-1][0] == confirmation(order)
        assert f"Order {order.number} can no longer be paid: the time to pay has run out." in texts(refused)
        assert "This order has expired:" in refused.content.decode()
        assert not LedgerEntry.objects.exists()

        assert unpaid_orders_expire() == [order.pk]

        guest = client.get(guest_order_path(order)).content.decode()
    assert "This order has expired:" in guest and "Pay now" not in guest
    assert list(order.rows.values_list("status", flat=True)) == [RowStatus.CANCELLED]
    assert guest.count('<td class="row-payment">Not charged</td>') == 1
    assert totals_shown(guest) == TWO_TOTALS  # the snapshot stays as placed


def test_the_payment_page_is_only_for_the_session_the_owner_or_the_signed_link(client, lantern):
    order, pay_url = checkout(client, lantern, 2)
    assert Client().get(pay_url).status_code == 404
    stranger = Client()
    stranger.force_login(UserFactory())
    assert stranger.get(pay_url).status_code == 404
    assert Client().get(reverse("storefront:guest_pay", kwargs={"token": "nope"})).status_code == 404

    # Another browser with the signed guest link (from the confirmation email) may pay.
    other = Client()
    opened = other.get(reverse("storefront:guest_pay", kwargs={"token": guest_order_token(order)}))
    assert opened.url == pay_url
    back = pay(other, pay_url)
    assert back.redirect_chain[-1][0] == confirmation(order) and order_is_paid(order_id=order.pk)


def test_the_guest_order_page_offers_to_pay_while_the_window_is_open(client, lantern):
    order, _ = checkout(client, lantern, 2)
    token = guest_order_token(order)
    html = client.get(reverse("storefront:guest_order", kwargs={"token": token})).content.decode()
    pay_link = reverse("storefront:guest_pay", kwargs={"token": token})
    assert "Awaiting payment." in html and f'href="{pay_link}"' in html
    assert html.count('<td class="row-payment">Awaiting payment</td>') == 1
    assert totals_shown(html) == TWO_TOTALS


def test_account_order_page_shows_totals_row_states_and_the_pay_link_due(
    client, lantern, main, settings, django_capture_on_commit_callbacks
):
    user = UserFactory(username="ada", email="ada@example.com")
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        order, pay_url = checkout(client, lantern, 3)
        pay(client, pay_url, APPROVE)
    assert order.user == user
    page = order.get_absolute_url()
    html = client.get(page).content.decode()
    assert totals_shown(html) == THREE_TOTALS
    assert html.count('<td class="row-payment">To be charged when it ships</td>') == 2
    account = client.get(reverse("storefront:account")).content.decode()
    assert "€60.00" in account

    # The authorization grew too old before the allocated row shipped: no capture, a pay link.
    LedgerEntry.objects.filter(order=order).update(
        created_at=timezone.now() - dt.timedelta(days=settings.BILLING_AUTHORIZATION_DAYS, minutes=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        shipment_create(order=order, source=main)
    (due,) = LedgerEntry.objects.filter(order=order, kind=EntryKind.CAPTURE)
    assert (due.state, due.amount) == (EntryState.AWAITING_PAYMENT, D("40.00"))  # 2 × 20, shipping free

    html = client.get(page).content.decode()
    link = reverse("storefront:shipment_pay", kwargs={"number": order.number, "entry_id": due.pk})
    assert "Payment due (pay link)" in html and f'href="{link}"' in html and "Pay €40.00" in html

    with django_capture_on_commit_callbacks(execute=True):
        back = pay(client, link, CHARGE)
    assert back.redirect_chain[-1][0] == page
    assert f"Payment received for order {order.number}. Thank you!" in texts(back)
    due.refresh_from_db()
    assert due.state == EntryState.SUCCEEDED
    html = back.content.decode()
    assert '<td class="row-payment">Paid</td>' in html and "Payment due" not in html


def test_a_provider_that_fails_mid_answer_charges_nothing_and_the_payer_tries_again(client, lantern):
    order, pay_url = checkout(client, lantern, 2)
    client.get(pay_url)
    broken = {**dummy_answer(DECLINE), "gateway_response": "failure"}  # the provider's connection drops

    response = client.post(pay_url, broken, follow=True)

    assert response.redirect_chain[-1][0] == pay_url
    assert "The payment service did not answer, so nothing was charged. Please try again." in texts(response)
    assert not LedgerEntry.objects.exists()
    assert pay(client, pay_url).redirect_chain[-1][0] == confirmation(order)
    assert order_is_paid(order_id=order.pk)


def test_back_from_the_provider_in_a_browser_that_does_not_know_the_order_shows_no_details(client, lantern):
    order, pay_url = checkout(client, lantern, 2)
    client.get(pay_url)
    payment = Payment.objects.get(order=order)
    elsewhere = Client()

    page = elsewhere.get(reverse("storefront:payment_success", kwargs={"token": payment.token}))

    assert page.status_code == 200
    html = page.content.decode()
    assert f"Order {order.number}" in html
    assert order.email not in html and order.address not in html and "Lantern" not in html
    assert elsewhere.get(reverse("storefront:payment_success", kwargs={"token": "nope"})).status_code == 404
