"""Money waiting, the dashboard's figure: valued by a job into a snapshot per currency
(issue 12), trusted only while it is one recent run, else valued from the rows."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from billing.models import MoneyWaitingSummary
from billing.selectors import money_waiting, money_waiting_counted
from billing.tasks import refresh_money_waiting_summary
from orders.models import RowStatus
from orders.services import row_cancel
from tests.billing.factories import place, shop_settings
from tests.catalog.factories import ProductFactory
from tests.helpers import receive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]


@pytest.fixture
def shop(settings, main):
    """
    EUR, 20 % included: 2 × 10.00 backordered = 20.00 (and 1 × 20.00 allocated: not waiting).
    EUR, 20 % on top: 1 × 10.00 backordered = 12.00.                       EUR: 32.00
    GBP, 20 % on top, rounded per unit: 3 × 9.99 → 3 × 11.99 = 35.97 (not 35.96).
    GBP, 20 % included: a pre-order 1 × 15.00 = 15.00.                     GBP: 50.97
    A cancelled backorder in each currency counts for nothing.
    """
    shop_settings(settings)
    shelf = ProductFactory(price=D("20.00"))
    receive(shelf, 5, main)
    later = ProductFactory(price=D("10.00"), backorderable=True)
    cheap = ProductFactory(price=D("9.99"), backorderable=True)
    record = ProductFactory(price=D("15.00"), preorder=True)

    orders = {"eur": place([(shelf, 1), (later, 2)])}
    settings.BILLING_PRICES_INCLUDE_TAX = False
    orders["eur_net"] = place([(later, 1)])
    settings.BILLING_CURRENCY = "GBP"
    orders["gbp_net"] = place([(cheap, 3)])
    settings.BILLING_PRICES_INCLUDE_TAX = True
    orders["gbp"] = place([(record, 1)])
    gone = [place([(later, 4)]), place([(later, 5)])]
    settings.BILLING_CURRENCY = "EUR"
    gone.append(place([(cheap, 6)]))
    row_cancel(row_ids=[o.rows.get().pk for o in gone])
    return orders | {"later": later}


EXPECTED = {"EUR": D("32.00"), "GBP": D("50.97")}


def waiting_row_ids(*orders) -> list[int]:
    waiting = [RowStatus.BACKORDERED, RowStatus.PREORDERED]
    return [r.pk for o in orders for r in o.rows.filter(status__in=waiting)]


def test_the_jobs_figure_is_the_rows_valued_now_across_currencies_and_tax_rules(shop):
    assert money_waiting_counted() == EXPECTED

    assert refresh_money_waiting_summary() == 2  # currencies
    found = money_waiting()
    assert found.amounts == EXPECTED
    assert found.as_of == MoneyWaitingSummary.objects.get(currency="GBP").computed_at


def test_a_second_run_replaces_the_snapshot_rather_than_adding_to_it(shop):
    refresh_money_waiting_summary()
    refresh_money_waiting_summary()
    assert money_waiting().amounts == EXPECTED

    place([(shop["later"], 1)])  # EUR, 20 % included: 10.00 more
    refresh_money_waiting_summary()
    assert money_waiting().amounts == {"EUR": D("42.00"), "GBP": D("50.97")}
    assert MoneyWaitingSummary.objects.count() == 2


def test_a_currency_with_nothing_waiting_any_more_leaves_the_snapshot(shop):
    refresh_money_waiting_summary()
    row_cancel(row_ids=waiting_row_ids(shop["gbp"], shop["gbp_net"]))
    refresh_money_waiting_summary()

    assert list(MoneyWaitingSummary.objects.values_list("currency", flat=True)) == ["EUR"]
    found = money_waiting()
    assert found.amounts == {"EUR": D("32.00")} and found.as_of is not None  # the snapshot's

    row_cancel(row_ids=waiting_row_ids(shop["eur"], shop["eur_net"]))
    refresh_money_waiting_summary()
    assert not MoneyWaitingSummary.objects.exists()
    assert money_waiting().amounts == {}


def test_a_missing_stale_or_mixed_snapshot_is_not_trusted(shop, settings, django_assert_num_queries):
    with django_assert_num_queries(2):  # the snapshot read, then the rows valued
        found = money_waiting()
    assert (found.amounts, found.as_of) == (EXPECTED, None)

    refresh_money_waiting_summary()
    an_hour_ago = timezone.now() - dt.timedelta(hours=1)
    MoneyWaitingSummary.objects.update(computed_at=an_hour_ago)
    place([(shop["later"], 1)])  # after the snapshot: 10.00 more EUR
    settings.BILLING_WAITING_SUMMARY_MAX_AGE = 900
    found = money_waiting()
    assert (found.amounts["EUR"], found.as_of) == (D("42.00"), None)

    settings.BILLING_WAITING_SUMMARY_MAX_AGE = 7200
    with django_assert_num_queries(1):
        found = money_waiting()
    assert (found.amounts["EUR"], found.as_of) == (D("32.00"), an_hour_ago)

    # Rows of two different runs are not one snapshot.
    earlier = an_hour_ago - dt.timedelta(minutes=1)
    MoneyWaitingSummary.objects.filter(currency="GBP").update(computed_at=earlier)
    found = money_waiting()
    assert (found.amounts["EUR"], found.as_of) == (D("42.00"), None)


def test_beat_values_it_every_five_minutes(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["money-waiting-summary"]
    assert entry["task"] == refresh_money_waiting_summary.name
    assert entry["schedule"] == 300.0
