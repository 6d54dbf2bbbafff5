"""The order and order-row changelists built to stay fast at a million rows (issue 12): a
constant number of queries, exact search through indexes, a bounded count, a page read by
its keys, the product filter as an autocomplete, and the rows-by-status snapshot."""

import datetime as dt
import json

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from notifications.tasks import refresh_row_status_summary
from orders.admin import scale
from orders.models import OrderRow, RowStatus, RowStatusSummary
from orders.selectors import row_counts_by_status
from tests.catalog.factories import ProductFactory
from tests.orders.factories import OrderFactory, OrderRowFactory

pytestmark = pytest.mark.django_db

ORDERS = reverse("admin:orders_order_changelist")
ROWS = reverse("admin:orders_orderrow_changelist")


def listed(response) -> list:
    return list(response.context["cl"].result_list)


def rows(count: int, *, products=None) -> list[OrderRow]:
    """``count`` orders of two rows each, the first waiting, the second shipped-free (cancelled)."""
    products = products or [ProductFactory(backorderable=True) for _ in range(3)]
    start = timezone.now() - dt.timedelta(days=10)
    made = []
    for i in range(count):
        order = OrderFactory(placed_at=start + dt.timedelta(minutes=i), email=f"c{i % 4}@example.com")
        made.append(OrderRowFactory(order=order, product=products[i % len(products)], line_no=1))
        made.append(OrderRowFactory(order=order, product=products[-1], line_no=2, status=RowStatus.CANCELLED))
    return made


def queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params or {}).status_code == 200
    return len(captured)


@pytest.mark.parametrize("count", [110, 230])  # orders: 2 or 3 pages of orders, 3 or 5 of rows
def test_the_row_list_runs_the_same_queries_for_few_or_many_rows(
    admin_client, django_assert_num_queries, count
):
    rows(count)
    # session, user, the source filter's sources, the bounded count, the page's keys, the
    # page's rows with their order, product and source: nothing per row, no list of products.
    with django_assert_num_queries(6):
        assert admin_client.get(ROWS, {"p": 2}).status_code == 200
    # Searching: the SKU lookup instead of the keys (one page of rows).
    with django_assert_num_queries(6):
        found = admin_client.get(ROWS, {"status__exact": "cancelled", "q": "c1@example.com"})
    assert len(listed(found)) == len([i for i in range(count) if i % 4 == 1])


@pytest.mark.parametrize("count", [110, 230])
def test_the_order_list_runs_the_same_queries_for_few_or_many_orders(
    admin_client, django_assert_num_queries, count
):
    rows(count)
    # session, user, the bounded count, the page's keys, the page's orders, their rows.
    with django_assert_num_queries(6):
        assert admin_client.get(ORDERS, {"p": 2}).status_code == 200


def test_searches_match_exact_order_number_email_or_sku_in_any_case(admin_client):
    lamp = ProductFactory(sku="LAMP-1")
    made = rows(6, products=[lamp, ProductFactory(sku="CHAIR-9")])
    order = made[4].order

    assert {r.order for r in listed(admin_client.get(ROWS, {"q": order.number.lower()}))} == {order}
    assert set(listed(admin_client.get(ORDERS, {"q": f" {order.number} "}))) == {order}
    by_email = {r.order.email for r in listed(admin_client.get(ROWS, {"q": "C1@EXAMPLE.COM"}))}
    assert by_email == {"c1@example.com"}
    assert {o.email for o in listed(admin_client.get(ORDERS, {"q": "c1@example.com"}))} == {"c1@example.com"}
    lamp_rows = listed(admin_client.get(ROWS, {"q": "lamp-1"}))
    assert lamp_rows and {r.product for r in lamp_rows} == {lamp}
    assert set(listed(admin_client.get(ORDERS, {"q": "LAMP-1"}))) == {r.order for r in lamp_rows}
    # Exact only: a piece of a number, an email or a SKU is not a search through every row.
    assert listed(admin_client.get(ROWS, {"q": "LAMP"})) == []
    assert listed(admin_client.get(ORDERS, {"q": "example.com"})) == []
    assert "Exact order number, customer email or SKU" in admin_client.get(ROWS).content.decode()


def test_the_product_filter_is_an_autocomplete(admin_client):
    products = [ProductFactory(sku=f"P-{i:03d}", name=f"Widget {i}") for i in range(30)]
    made = rows(4, products=products[:2])
    html = admin_client.get(ROWS).content.decode()
    assert 'class="admin-autocomplete' in html and 'data-filter="product__id__exact"' in html
    assert "P-029" not in html and "?product__id__exact=" not in html  # no link per product

    chosen = admin_client.get(ROWS, {"product__id__exact": products[0].pk})
    assert {r.product for r in listed(chosen)} == {products[0]} and len(listed(chosen)) == 2
    assert f'<option value="{products[0].pk}" selected>{products[0]}</option>' in chosen.content.decode()

    found = admin_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "orders", "model_name": "orderrow", "field_name": "product", "term": "P-02"},
    )
    assert [r["text"] for r in json.loads(found.content)["results"]][:2] == [
        "Widget 20 (P-020)",
        "Widget 21 (P-021)",
    ]
    assert made  # the rows exist


def test_a_page_is_read_by_its_keys_and_holds_the_same_rows_as_a_slice(admin_client):
    made = rows(120)
    expected = list(OrderRow.objects.order_by("queue_at", "order_id", "line_no", "pk"))
    page2 = listed(admin_client.get(ROWS, {"p": 2}))
    assert page2 == expected[100:200]
    assert listed(admin_client.get(ROWS, {"p": 3})) == expected[200:240] and len(made) == 240


@pytest.mark.postgres
def test_beyond_the_exact_limit_the_count_is_the_planners_estimate(admin_client, monkeypatch):
    rows(30)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_orderrow")
    monkeypatch.setattr(scale, "EXACT_COUNT_LIMIT", 10)
    response = admin_client.get(ROWS)
    cl = response.context["cl"]
    assert cl.paginator.estimated is True and cl.result_count >= 11
    assert f"about {cl.result_count}" in response.content.decode()

    monkeypatch.setattr(scale, "EXACT_COUNT_LIMIT", 100)
    response = admin_client.get(ROWS)
    assert (response.context["cl"].paginator.estimated, response.context["cl"].result_count) == (False, 60)
    assert "about" not in response.content.decode().split('class="paginator"')[1][:200]


# -- rows by status: the job's snapshot ---------------------------------------------------


def test_rows_by_status_come_from_the_jobs_snapshot_until_it_runs_again(admin_client):
    rows(3)
    refresh_row_status_summary()
    counts = {c["status"]: c["rows"] for c in row_counts_by_status()}
    assert (counts["backordered"], counts["cancelled"]) == (3, 3)

    rows(2)  # after the snapshot: not counted until the job runs
    counts = {c["status"]: c["rows"] for c in row_counts_by_status()}
    assert (counts["backordered"], counts["cancelled"]) == (3, 3)
    assert "As of" in admin_client.get(reverse("admin:index")).content.decode()

    refresh_row_status_summary()
    refresh_row_status_summary()  # twice: replaced, never added up
    counts = {c["status"]: (c["rows"], c["units"]) for c in row_counts_by_status()}
    assert counts["backordered"] == (5, 5) and counts["cancelled"] == (5, 5) and counts["shipped"] == (0, 0)


def test_a_missing_or_stale_snapshot_is_not_trusted(django_assert_num_queries):
    rows(2)
    with django_assert_num_queries(2):  # the snapshot read, then the rows counted
        assert {c["status"]: c["rows"] for c in row_counts_by_status()}["backordered"] == 2
    refresh_row_status_summary()
    RowStatusSummary.objects.update(computed_at=timezone.now() - dt.timedelta(hours=1))
    rows(1)
    with override_settings(ROW_STATUS_SUMMARY_MAX_AGE=900):
        assert {c["status"]: c["rows"] for c in row_counts_by_status()}["backordered"] == 3
    with override_settings(ROW_STATUS_SUMMARY_MAX_AGE=7200), django_assert_num_queries(1):
        assert {c["status"]: c["rows"] for c in row_counts_by_status()}["backordered"] == 2
