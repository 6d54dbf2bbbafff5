"""Billing's share of the write paths, pinned: the same number of queries whatever the number
of rows (STYLE: a test pins the queries of every hot path). Counted inside the test's
transaction: each atomic block shows as a savepoint and its release."""

from decimal import Decimal as D

import pytest
from payments import PaymentStatus

from billing.models import EntryKind, LedgerEntry
from billing.services import rows_cancelled_settle, shipment_capture
from orders.models import OrderRow, RowStatus
from orders.services import shipment_create
from tests.billing.factories import pay, place
from tests.catalog.factories import ProductFactory
from tests.helpers import receive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]


@pytest.fixture
def order_of(settings, main):
    settings.BILLING_SHIPPING, settings.BILLING_FREE_SHIPPING_FROM = "4.90", ""

    def make(count, mode):
        settings.BILLING_SETTLEMENT = mode
        lines = []
        for _ in range(count):
            shelf, later = (
                ProductFactory(price=D("20.00")),
                ProductFactory(price=D("10.00"), backorderable=True),
            )
            receive(shelf, 1, main)
            lines += [(shelf, 1), (later, 1)]
        order = place(lines)
        pay(order, PaymentStatus.PREAUTH if mode == "per_shipment" else PaymentStatus.CONFIRMED)
        return order

    return make


@pytest.mark.parametrize("count", [1, 10])
def test_capturing_a_shipment_costs_the_same_queries_for_1_or_10_rows(
    order_of, main, count, django_assert_num_queries
):
    order = order_of(count, "per_shipment")
    shipment = shipment_create(order=order, source=main)
    rows = list(shipment.rows.all())
    LedgerEntry.objects.filter(kind=EntryKind.CAPTURE).delete()
    LedgerEntry.objects.filter(kind=EntryKind.AUTHORIZE).update(drawn=0)  # as before that capture

    # savepoint; lock the totals; the shipment's capture (none yet); shipping captured before;
    # the checkout's authorization; draw from it; its payment; entry insert; lines insert;
    # settling: the checkout's authorization, rows (anything left to ship: yes, backordered
    # rows wait); release savepoint. (Pinned at 10 while the setup left the authorization
    # drawn, so the capture took the pay-link path; now the capture draws from it.)
    with django_assert_num_queries(12):
        entry = shipment_capture(shipment=shipment, rows=rows)
    assert entry.amount == D("20.00") * count + D("4.90")


@pytest.mark.parametrize("count", [1, 10])
def test_refunding_cancelled_rows_costs_the_same_queries_for_1_or_10_rows(
    order_of, count, django_assert_num_queries
):
    order = order_of(count, "at_checkout")
    rows = list(order.rows.filter(status=RowStatus.BACKORDERED))
    OrderRow.objects.filter(pk__in=[r.pk for r in rows]).update(status=RowStatus.CANCELLED)

    # (no savepoint: it runs inside the cancellation's transaction) lock the totals; the
    # checkout's capture; the order's rows; rows refunded already; rows the capture charged;
    # draw from it; refunds insert; their lines insert; notifications' note to email the
    # refund once settled (note insert, its entries insert)
    with django_assert_num_queries(10):
        refunds = rows_cancelled_settle(rows=rows)
    assert [r.amount for r in refunds] == [D("10.00")] * count
