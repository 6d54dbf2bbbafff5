"""CSV export on the order and order-row changelists: the columns the list shows, for every
row its filters and search select (not only the page)."""

import csv
import io

import pytest
from django.urls import reverse

from orders.models import RowStatus
from tests.catalog.factories import ProductFactory
from tests.helpers import staff_client
from tests.inventory.factories import SourceFactory
from tests.orders.factories import OrderFactory, OrderRowFactory

pytestmark = pytest.mark.django_db

ROWS = reverse("admin:orders_orderrow_changelist")
ORDERS = reverse("admin:orders_order_changelist")


def table(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def shown(response) -> list[list[str]]:
    """The changelist's cells as the page shows them (text of each result cell)."""
    from django.contrib.admin.templatetags.admin_list import items_for_result
    from django.utils.html import strip_tags

    cl = response.context["cl"]
    return [
        [strip_tags(cell).strip() for cell in list(items_for_result(cl, result, None))[1:]]  # no checkbox
        for result in cl.result_list
    ]


@pytest.fixture
def shop():
    lamp = ProductFactory(sku="LAMP-1", name="=Brass Lamp")  # a name a spreadsheet would run
    chair = ProductFactory(sku="CHAIR-9", name="Oak Chair")
    main = SourceFactory(code="main")
    first, second = OrderFactory(email="ada@example.com"), OrderFactory(email="bo@example.com")
    OrderRowFactory(order=first, product=lamp, quantity=2, line_no=1)
    OrderRowFactory(order=first, product=chair, line_no=2, status=RowStatus.ALLOCATED, source=main)
    OrderRowFactory(order=second, product=lamp, quantity=3, line_no=1)
    return first, second


def test_the_row_export_holds_what_the_filtered_list_shows(admin_client, shop):
    query = {"status__exact": "backordered"}
    page = admin_client.get(ROWS, query)
    exported = table(admin_client.get(reverse("admin:orders_orderrow_export"), query))

    assert exported[0] == ["order", "line_no", "product", "status", "quantity", "source", "queue_at",
                           "waiting (days)", "promise_date"]  # fmt: skip
    assert len(exported) - 1 == len(shown(page)) == 2
    for csv_row, list_row in zip(exported[1:], shown(page), strict=True):
        # order, line, product, status, quantity, source, waiting days, promise: as listed
        assert [csv_row[i] for i in (0, 1, 3, 4, 7)] == [list_row[i] for i in (0, 1, 3, 4, 7)]
        assert csv_row[2] == "'" + list_row[2]  # "=Brass Lamp (LAMP-1)", defused for spreadsheets
        assert list_row[5] == "-" and csv_row[5] == ""  # no source: the list's dash, an empty cell


def test_the_order_export_follows_the_search(admin_client, shop):
    first, _ = shop
    query = {"q": "ADA@example.com"}
    page = admin_client.get(ORDERS, query)
    exported = table(admin_client.get(reverse("admin:orders_order_export"), query))

    assert exported[0] == ["number", "placed_at", "full_name", "email", "status", "rows"]
    listed = [o.number for o in page.context["cl"].result_list]
    assert [r[0] for r in exported[1:]] == listed == [first.number]
    assert exported[1][3:] == ["ada@example.com", "Open", "1 allocated, 2 backordered"]
    assert shown(page)[0][3:] == exported[1][3:]


def test_export_needs_view_permission_on_the_list(client, shop):
    staff = staff_client(client, "catalog.view_product", "orders.view_order")
    assert staff.get(reverse("admin:orders_orderrow_export")).status_code == 403
    assert staff.get(reverse("admin:orders_order_export")).status_code == 200
