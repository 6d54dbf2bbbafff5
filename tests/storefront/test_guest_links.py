"""Guest order links have a lifetime (GUEST_LINK_DAYS, 90 by default): an old link says it
expired and how to get a new one, and no longer shows the order or cancels its rows."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from orders.links import guest_order_path, order_url
from orders.models import RowStatus
from tests.orders.factories import OrderFactory, OrderRowFactory

pytestmark = pytest.mark.django_db

EXPIRED = "This order link has expired"


@pytest.fixture
def order():
    order = OrderFactory(full_name="Grace Hopper", email="grace@example.com", address="7 Harbour Road")
    OrderRowFactory(order=order)  # backordered: a guest may cancel it
    return order


def cancel_path(path: str) -> str:
    return reverse("storefront:guest_row_cancel", kwargs={"token": path.rstrip("/").split("/")[-1]})


def test_the_default_lifetime_is_90_days(settings):
    assert settings.GUEST_LINK_DAYS == 90


def test_a_link_works_until_its_last_day_then_says_it_expired(client, order):
    issued = timezone.now()
    with time_machine.travel(issued, tick=False):
        path = guest_order_path(order)
    with time_machine.travel(issued + dt.timedelta(days=90) - dt.timedelta(minutes=1), tick=False):
        page = client.get(path)
        assert page.status_code == 200
        assert "Grace Hopper" in page.content.decode()
    with time_machine.travel(issued + dt.timedelta(days=90, seconds=1), tick=False):
        page = client.get(path)
    assert page.status_code == 410
    html = page.content.decode()
    assert EXPIRED in html
    assert "90 days" in html
    assert reverse("storefront:find_order") in html  # how to get a new one
    for private in ("Grace Hopper", "grace@example.com", "7 Harbour Road", order.number):
        assert private not in html


def test_an_expired_link_cancels_nothing(client, order):
    issued = timezone.now()
    with time_machine.travel(issued, tick=False):
        path = guest_order_path(order)
    row = order.rows.get()
    with time_machine.travel(issued + dt.timedelta(days=91), tick=False):
        response = client.post(cancel_path(path), {"row_id": row.pk})
    assert response.status_code == 410
    assert EXPIRED in response.content.decode()
    row.refresh_from_db()
    assert row.status == RowStatus.BACKORDERED


def test_the_lifetime_follows_the_setting(client, order, settings):
    settings.GUEST_LINK_DAYS = 7
    issued = timezone.now()
    with time_machine.travel(issued, tick=False):
        path = guest_order_path(order)
    with time_machine.travel(issued + dt.timedelta(days=6), tick=False):
        assert client.get(path).status_code == 200
    with time_machine.travel(issued + dt.timedelta(days=8), tick=False):
        response = client.get(path)
    assert response.status_code == 410
    assert "7 days" in response.content.decode()


def test_a_tampered_link_is_still_not_found(client, order):
    path = guest_order_path(order)
    token = path.rstrip("/").split("/")[-1]
    forged = reverse(
        "storefront:guest_order", kwargs={"token": token[:-2] + ("AA" if token[-2:] != "AA" else "BB")}
    )
    assert client.get(forged).status_code == 404


def test_a_link_in_an_email_counts_from_when_the_email_was_written(client, order, settings):
    issued = timezone.now()
    with time_machine.travel(issued, tick=False):
        url = order_url(order)
    assert url.startswith(settings.SITE_URL)
    path = url[len(settings.SITE_URL) :]
    with time_machine.travel(issued + dt.timedelta(days=100), tick=False):
        assert client.get(path).status_code == 410
        fresh = order_url(order)[len(settings.SITE_URL) :]  # a new email, a new link
        assert client.get(fresh).status_code == 200
