"""The dashboard's money figures: waiting rows' value, captured and refunded this week,
authorizations expiring soon, with every number known."""

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone
from payments import PaymentStatus

from backoffice import dashboard
from billing.models import EntryKind, LedgerEntry
from billing.tasks import refresh_money_waiting_summary
from orders.models import RowStatus
from orders.services import row_cancel, shipment_create
from tests.billing.factories import backdate, pay, place, shop_settings
from tests.catalog.factories import ProductFactory
from tests.helpers import receive, staff_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]

PAGE = reverse("admin:dashboard")


@pytest.fixture
def books(settings, main, django_capture_on_commit_callbacks):
    """
    A (per shipment, authorized 6 days ago): shelf 1 × 20.00 shipped (captured 24.90 with
      shipping), later 2 × 10.00 backordered: 20.00 waiting, 20.00 of the authorization left.
    B (prepaid): shelf 1 × 20.00 + later 3 × 10.00 + shipping = 54.90 captured; the 3 later
      units cancelled: 30.00 refunded.
    C (not paid): a pre-order 2 × 15.00: 30.00 waiting.
    D (prices without tax, 20 %): later 1 × 10.00 backordered: 12.00 waiting.
    E (prepaid last week): 24.90 captured before Monday: not this week's.
    F (authorized 3 days ago) and G (8 days ago, expired): not expiring soon.
    """
    shop_settings(settings, BILLING_AUTHORIZATION_DAYS=7)
    shelf = ProductFactory(price=D("20.00"))
    receive(shelf, 10, main)
    later = ProductFactory(price=D("10.00"), backorderable=True)
    record = ProductFactory(price=D("15.00"), preorder=True)

    def authorize(order, days_ago):
        with django_capture_on_commit_callbacks(execute=True):
            pay(order)
        backdate(order, kind=EntryKind.AUTHORIZE, days=days_ago)

    a = place([(shelf, 1), (later, 2)])
    with django_capture_on_commit_callbacks(execute=True):
        pay(a)
        shipment_create(order=a, source=main)
    backdate(a, kind=EntryKind.AUTHORIZE, days=6)

    settings.BILLING_SETTLEMENT = "at_checkout"
    b = place([(shelf, 1), (later, 3)])
    e = place([(shelf, 1)])
    with django_capture_on_commit_callbacks(execute=True):
        pay(b, PaymentStatus.CONFIRMED)
        pay(e, PaymentStatus.CONFIRMED)
        row_cancel(row_ids=[b.rows.get(status=RowStatus.BACKORDERED).pk], by_customer=True)
    today = timezone.localdate()
    monday = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=today.weekday()), dt.time()))
    LedgerEntry.objects.filter(order=e).update(settled_at=monday - dt.timedelta(seconds=1))
    settings.BILLING_SETTLEMENT = "per_shipment"

    place([(record, 2)])  # C, never paid
    settings.BILLING_PRICES_INCLUDE_TAX = False
    place([(later, 1)])  # D, not paid either
    settings.BILLING_PRICES_INCLUDE_TAX = True
    authorize(place([(shelf, 1)]), 3)  # F
    authorize(place([(shelf, 1)]), 8)  # G


def test_money_figures(books):
    money = dashboard.money_figures()
    assert money["waiting"]["amounts"] == {"EUR": D("62.00")}
    assert money["captured"]["amounts"] == {"EUR": D("79.80")}
    assert money["refunded"]["amounts"] == {"EUR": D("30.00")}
    assert money["expiring"]["count"] == 1
    assert money["expiring"]["amounts"] == {"EUR": D("20.00")}


def figure(html: str, name: str) -> str:
    found = re.search(rf'<li id="money-{name}"[^>]*><strong>([^<]*)</strong>', html)
    assert found, f"no money-{name}"
    return found.group(1)


def test_the_page_shows_them(admin_client, books):
    html = admin_client.get(PAGE).content.decode()
    assert [figure(html, n) for n in ("waiting", "captured", "refunded", "expiring")] == [
        "€62.00",
        "€79.80",
        "€30.00",
        "1",
    ]
    assert "(€20.00 not yet captured)" in html
    assert f"{reverse('admin:billing_ledgerentry_changelist')}?money=expiring" in html


def test_an_empty_shop_shows_zero(admin_client):
    html = admin_client.get(PAGE).content.decode()
    assert [figure(html, n) for n in ("waiting", "captured", "refunded", "expiring")] == [
        "€0.00",
        "€0.00",
        "€0.00",
        "0",
    ]


def test_only_a_merchant_who_may_view_the_ledger_sees_money(client, books):
    rows_only = staff_client(client, "orders.view_orderrow", username="rows")
    assert 'id="money-figures"' not in rows_only.get(PAGE).content.decode()
    ledger = staff_client(client, "orders.view_orderrow", "billing.view_ledgerentry", username="ledger")
    assert figure(ledger.get(PAGE).content.decode(), "waiting") == "€62.00"


def test_the_money_figures_take_three_queries_with_the_jobs_snapshot(books, django_assert_num_queries):
    with django_assert_num_queries(4):  # no snapshot: the waiting rows valued on the page
        dashboard.money_figures()
    refresh_money_waiting_summary()
    with django_assert_num_queries(3):
        money = dashboard.money_figures()
    assert money["waiting"]["amounts"] == {"EUR": D("62.00")} and money["waiting"]["as_of"]
