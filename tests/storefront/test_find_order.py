""" "Find my order": order number + email -> a fresh link emailed (through the outbox) to the
address the order was placed with. The same answer whether or not the order exists;
rate-limited per address and per client."""

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from notifications.models import OutboxMessage
from orders.links import guest_order_path
from storefront.views.accounts import FIND_ORDER_RATE_PER_ADDRESS, FIND_ORDER_RATE_PER_CLIENT
from tests.helpers import without_csrf_tokens
from tests.orders.factories import OrderFactory, OrderRowFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager", "fresh_rate_limits")]

FIND = reverse("storefront:find_order")
SENT = "a link to the order is on its way to that address"
PER_ADDRESS = int(FIND_ORDER_RATE_PER_ADDRESS.split("/")[0])
PER_CLIENT = int(FIND_ORDER_RATE_PER_CLIENT.split("/")[0])


@pytest.fixture
def order():
    order = OrderFactory(number="R-GRACE234", full_name="Grace Hopper", email="grace@example.com")
    OrderRowFactory(order=order)
    return order


def find(client, number, email, ip="10.0.0.1"):
    return client.post(FIND, {"number": number, "email": email}, REMOTE_ADDR=ip)


def links():
    return OutboxMessage.objects.filter(kind="order_link")


def link_path(text: str, settings) -> str:
    match = re.search(re.escape(settings.SITE_URL) + r"(/orders/[^/\s]+/)", text)
    assert match, text
    return match.group(1)


def test_the_page_is_linked_from_the_sign_in_page(client):
    assert FIND in client.get(reverse("login")).content.decode()
    page = client.get(FIND)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Order number" in html and "Email address the order was placed with" in html


def test_an_expired_link_gets_a_fresh_one_by_email(
    client, order, settings, django_capture_on_commit_callbacks
):
    placed = timezone.now()
    with time_machine.travel(placed, tick=False):
        old = guest_order_path(order)
    later = placed + dt.timedelta(days=120)
    with time_machine.travel(later, tick=False):
        assert client.get(old).status_code == 410
        with django_capture_on_commit_callbacks(execute=True):  # the send job runs in-process
            response = find(client, " r-grace234 ", "Grace@Example.com")
        assert response.status_code == 200
        assert SENT in response.content.decode()
        (email,) = mail.outbox
        assert email.to == ["grace@example.com"]  # the order's own address
        assert email.subject == "Your link to order R-GRACE234"
        fresh = link_path(email.body, settings)
        assert fresh in email.alternatives[0][0]
        page = client.get(fresh)
        assert page.status_code == 200
        assert "Grace Hopper" in page.content.decode()
    with time_machine.travel(later + dt.timedelta(days=91), tick=False):
        assert client.get(fresh).status_code == 410  # the fresh link has its own lifetime


def test_same_answer_whether_or_not_the_order_exists(client, order):
    answers = [
        find(client, "R-GRACE234", "grace@example.com"),  # sent
        find(client, "R-GRACE234", "ada@example.com"),  # someone else's address: nothing sent
        find(client, "R-NOSUCH00", "grace@example.com"),  # no such order
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    pages = [
        without_csrf_tokens(a.content).replace(email, "EMAIL")
        for a, email in zip(
            answers, ["grace@example.com", "ada@example.com", "grace@example.com"], strict=True
        )
    ]
    assert pages[0] == pages[1] == pages[2]
    assert list(links().values_list("to_email", flat=True)) == ["grace@example.com"]


def test_an_account_order_gets_its_account_page_not_a_guest_link(client, settings):
    ada = UserFactory(username="ada", email="ada@example.com")
    order = OrderFactory(user=ada)
    find(client, order.number, "ada@example.com")
    (message,) = links()
    account_url = settings.SITE_URL + reverse("storefront:order_detail", kwargs={"number": order.number})
    assert account_url in message.body_text
    assert "/orders/" not in message.body_text.replace(account_url, "")
    assert "sign in" in message.body_text


def test_requests_for_one_address_are_limited(order):
    answers = [find(Client(), "R-GRACE234", "grace@example.com", ip=f"10.0.2.{n}") for n in range(30)]
    assert {a.status_code for a in answers} == {200}
    assert all(SENT in a.content.decode() for a in answers)  # the same answer over the limit
    assert links().count() == PER_ADDRESS == 3


def test_one_client_trying_many_orders_is_limited():
    count = PER_CLIENT + 5
    for n in range(count):
        OrderFactory(number=f"R-MANY{n:04d}", email=f"guest{n}@example.com")
    client = Client()
    for n in range(count):
        assert find(client, f"R-MANY{n:04d}", f"guest{n}@example.com", ip="10.0.0.66").status_code == 200
    assert links().count() == PER_CLIENT == 20


def test_form_errors(client):
    response = client.post(FIND, {"number": "", "email": "not an address"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Enter your order number." in html
    assert "Enter a valid email address" in html
    assert not links().exists()
