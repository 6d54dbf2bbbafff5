"""One set of age groups for waiting rows (orders.selectors): the merchants' digest, the
dashboard and the order-row admin filter put a row of each age in the same group, pre-orders
included, and the digest's link lists what it counted."""

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from backoffice import dashboard
from notifications.events import digest_aged_backorders, emails_send_batch
from notifications.models import OutboxMessage
from orders.models import OrderRow, RowStatus
from orders.selectors import age_bucket_of, age_buckets, aged_bucket
from orders.services import CartLine, Customer, checkout_place_order
from tests.catalog.factories import ProductFactory
from tests.inventory.factories import SourceFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
EXPECTED = {
    0: "0-6",
    6: "0-6",
    7: "7-29",
    8: "7-29",
    29: "7-29",
    30: "30-89",
    31: "30-89",
    90: "90+",
    91: "90+",
}


@pytest.fixture(autouse=True)
def frozen(settings):
    settings.AGED_BACKORDER_DAYS = [7, 30, 90]
    settings.MERCHANT_EMAILS = ["shop@example.com"]
    SourceFactory(code="main")
    with time_machine.travel(NOW, tick=False):
        yield


def waiting_row(status: str, days: int, hours: int = 5) -> OrderRow:
    """One waiting row, ``days`` whole days (and some hours) in the queue."""
    product = ProductFactory(
        name=f"Lamp {status} {days}", preorder=status == RowStatus.PREORDERED, backorderable=True
    )
    customer = Customer(email=f"c{days}@example.com", full_name="C", address="x")
    (row,) = checkout_place_order(lines=[CartLine(product.pk, 1)], customer=customer).rows.all()
    assert row.status == status
    OrderRow.objects.filter(pk=row.pk).update(queue_at=NOW - dt.timedelta(days=days, hours=hours))
    return OrderRow.objects.get(pk=row.pk)


def digest_group(row: OrderRow) -> str | None:
    """The group the digest puts the row in (None: the digest leaves it out), from its text."""
    OutboxMessage.objects.all().delete()
    mail.outbox.clear()
    if not digest_aged_backorders():
        return None
    emails_send_batch()
    (digest,) = [m for m in mail.outbox if m.subject.startswith("Aged backorders")]
    line = re.search(rf"- {re.escape(row.product.name)} .*; ([\d / ]+)$", digest.body, re.M)
    counts = [int(n) for n in line.group(1).split(" / ")]
    groups = [b for b in age_buckets() if b.min_days >= aged_bucket().min_days]
    (group,) = [b.key for b, n in zip(groups, counts, strict=True) if n]
    return group


def admin_groups(admin_client, row: OrderRow) -> set[str]:
    """The choices of the admin's "waiting for" filter that list the row."""
    url = reverse("admin:orders_orderrow_changelist")
    found = set()
    for key in [b.key for b in age_buckets()] + [aged_bucket().key]:
        response = admin_client.get(url, {"waited": key})
        assert response.status_code == 200
        if row.pk in {r.pk for r in response.context["cl"].result_list}:
            found.add(key)
    return found


@pytest.mark.parametrize("status", [RowStatus.BACKORDERED, RowStatus.PREORDERED])
@pytest.mark.parametrize("days", sorted(EXPECTED))
def test_the_digest_the_dashboard_and_the_admin_filter_put_a_row_in_the_same_group(
    admin_client, status, days
):
    row = waiting_row(status, days)
    expected = EXPECTED[days]

    assert age_bucket_of(days=(timezone.now() - row.queue_at).days).key == expected
    on_dashboard = [b["key"] for b in dashboard.waiting_by_age() if b["rows"]]
    assert on_dashboard == [expected]
    aged = expected != age_buckets()[0].key
    assert admin_groups(admin_client, row) == ({expected, "aged"} if aged else {expected})
    assert digest_group(row) == (expected if aged else None)


def test_the_digest_links_to_every_row_it_counted_pre_orders_included(admin_client):
    rows = [waiting_row(RowStatus.BACKORDERED, 40), waiting_row(RowStatus.PREORDERED, 8)]
    waiting_row(RowStatus.BACKORDERED, 3)  # too young for the digest
    digest_aged_backorders()
    emails_send_batch()
    (digest,) = [m for m in mail.outbox if m.subject.startswith("Aged backorders")]
    assert "2 rows waiting" in digest.subject

    (path,) = re.findall(r"^http\S*?(/admin/orders/orderrow/\S*)$", digest.body, re.M)
    listed = admin_client.get(path).context["cl"].result_list
    assert sorted(r.pk for r in listed) == sorted(r.pk for r in rows)
