"""Checkout pages: guest and signed in, refusals, bad input, CSRF, confirmation, query counts."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders.models import Order, OrderRow
from orders.services import CartLine, Customer, checkout_place_order
from storefront.cart import SESSION_KEY
from tests.catalog.factories import DiscountRuleFactory, ProductFactory
from tests.helpers import receive
from tests.orders.factories import OrderFactory, UserFactory
from tests.storefront.paying import pay

pytestmark = pytest.mark.django_db
CHECKOUT = reverse("storefront:checkout")
CART = reverse("storefront:cart")
GUEST = {"email": "ada@example.com", "full_name": "Ada Lovelace", "address": "1 Analytical Way\nLondon"}


def add(client, product, quantity):
    # Followed, so the "added" message is shown (and used up) on the cart page.
    response = client.post(
        reverse("storefront:cart_add"), {"product_id": product.pk, "quantity": quantity}, follow=True
    )
    assert response.status_code == 200


def texts(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_guest_checkout_places_the_order_and_shows_every_row(client, sources):
    main, overflow = sources
    kettle = ProductFactory(name="Kettle", notify=True)
    receive(kettle, 2, main)
    receive(kettle, 1, overflow)
    mug = ProductFactory(name="Mug")
    receive(mug, 5, main)
    add(client, kettle, 5)
    add(client, mug, 1)

    response = client.post(CHECKOUT, GUEST)

    order = Order.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("storefront:order_pay", kwargs={"number": order.number})
    assert order.user is None and order.email == "ada@example.com" and order.address == GUEST["address"]
    assert client.session.get(SESSION_KEY) is None  # the cart is cleared
    page = pay(client, response.url)
    assert page.redirect_chain[-1][0] == reverse(
        "storefront:order_confirmation", kwargs={"number": order.number}
    )
    html = page.content.decode()
    assert f"Thank you! Payment received: your order {order.number} is confirmed." in texts(page)
    rows = list(order.rows.order_by("line_no", "pk"))
    assert [(r.status, r.quantity) for r in rows] == [
        ("allocated", 2),
        ("allocated", 1),
        ("backordered", 2),
        ("allocated", 1),
    ]
    assert html.count('class="status status--allocated"') == 3
    assert html.count('class="status status--backordered"') == 1
    assert "Main warehouse" in html and "Overflow" in html and "Waiting for stock" in html
    # The guest gets a signed link to their order page, and it works.
    link = page.context["guest_link"]
    assert link in html
    assert client.get(link).status_code == 200


def test_signed_in_checkout_is_prefilled_and_linked_to_the_user(client, sources):
    user = UserFactory(first_name="Grace", last_name="Hopper", email="grace@example.com")
    earlier = OrderFactory(user=user, address="7 Compiler Lane")
    product = ProductFactory()
    receive(product, 3, sources[0])
    client.force_login(user)
    add(client, product, 1)

    form = client.get(CHECKOUT).context["form"]
    assert form.initial == {
        "email": "grace@example.com",
        "full_name": "Grace Hopper",
        "address": "7 Compiler Lane",
    }
    response = client.post(CHECKOUT, {**form.initial, "email": "g@example.com"})
    order = Order.objects.exclude(pk=earlier.pk).get()
    assert order.user == user and order.email == "g@example.com"
    assert response.url == reverse("storefront:order_pay", kwargs={"number": order.number})
    # back from the provider to the confirmation page, which links to the account's order page
    page = pay(client, response.url)
    assert page.redirect_chain[-1][0] == reverse(
        "storefront:order_confirmation", kwargs={"number": order.number}
    )
    assert order.get_absolute_url() in page.content.decode()


def test_checkout_shows_the_notify_split_but_not_for_allow(client, sources):
    told = ProductFactory(name="Told", notify=True)
    silent = ProductFactory(name="Silent", backorderable=True)
    for product in (told, silent):
        receive(product, 3, sources[0])
        add(client, product, 5)
    html = client.get(CHECKOUT).content.decode()
    assert html.count("3 in stock now, 2 will be backordered.") == 1


def test_empty_cart_cannot_check_out(client):
    response = client.get(CHECKOUT, follow=True)
    assert response.redirect_chain[-1][0] == CART and "Your cart is empty." in texts(response)
    response = client.post(CHECKOUT, GUEST)
    assert response.status_code == 302 and response.url == CART
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("email", ""),
        ("full_name", "   "),
        ("address", ""),
        ("address", "x" * 1001),
    ],
)
def test_invalid_details_rerender_with_errors_and_write_nothing(client, sources, field, value):
    product = ProductFactory()
    receive(product, 3, sources[0])
    add(client, product, 1)
    response = client.post(CHECKOUT, {**GUEST, field: value})
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert not Order.objects.exists()
    assert client.session[SESSION_KEY] == {str(product.pk): 1}


def test_refused_checkout_names_each_product_and_its_real_available_quantity(client, sources):
    lamp = ProductFactory(name="Lamp")
    receive(lamp, 5, sources[0])
    vase = ProductFactory(name="Vase", notify=True, use_global_backorder_limit=False, backorder_limit=1)
    add(client, lamp, 4)
    add(client, vase, 1)
    other = Customer("o@example.com", "Other", "Road 2")
    checkout_place_order(lines=[CartLine(lamp.pk, 3), CartLine(vase.pk, 1)], customer=other)
    client.get(CART)  # the customer has seen the change...

    response = client.post(CHECKOUT, GUEST)  # ...and tries anyway

    assert response.status_code == 200
    problems = {p.product: p for p in response.context["problems"]}
    assert problems["Lamp"].available == 2 and problems["Lamp"].requested == 4
    assert problems["Vase"].available == 0
    html = response.content.decode()
    assert "We could not place your order" in html
    assert "<strong>Lamp</strong> — you asked for 4, 2 available now." in html
    assert "Vase is no longer taking backorders." in html
    assert Order.objects.count() == 1  # only the other customer's
    assert client.session[SESSION_KEY] == {str(lamp.pk): 4, str(vase.pk): 1}


def test_a_change_the_customer_has_not_seen_stops_the_order(client, sources):
    product = ProductFactory(name="Lamp", notify=True)
    receive(product, 5, sources[0])
    add(client, product, 4)
    checkout_place_order(
        lines=[CartLine(product.pk, 3)], customer=Customer("o@example.com", "Other", "Road 2")
    )
    response = client.post(CHECKOUT, GUEST)
    assert response.status_code == 200
    messages = texts(response)
    assert "Lamp: stock has changed — 2 in stock now, 2 will be backordered." in messages
    assert "Your cart changed. Please check it, then place your order again." in messages
    assert Order.objects.count() == 1
    # Now they have seen it: the same POST goes through.
    assert client.post(CHECKOUT, GUEST).status_code == 302
    assert Order.objects.count() == 2


def test_tampered_cart_at_checkout_places_nothing(client, sources):
    product = ProductFactory()
    receive(product, 5, sources[0])
    session = client.session
    session[SESSION_KEY] = {str(product.pk): 10**9, "x": 1, "999999": 2}
    session.save()
    response = client.post(CHECKOUT, GUEST, follow=True)
    assert not Order.objects.exists()
    assert any("could not read" in t for t in texts(response))
    assert any("no longer sold" in t for t in texts(response))


def test_inactive_product_in_cart_is_dropped_before_anything_is_placed(client, sources):
    keep, retire = ProductFactory(name="Keep"), ProductFactory(name="Retire")
    for product in (keep, retire):
        receive(product, 5, sources[0])
        add(client, product, 1)
    retire.is_active = False
    retire.save()
    response = client.post(CHECKOUT, GUEST)
    assert "Retire is no longer available, so we removed it from your cart." in texts(response)
    assert not Order.objects.exists()
    client.post(CHECKOUT, GUEST)
    assert [r.product.name for r in OrderRow.objects.select_related("product")] == ["Keep"]


def test_checkout_without_csrf_token_is_403_and_writes_nothing(sources):
    client = Client(enforce_csrf_checks=True)
    product = ProductFactory()
    receive(product, 5, sources[0])
    session = client.session
    session[SESSION_KEY] = {str(product.pk): 1}
    session.save()
    response = client.post(CHECKOUT, GUEST)
    assert response.status_code == 403
    assert not Order.objects.exists()
    # With the token from the page the same order goes through.
    client.get(CHECKOUT)
    token = client.cookies["csrftoken"].value
    assert client.post(CHECKOUT, {**GUEST, "csrfmiddlewaretoken": token}).status_code == 302
    assert Order.objects.count() == 1


def test_confirmation_page_is_only_for_the_session_that_placed_it(client, sources):
    product = ProductFactory()
    receive(product, 5, sources[0])
    add(client, product, 1)
    client.post(CHECKOUT, GUEST)
    url = reverse("storefront:order_confirmation", kwargs={"number": Order.objects.get().number})
    assert client.get(url).status_code == 200
    assert Client().get(url).status_code == 404
    stranger = Client()
    stranger.force_login(UserFactory())
    assert stranger.get(url).status_code == 404
    assert (
        client.get(reverse("storefront:order_confirmation", kwargs={"number": "R-NOPE"})).status_code == 404
    )


def test_preorder_checkout_shows_preordered_row(client):
    record = ProductFactory(name="Record", preorder=True)
    add(client, record, 2)
    html = client.get(CHECKOUT).content.decode()
    assert "Pre-order — releases" in html
    html = pay(client, client.post(CHECKOUT, GUEST).url).content.decode()
    assert 'status--preordered">Pre-ordered' in html and "Waiting for release" in html


def test_checkout_page_queries_do_not_grow_with_lines(client, sources, django_assert_num_queries):
    products = [ProductFactory(notify=True) for _ in range(5)]
    for product in products:
        receive(product, 2, sources[0])
        receive(product, 2, sources[1])
    add(client, products[0], 6)
    client.get(CHECKOUT)  # warm up
    with CaptureQueriesContext(connection) as one:
        assert client.get(CHECKOUT).status_code == 200
    expected = len(one)
    for product in products[1:]:
        add(client, product, 6)
    client.get(CHECKOUT)
    with django_assert_num_queries(expected):
        response = client.get(CHECKOUT)
    assert len(response.context["review"].lines) == 5


@pytest.mark.parametrize("count", [1, 5, 20])
def test_placing_an_order_costs_the_same_queries_for_1_5_or_20_lines(
    client, sources, count, django_assert_num_queries
):
    for _ in range(count):
        product = ProductFactory(notify=True)
        receive(product, 1, sources[0])
        add(client, product, 2)  # one unit from stock, one backordered: two rows a line
    client.get(CHECKOUT)  # the customer sees the cart before placing it

    # The session. Before the locks: the global settings (read once: the cart is not
    # reviewed again, availability is decided under the locks), and, the cart having
    # shown units waiting, their inbound supply and the discount rules; then
    # savepoint, lock products, lock stock, waiting units, order, stock, rows, events, the
    # order's note, its totals, release; the session saved (cart emptied: savepoint, update,
    # release). Before issue 12: 24 (the cart reviewed, then decided again).
    with django_assert_num_queries(18):
        response = client.post(CHECKOUT, GUEST)

    order = Order.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("storefront:order_pay", args=[order.number])
    assert order.rows.count() == 2 * count


@pytest.mark.postgres  # the product lock (FOR NO KEY UPDATE) is a statement on PostgreSQL only
def test_a_cart_that_showed_units_waiting_has_their_reads_done_before_the_locks(client, sources):
    # The cart page told the customer part of the line waits: the checkout reads the
    # inbound supply that dates those units before it locks the product (other checkouts of
    # it wait for every statement under the lock).
    product = ProductFactory(notify=True)
    receive(product, 1, sources[0])
    add(client, product, 3)
    client.get(CHECKOUT)  # the customer sees the cart before placing it

    with CaptureQueriesContext(connection) as captured:
        assert client.post(CHECKOUT, GUEST).status_code == 302

    sqls = [q["sql"] for q in captured]
    lock = next(
        i for i, sql in enumerate(sqls) if 'FROM "catalog_product"' in sql and "FOR NO KEY UPDATE" in sql
    )
    inbound = [i for i, sql in enumerate(sqls) if 'FROM "inventory_inboundsupply"' in sql]
    assert inbound and max(inbound) < lock


def test_a_price_change_the_customer_has_not_seen_stops_the_order(client, sources):
    lamp = ProductFactory(name="Lamp", price=Decimal("20.00"))
    receive(lamp, 5, sources[0])
    add(client, lamp, 2)  # the cart page showed 2 × €20.00
    lamp.price = Decimal("25.00")  # the merchant raises the price meanwhile
    lamp.save()

    response = client.post(CHECKOUT, GUEST)

    assert response.status_code == 200
    messages = texts(response)
    assert "The price of Lamp has changed: €40.00 before, €50.00 now." in messages
    assert "Your cart changed. Please check it, then place your order again." in messages
    assert not Order.objects.exists()
    # Now they have seen it: the same POST goes through, at the price shown.
    assert client.post(CHECKOUT, GUEST).status_code == 302
    assert Order.objects.get().rows.get().unit_price == Decimal("25.00")


def test_a_discount_ending_before_the_order_is_told_not_charged(client, sources, settings):
    rule = DiscountRuleFactory(value=Decimal("10"))  # 10 % off waiting units
    kettle = ProductFactory(name="Kettle", price=Decimal("50.00"), notify=True)
    add(client, kettle, 1)  # backordered: the cart showed €45.00
    rule.is_active = False
    rule.save()

    response = client.get(CART)

    assert "The price of Kettle has changed: €45.00 before, €50.00 now." in texts(response)
    assert client.post(CHECKOUT, GUEST).status_code == 302
    assert Order.objects.get().rows.get().unit_price == Decimal("50.00")


def test_changing_the_quantity_is_no_price_change(client, sources):
    lamp = ProductFactory(name="Lamp", price=Decimal("20.00"))
    receive(lamp, 5, sources[0])
    add(client, lamp, 2)
    add(client, lamp, 3)  # the cart now holds 3 (or 5): its total changes, its price does not

    assert not [m for m in texts(client.get(CART)) if "price" in m]
    assert client.post(CHECKOUT, GUEST).status_code == 302
