"""The back-in-stock waitlist, customer side: the "notify me" form and its abuse guards,
the unsubscribe link, the account list, and the emails when stock returns."""

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from notifications.events import emails_send_batch
from notifications.models import Subscription
from notifications.tasks import waitlist_sweep
from notifications.waitlist import (
    back_in_stock_notify,
    subscription_from_token,
    unsubscribe_url,
    waitlist_openings,
)
from orders.services import CartLine, Customer, checkout_place_order, row_cancel
from tests.catalog.factories import ProductFactory
from tests.helpers import celery_publishing, receive, without_csrf_tokens
from tests.orders.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_rate_limits", "eager")]

SUBSCRIPTIONS = reverse("storefront:subscriptions")
LIMITED = "Too many back-in-stock requests"


@pytest.fixture
def product():
    return ProductFactory(name="Brass Lamp")  # no stock, no backorders: out of stock


def subscribe_url(product) -> str:
    return reverse("storefront:subscribe", kwargs={"slug": product.slug})


def post(client, product, email, ip="10.0.0.1"):
    return client.post(subscribe_url(product), {"email": email}, REMOTE_ADDR=ip)


def product_page(client, product) -> str:
    response = client.get(reverse("storefront:product_detail", kwargs={"slug": product.slug}))
    assert response.status_code == 200
    return response.content.decode()


def texts(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def done_text(email: str, product) -> str:
    return f"If {email} can be notified, we will email it once when {product.name} is back in stock."


def path_of(url: str) -> str:
    return urlsplit(url).path


# -- the form on the product page ------------------------------------------------------------------


def test_a_product_that_cannot_be_bought_offers_the_notify_form(client, product):
    html = product_page(client, product)
    assert "Out of stock" in html
    assert f'action="{subscribe_url(product)}"' in html
    assert 'type="email"' in html and "Notify me when back in stock" in html
    assert "csrfmiddlewaretoken" in html


def test_backorders_exhausted_and_full_preorders_offer_it_too(client):
    exhausted = ProductFactory(backorderable=True, use_global_backorder_limit=False, backorder_limit=1)
    checkout_place_order(lines=[CartLine(exhausted.pk, 1)], customer=Customer("a@example.com", "A", "Road 1"))
    full = ProductFactory(preorder=True, preorder_limit=0)
    for item in (exhausted, full):
        assert f'action="{subscribe_url(item)}"' in product_page(client, item)


def test_a_product_that_can_be_bought_has_no_notify_form(client, main):
    in_stock, backorderable = ProductFactory(), ProductFactory(backorderable=True)
    receive(in_stock, 3, main)
    for item in (in_stock, backorderable):
        assert "Notify me when back in stock" not in product_page(client, item)


def test_signed_in_customers_subscribe_in_one_click_with_their_account_email(client, product):
    user = UserFactory(username="ada", email="ada@example.com")
    client.force_login(user)
    html = product_page(client, product)
    assert '<input type="hidden" name="email" value="ada@example.com">' in html
    assert 'type="email"' not in html

    response = post(client, product, "ada@example.com")

    assert response.status_code == 200
    assert done_text("ada@example.com", product) in response.content.decode()
    subscription = Subscription.objects.get()
    assert (subscription.product, subscription.email, subscription.user) == (product, "ada@example.com", user)


def test_a_guest_subscribes_with_an_address(client, product):
    response = post(client, product, "  grace@example.com ")
    assert response.status_code == 200
    assert done_text("grace@example.com", product) in response.content.decode()
    subscription = Subscription.objects.get()
    assert (subscription.email, subscription.user, subscription.is_waiting) == (
        "grace@example.com",
        None,
        True,
    )


def test_the_answer_never_tells_whether_an_address_was_already_subscribed(client, product):
    first = post(client, product, "grace@example.com", ip="10.0.0.1")  # new
    again = post(client, product, "grace@example.com", ip="10.0.0.2")  # already waiting
    Subscription.objects.update(notified_at=timezone.now())
    told = post(client, product, "grace@example.com", ip="10.0.0.3")  # told before: waits again
    Subscription.objects.update(unsubscribed_at=timezone.now())
    gone = post(client, product, "grace@example.com", ip="10.0.0.4")  # unsubscribed before

    assert {r.status_code for r in (first, again, told, gone)} == {200}
    assert len({without_csrf_tokens(r.content) for r in (first, again, told, gone)}) == 1
    assert done_text("grace@example.com", product) in first.content.decode()
    # Other spellings of a waiting address add nothing either, and raise no database error.
    cache.clear()  # (the per-address limit would stop a sixth try within the hour)
    for spelling in ("GRACE@example.com", "Grace@Example.COM"):
        response = post(client, product, spelling, ip="10.0.0.9")
        assert response.status_code == 200 and done_text(spelling, product) in response.content.decode()
    assert Subscription.objects.filter(notified_at__isnull=True, unsubscribed_at__isnull=True).count() == 1
    assert Subscription.objects.count() == 3


def test_the_form_is_csrf_protected(product):
    client = Client(enforce_csrf_checks=True)
    response = client.post(subscribe_url(product), {"email": "grace@example.com"})
    assert response.status_code == 403
    assert not Subscription.objects.exists()


def test_the_form_works_with_its_csrf_token(product):
    client = Client(enforce_csrf_checks=True)
    html = product_page(client, product)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1]
    response = client.post(
        subscribe_url(product), {"email": "grace@example.com", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 200
    assert Subscription.objects.filter(email="grace@example.com").exists()


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("", "Enter your email address."),
        ("not-an-address", "Enter a valid email address, like name@example.com."),
        ("grace@", "Enter a valid email address, like name@example.com."),
        ("grace@example.com\nBcc: victim@example.com", "An email address cannot contain a line break."),
        ("grace@example.com\r\n", "An email address cannot contain a line break."),
        ("grace@example.com\n", "An email address cannot contain a line break."),
        ("a" * 250 + "@example.com", "An email address has at most 254 characters."),
    ],
)
def test_bad_addresses_are_refused_with_a_clear_message(client, product, email, message):
    response = post(client, product, email)
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert 'aria-invalid="true"' in html
    assert "we will email it once" not in html
    assert not Subscription.objects.exists()


def test_unknown_or_inactive_products_are_404(client):
    retired = ProductFactory(is_active=False)
    assert post(client, retired, "grace@example.com").status_code == 404
    response = client.post(reverse("storefront:subscribe", kwargs={"slug": "nope"}), {"email": "a@b.co"})
    assert response.status_code == 404
    assert not Subscription.objects.exists()


def test_the_form_also_has_a_page_of_its_own(client, product):
    response = client.get(subscribe_url(product))
    assert response.status_code == 200
    assert f"Notify me when {product.name} is back in stock" in response.content.decode()
    assert not Subscription.objects.exists()


# -- rate limits --------------------------------------------------------------------------------------


def test_one_address_is_limited_whatever_client_sends_it(client, product):
    for n in range(5):
        assert post(client, product, "grace@example.com", ip=f"10.0.1.{n}").status_code == 200
    response = post(client, product, " Grace@Example.com", ip="10.0.1.99")  # same address, respelled
    assert response.status_code == 429
    assert LIMITED in response.content.decode()
    # Other addresses are not held up by it.
    assert post(client, product, "ada@example.com", ip="10.0.1.99").status_code == 200


def test_one_client_is_limited_whatever_addresses_it_sends(client, product):
    for n in range(20):
        assert post(client, product, f"person{n}@example.com", ip="10.0.2.1").status_code == 200
    response = post(client, product, "person99@example.com", ip="10.0.2.1")
    assert response.status_code == 429
    assert LIMITED in response.content.decode()
    assert not Subscription.objects.filter(email="person99@example.com").exists()
    # Another client is not held up by it.
    assert post(client, product, "person99@example.com", ip="10.0.2.2").status_code == 200


def test_reading_the_form_does_not_count(client, product):
    for _ in range(30):
        assert client.get(subscribe_url(product), REMOTE_ADDR="10.0.3.1").status_code == 200
    assert post(client, product, "grace@example.com", ip="10.0.3.1").status_code == 200


# -- unsubscribe link ---------------------------------------------------------------------------------


def subscription_for(product, email="grace@example.com", **fields) -> Subscription:
    return Subscription.objects.create(product=product, email=email, **fields)


def test_unsubscribe_link_asks_then_unsubscribes_once_without_signing_in(client, product):
    subscription = subscription_for(product)
    url = path_of(unsubscribe_url(subscription))

    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Unsubscribe from Brass Lamp" in html and 'method="post"' in html
    subscription.refresh_from_db()
    assert subscription.unsubscribed_at is None  # a GET (a mail scanner) changes nothing

    response = client.post(url, follow=True)
    assert response.redirect_chain == [(url, 302)]
    assert texts(response) == ["Unsubscribed: we will not email you about Brass Lamp."]
    assert "You are unsubscribed" in response.content.decode()
    subscription.refresh_from_db()
    first = subscription.unsubscribed_at
    assert first is not None

    again = client.post(url, follow=True)
    assert texts(again) == ["You were already unsubscribed from alerts about Brass Lamp."]
    subscription.refresh_from_db()
    assert subscription.unsubscribed_at == first


def test_unsubscribed_addresses_are_skipped_when_stock_returns(product, main):
    gone = subscription_for(product, "gone@example.com")
    stays = subscription_for(product, "stays@example.com")
    Client().post(path_of(unsubscribe_url(gone)))
    receive(product, 5, main)
    assert back_in_stock_notify(product_id=product.pk) == 1
    emails_send_batch()
    assert [m.to for m in mail.outbox] == [[stays.email]]


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + "xx", lambda t: "x" + t, lambda t: "garbage"])
def test_a_tampered_unsubscribe_link_is_404_with_a_message(client, product, mangle):
    subscription = subscription_for(product)
    token = unsubscribe_url(subscription).rstrip("/").rsplit("/", 1)[-1]
    url = reverse("storefront:unsubscribe", kwargs={"token": mangle(token)})
    for response in (client.get(url), client.post(url)):
        assert response.status_code == 404
        assert "This unsubscribe link is not valid" in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.unsubscribed_at is None


def test_an_unsubscribe_link_for_a_deleted_subscription_is_404(client, product):
    subscription = subscription_for(product)
    url = path_of(unsubscribe_url(subscription))
    subscription.delete()
    assert client.get(url).status_code == 404


# -- account: back-in-stock alerts ---------------------------------------------------------------------


def test_the_alerts_page_needs_sign_in(client):
    response = client.get(SUBSCRIPTIONS)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert client.post(SUBSCRIPTIONS, {"subscription": "1"}).status_code == 302


def test_the_account_page_links_to_the_alerts(client, ada):
    client.force_login(ada)
    html = client.get(reverse("storefront:account")).content.decode()
    assert f'href="{SUBSCRIPTIONS}"' in html and "Back-in-stock alerts" in html


def test_the_alerts_page_lists_waiting_and_notified_alerts_of_this_customer_only(client, ada, product):
    lantern = ProductFactory(name="Lantern")
    waiting = subscription_for(product, "ada@example.com", user=ada)
    subscription_for(lantern, "ada@example.com", user=ada, notified_at=timezone.now())
    subscription_for(
        ProductFactory(name="Removed Thing"), "ada@example.com", user=ada, unsubscribed_at=timezone.now()
    )
    subscription_for(
        ProductFactory(name="Someone Else's"), "bob@example.com", user=UserFactory(username="bob")
    )
    subscription_for(ProductFactory(name="Guest Thing"), "guest@example.com")
    client.force_login(ada)

    html = client.get(SUBSCRIPTIONS).content.decode()

    assert "Brass Lamp" in html and "Waiting: we will email you once" in html
    assert "Lantern" in html and "Emailed " in html
    assert "Removed Thing" not in html and "Someone Else" not in html and "Guest Thing" not in html
    assert f'name="subscription" value="{waiting.pk}"' in html


def test_removing_an_alert_cancels_it(client, ada, product):
    subscription = subscription_for(product, "ada@example.com", user=ada)
    client.force_login(ada)

    response = client.post(SUBSCRIPTIONS, {"subscription": subscription.pk}, follow=True)

    assert response.redirect_chain == [(SUBSCRIPTIONS, 302)]
    assert texts(response) == ["Removed the back-in-stock alert for Brass Lamp."]
    assert "You have no back-in-stock alerts" in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.unsubscribed_at is not None
    # Removed already: a second post finds nothing to remove.
    assert client.post(SUBSCRIPTIONS, {"subscription": subscription.pk}).status_code == 404


@pytest.mark.parametrize("value", ["", "abc", "-1", "99999999999999999999", "1.5"])
def test_removing_an_unreadable_id_is_404(client, ada, value):
    client.force_login(ada)
    assert client.post(SUBSCRIPTIONS, {"subscription": value}).status_code == 404


def test_another_customers_alert_is_404_and_stays(client, ada, product):
    bob = UserFactory(username="bob")
    theirs = subscription_for(product, "bob@example.com", user=bob)
    client.force_login(ada)
    assert client.post(SUBSCRIPTIONS, {"subscription": theirs.pk}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.unsubscribed_at is None


def test_removing_needs_the_csrf_token(ada, product):
    subscription = subscription_for(product, "ada@example.com", user=ada)
    client = Client(enforce_csrf_checks=True)
    client.force_login(ada)
    assert client.post(SUBSCRIPTIONS, {"subscription": subscription.pk}).status_code == 403
    subscription.refresh_from_db()
    assert subscription.is_waiting


# -- when stock returns ------------------------------------------------------------------------------


def back_in_stock_mail() -> list:
    emails_send_batch()
    return [m for m in mail.outbox if m.subject.endswith("is back in stock")]


def sign_up(product, count: int) -> list[Subscription]:
    """COUNT subscribers through the form, one second apart, in this order."""
    start = timezone.now() - dt.timedelta(hours=1)
    client = Client()
    for n in range(count):
        post(client, product, f"fan{n}@example.com", ip=f"10.1.0.{n}")
    subscriptions = list(Subscription.objects.filter(product=product).order_by("pk"))
    for n, subscription in enumerate(subscriptions):
        subscription.created_at = start + dt.timedelta(seconds=n)
        subscription.save(update_fields=["created_at"])
    return subscriptions


def restock(product, units: int, source, django_capture_on_commit_callbacks) -> None:
    """Receive stock the way the shop does: the after-commit trigger runs the (eager) task."""
    with django_capture_on_commit_callbacks(execute=True):
        receive(product, units, source)


def test_restocks_tell_subscribers_once_in_sign_up_order_as_many_as_units(
    client, main, django_capture_on_commit_callbacks
):
    product = ProductFactory(name='Lamp <b>"Deluxe"</b> & Co')
    fans = sign_up(product, 6)

    restock(product, 2, main, django_capture_on_commit_callbacks)

    first = back_in_stock_mail()
    assert [m.to for m in first] == [[fans[0].email], [fans[1].email]]
    for message, fan in zip(first, fans, strict=False):
        assert message.subject == 'Lamp <b>"Deluxe"</b> & Co is back in stock'
        html = message.alternatives[0][0]
        assert "Lamp &lt;b&gt;&quot;Deluxe&quot;&lt;/b&gt; &amp; Co" in html
        assert '<b>"Deluxe"</b>' not in html
        product_link = f"http://127.0.0.1:8000{product.get_absolute_url()}"
        for body in (message.body, html):
            assert product_link in body
            # The signed token carries its time of signing: read it back rather than re-sign.
            (token,) = set(re.findall(r"http://127\.0\.0\.1:8000/unsubscribe/([\w:-]+)/", body))
            assert subscription_from_token(token).pk == fan.pk
        # The links work.
        assert client.get(path_of(product_link)).status_code == 200
        unsubscribe = reverse("storefront:unsubscribe", kwargs={"token": token})
        assert "Unsubscribe from" in client.get(unsubscribe).content.decode()
    assert [s.notified_at is not None for s in Subscription.objects.order_by("created_at")] == [
        True,
        True,
        False,
        False,
        False,
        False,
    ]

    # Customers buy those two; the next restock tells the next subscribers, never the first again.
    customer = Customer("buyer@example.com", "Buyer", "Road 1")
    checkout_place_order(lines=[CartLine(product.pk, 2)], customer=customer)
    mail.outbox.clear()
    restock(product, 3, main, django_capture_on_commit_callbacks)

    second = back_in_stock_mail()
    assert [m.to for m in second] == [[fans[2].email], [fans[3].email], [fans[4].email]]

    # Running the job again (a retry, the sweep) tells nobody twice; the last one waits its turn.
    mail.outbox.clear()
    checkout_place_order(lines=[CartLine(product.pk, 3)], customer=customer)
    assert back_in_stock_notify(product_id=product.pk) == 0
    assert back_in_stock_mail() == []
    assert Subscription.objects.get(email=fans[5].email).is_waiting


def test_waiting_backorders_take_restocked_units_before_subscribers(main, django_capture_on_commit_callbacks):
    product = ProductFactory(
        name="Lantern", backorderable=True, use_global_backorder_limit=False, backorder_limit=3
    )
    checkout_place_order(lines=[CartLine(product.pk, 3)], customer=Customer("early@example.com", "E", "Road"))
    fans = sign_up(product, 3)  # the product is "No longer taking backorders"

    restock(product, 4, main, django_capture_on_commit_callbacks)  # 3 go to the waiting order

    assert [m.to for m in back_in_stock_mail()] == [[fans[0].email]]


def test_the_alerts_page_queries_do_not_grow_with_alerts(client, ada, django_assert_max_num_queries):
    client.force_login(ada)
    for _ in range(3):
        subscription_for(ProductFactory(), "ada@example.com", user=ada)
    with django_assert_max_num_queries(6):  # session, user, count, page of alerts with products
        assert client.get(SUBSCRIPTIONS).status_code == 200
    for _ in range(20):
        subscription_for(ProductFactory(), "ada@example.com", user=ada)
    with django_assert_max_num_queries(6):
        assert client.get(SUBSCRIPTIONS).status_code == 200


# -- a restock while the broker is down: the waitlist sweep tells them ------------------------------

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"  # nothing listens: refused at once


def test_a_restock_while_the_broker_is_down_is_announced_by_the_sweep_once_in_sign_up_order(
    main, caplog, django_capture_on_commit_callbacks
):
    product = ProductFactory(name="Lantern")
    fans = sign_up(product, 5)

    with (
        celery_publishing(broker_url=UNREACHABLE_BROKER, eager=False),
        caplog.at_level("WARNING", logger="notifications.receivers"),
    ):
        restock(product, 3, main, django_capture_on_commit_callbacks)  # its trigger is lost

    assert f"product {product.pk} left for the allocation and waitlist sweeps" in caplog.text
    assert back_in_stock_mail() == []  # nobody told yet
    assert [s.is_waiting for s in Subscription.objects.order_by("created_at")] == [True] * 5

    # The broker is back (eager here): the periodic sweep finds the product from its state.
    assert waitlist_sweep.delay().get() == [product.pk]
    assert [m.to for m in back_in_stock_mail()] == [[fans[0].email], [fans[1].email], [fans[2].email]]

    # Nobody has bought the three units yet: a second sweep, a rerun or a redelivered job
    # tells nobody again and nobody new (those units are announced already).
    mail.outbox.clear()
    assert waitlist_sweep.delay().get() == []
    assert back_in_stock_notify(product_id=product.pk) == 0
    assert back_in_stock_mail() == []
    assert [s.is_waiting for s in Subscription.objects.order_by("created_at")] == [False] * 3 + [True] * 2

    # The next restock, also lost, opens the next places: the sweep tells the rest, in order.
    with celery_publishing(broker_url=UNREACHABLE_BROKER, eager=False):
        restock(product, 5, main, django_capture_on_commit_callbacks)
    assert waitlist_sweep.delay().get() == [product.pk]
    assert [m.to for m in back_in_stock_mail()] == [[fans[3].email], [fans[4].email]]
    assert waitlist_sweep.delay().get() == []


def test_a_cancelled_allocation_frees_units_for_the_next_subscribers(
    main, django_capture_on_commit_callbacks
):
    product = ProductFactory(name="Lantern")
    fans = sign_up(product, 3)
    restock(product, 1, main, django_capture_on_commit_callbacks)
    assert [m.to for m in back_in_stock_mail()] == [[fans[0].email]]
    customer = Customer("buyer@example.com", "Buyer", "Road 1")
    row = checkout_place_order(lines=[CartLine(product.pk, 1)], customer=customer).rows.get()
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        row_cancel(row_ids=[row.pk])  # the unit is free again

    assert [m.to for m in back_in_stock_mail()] == [[fans[1].email]]
    assert back_in_stock_notify(product_id=product.pk) == 0


def test_the_waitlist_openings_take_a_constant_number_of_queries(main, django_assert_num_queries):
    products = [ProductFactory() for _ in range(3)]
    for product in products:
        Subscription.objects.create(product=product, email="a@example.com")
        receive(product, 2, main)
    waitlist_openings()  # the global settings row exists from here on
    # Products with their told counts, global settings, free stock, waiting units, inbound.
    with django_assert_num_queries(5):
        assert waitlist_openings() == {p.pk: 2 for p in products}
    for product in [ProductFactory() for _ in range(10)]:
        Subscription.objects.create(product=product, email="a@example.com")
        receive(product, 1, main)
    with django_assert_num_queries(5):
        assert len(waitlist_openings()) == 13
