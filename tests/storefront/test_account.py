"""Sign up / in / out, order history, order page, cancelling waiting rows, guest links."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders.links import guest_order_path
from orders.models import OrderRow, RowEvent, RowStatus
from orders.services import CartLine, Customer, checkout_place_order
from tests.billing.factories import OrderTotalsFactory
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.inventory.factories import SourceFactory
from tests.orders.factories import PASSWORD, OrderFactory, OrderRowFactory, UserFactory

pytestmark = pytest.mark.django_db
ACCOUNT = reverse("storefront:account")


def texts(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def place(user=None, *, allocated=2, backordered=3):
    """An order with an allocated row (at the main warehouse) and a backordered row."""
    source = SourceFactory(code="main", name="Main warehouse", priority=1)
    product = ProductFactory(name="Lantern", notify=True)
    receive(product, allocated, source)
    customer = Customer(
        email=user.email if user else "guest@example.com", full_name="Ada", address="Road 1", user=user
    )
    return checkout_place_order(lines=[CartLine(product.pk, allocated + backordered)], customer=customer)


def row(order, status) -> OrderRow:
    return order.rows.get(status=status)


@pytest.fixture
def user():
    return UserFactory(username="ada")


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


# -- sign up, in, out ---------------------------------------------------------------------------------


def test_sign_up_creates_the_account_with_email_and_signs_in(client):
    response = client.post(
        reverse("storefront:signup"),
        {"username": "grace", "email": "grace@example.com", "password1": PASSWORD, "password2": PASSWORD},
        follow=True,
    )
    user = get_user_model().objects.get(username="grace")
    assert user.email == "grace@example.com"
    assert response.redirect_chain[-1][0] == ACCOUNT
    assert response.context["user"] == user
    assert "Welcome, grace! Your account is ready." in texts(response)


def test_sign_up_follows_a_safe_next_only(client):
    data = {"username": "g1", "email": "g1@example.com", "password1": PASSWORD, "password2": PASSWORD}
    response = client.post(reverse("storefront:signup") + "?next=/checkout/", data)
    assert response.url == "/checkout/"
    client.logout()
    data = {**data, "username": "g2", "email": "g2@example.com"}
    response = client.post(reverse("storefront:signup") + "?next=https://evil.example/", data)
    assert response.url == ACCOUNT


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "taken@example.com"}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"password2": "different horse"}, "password2"),
        ({"username": "taken"}, "username"),
    ],
)
def test_sign_up_errors(client, data, field):
    UserFactory(username="taken", email="taken@example.com")
    form = {"username": "new", "email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD}
    response = client.post(reverse("storefront:signup"), {**form, **data})
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert get_user_model().objects.count() == 1


def test_sign_in_and_out(client, user):
    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("login"), {"username": "ada", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(ACCOUNT).status_code == 200
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(ACCOUNT).status_code == 302


def test_account_pages_need_sign_in(client, user):
    order = place(user)
    for url in (ACCOUNT, order.get_absolute_url()):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login") + "?next=")


def test_auth_pages_render_in_the_shop_layout(client, signed_in):
    anonymous = Client()
    for url in (reverse("login"), reverse("storefront:signup"), reverse("password_reset")):
        assert 'href="/static/css/shop.css"' in anonymous.get(url).content.decode()
    assert "Change your password" in signed_in.get(reverse("password_change")).content.decode()


# -- order history and order page ---------------------------------------------------------------------


def test_history_lists_only_my_orders(signed_in, user):
    mine = place(user)
    theirs = OrderFactory(user=UserFactory(username="bob"))
    guest = OrderFactory()
    html = signed_in.get(ACCOUNT).content.decode()
    assert mine.number in html
    assert theirs.number not in html and guest.number not in html
    assert "Open" in html


def test_order_page_shows_every_row(signed_in, user):
    order = place(user)
    waiting = row(order, RowStatus.BACKORDERED)
    promised = timezone.localdate() + dt.timedelta(days=12)
    OrderRow.objects.filter(pk=waiting.pk).update(promise_date=promised)
    html = signed_in.get(order.get_absolute_url()).content.decode()
    assert 'status--allocated">Allocated' in html and 'status--backordered">Backordered' in html
    assert "Main warehouse" in html and "Waiting for stock" in html
    assert f"{promised:%-d %b %Y}" in html
    # One cancel button: for the waiting row only.
    assert html.count('name="row_id"') == 1 and f'value="{waiting.pk}"' in html


def test_another_customers_order_is_404(signed_in):
    theirs = place(UserFactory(username="bob"))
    guest = OrderFactory()
    assert signed_in.get(theirs.get_absolute_url()).status_code == 404
    assert signed_in.get(guest.get_absolute_url()).status_code == 404
    assert signed_in.get(reverse("storefront:order_detail", kwargs={"number": "R-NOPE"})).status_code == 404


def test_order_pages_queries_do_not_grow_with_rows(signed_in, user, django_assert_num_queries):
    order = OrderFactory(user=user)
    # with its money: totals, each row's payment state, pay links (none: unpaid)
    OrderTotalsFactory(order=order, pay_by=timezone.now() + dt.timedelta(minutes=30))
    OrderRowFactory(order=order)
    signed_in.get(order.get_absolute_url())  # warm up (the session's first requests)
    signed_in.get(ACCOUNT)
    with CaptureQueriesContext(connection) as one:
        assert signed_in.get(order.get_absolute_url()).status_code == 200
    with CaptureQueriesContext(connection) as listed:
        assert signed_in.get(ACCOUNT).status_code == 200
    assert len(one) <= 13 and len(listed) <= 8
    for _ in range(9):
        OrderRowFactory(order=order)
    with django_assert_num_queries(len(one)):
        assert signed_in.get(order.get_absolute_url()).status_code == 200
    with django_assert_num_queries(len(listed)):
        assert signed_in.get(ACCOUNT).status_code == 200


# -- cancelling ---------------------------------------------------------------------------------------------


def cancel_url(order):
    return reverse("storefront:order_row_cancel", kwargs={"number": order.number})


def test_customer_cancels_a_waiting_row(signed_in, user):
    order = place(user)
    waiting = row(order, RowStatus.BACKORDERED)
    response = signed_in.post(cancel_url(order), {"row_id": waiting.pk}, follow=True)
    assert response.redirect_chain[-1][0] == order.get_absolute_url()
    assert "Cancelled 3 × Lantern." in texts(response)
    waiting.refresh_from_db()
    assert waiting.status == RowStatus.CANCELLED
    event = RowEvent.objects.get(row=waiting, to_status=RowStatus.CANCELLED)
    assert event.user == user and event.reason == "Cancelled by customer"


def test_customer_cannot_cancel_an_allocated_row(signed_in, user):
    order = place(user)
    allocated = row(order, RowStatus.ALLOCATED)
    response = signed_in.post(cancel_url(order), {"row_id": allocated.pk}, follow=True)
    assert any("only waiting rows can be cancelled" in t for t in texts(response))
    allocated.refresh_from_db()
    assert allocated.status == RowStatus.ALLOCATED


def test_cancel_refuses_rows_and_orders_that_are_not_mine(signed_in, user):
    mine = place(user)
    theirs = OrderRowFactory(order=OrderFactory(user=UserFactory(username="bob")))
    # Another customer's row through my order's URL, and through theirs.
    assert signed_in.post(cancel_url(mine), {"row_id": theirs.pk}).status_code == 404
    assert signed_in.post(cancel_url(theirs.order), {"row_id": theirs.pk}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == RowStatus.BACKORDERED


@pytest.mark.parametrize("row_id", ["", "abc", "-1", "99999999", "1" * 30])
def test_cancel_with_a_bad_row_id_is_404(signed_in, user, row_id):
    order = place(user)
    assert signed_in.post(cancel_url(order), {"row_id": row_id}).status_code == 404
    assert not order.rows.filter(status=RowStatus.CANCELLED).exists()


def test_cancel_needs_post_and_csrf(user):
    order = place(user)
    waiting = row(order, RowStatus.BACKORDERED)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(cancel_url(order), {"row_id": waiting.pk}).status_code == 405
    assert client.post(cancel_url(order), {"row_id": waiting.pk}).status_code == 403
    waiting.refresh_from_db()
    assert waiting.status == RowStatus.BACKORDERED


# -- guests: the signed link ------------------------------------------------------------------------------


def test_guest_link_shows_the_order_and_cancels_waiting_rows(client):
    order = place()
    url = guest_order_path(order)
    html = client.get(url).content.decode()
    assert order.number in html and "Lantern" in html
    waiting = row(order, RowStatus.BACKORDERED)
    cancel = reverse("storefront:guest_row_cancel", kwargs={"token": url.split("/")[-2]})
    assert f'action="{cancel}"' in html
    response = client.post(cancel, {"row_id": waiting.pk}, follow=True)
    assert response.redirect_chain[-1][0] == url
    waiting.refresh_from_db()
    assert waiting.status == RowStatus.CANCELLED
    event = RowEvent.objects.get(row=waiting, to_status=RowStatus.CANCELLED)
    assert event.user is None


def test_guest_link_cannot_be_forged_or_reused_for_another_order(client):
    order, other = place(), OrderFactory()
    token = guest_order_path(order).split("/")[-2]
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert client.get(reverse("storefront:guest_order", kwargs={"token": forged})).status_code == 404
    assert client.get(reverse("storefront:guest_order", kwargs={"token": other.number})).status_code == 404
    # A row of another order through this order's link.
    other_row = OrderRowFactory(order=other)
    cancel = reverse("storefront:guest_row_cancel", kwargs={"token": token})
    assert client.post(cancel, {"row_id": other_row.pk}).status_code == 404
    forged_cancel = reverse("storefront:guest_row_cancel", kwargs={"token": forged})
    assert client.post(forged_cancel, {"row_id": row(order, RowStatus.BACKORDERED).pk}).status_code == 404
    assert not OrderRow.objects.filter(status=RowStatus.CANCELLED).exists()


# -- nobody cancels another customer's row ----------------------------------------------------------


def status_and_cancellations(row: OrderRow) -> tuple[str, int]:
    row.refresh_from_db()
    return row.status, row.events.filter(to_status=RowStatus.CANCELLED).count()


def test_signed_in_as_someone_else_the_owners_cancel_url_is_404(client):
    ada, bob = UserFactory(username="ada"), UserFactory(username="bob")
    adas = place(ada)
    waiting = row(adas, RowStatus.BACKORDERED)
    client.force_login(bob)

    assert client.post(cancel_url(adas), {"row_id": waiting.pk}).status_code == 404

    assert status_and_cancellations(waiting) == ("backordered", 0)
    client.force_login(ada)  # the owner still has the row and its cancel button
    assert f'value="{waiting.pk}"' in client.get(adas.get_absolute_url()).content.decode()


def test_signed_in_a_guest_order_cannot_be_cancelled_by_its_number(client):
    guests = place()  # no account: only its signed link may cancel it
    waiting = row(guests, RowStatus.BACKORDERED)
    client.force_login(UserFactory(username="bob"))

    assert client.post(cancel_url(guests), {"row_id": waiting.pk}).status_code == 404
    assert status_and_cancellations(waiting) == ("backordered", 0)


def test_my_guest_link_cannot_cancel_a_row_of_another_customers_order(client):
    mine, theirs = place(), place(UserFactory(username="bob"))
    their_row = row(theirs, RowStatus.BACKORDERED)
    token = guest_order_path(mine).split("/")[-2]

    cancel = reverse("storefront:guest_row_cancel", kwargs={"token": token})
    response = client.post(cancel, {"row_id": their_row.pk})

    assert response.status_code == 404
    assert status_and_cancellations(their_row) == ("backordered", 0)
    assert status_and_cancellations(row(mine, RowStatus.BACKORDERED)) == ("backordered", 0)
