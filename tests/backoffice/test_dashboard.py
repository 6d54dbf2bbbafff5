"""The merchant's backorder dashboard: numbers, charts, CSV, permissions, query counts."""

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection
from django.template.defaultfilters import date as date_format
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backoffice import dashboard
from backoffice.admin_site import RestockAdminSite
from backoffice.charts import Bar, bar_chart
from billing.models import MoneyWaitingSummary
from billing.tasks import refresh_money_waiting_summary
from catalog.models import Product
from inventory.models import InboundStatus, InboundSupply
from notifications.models import OutboxMessage
from notifications.tasks import refresh_row_status_summary
from orders.models import OrderRow, RowStatus
from orders.services import CartLine, Customer, checkout_place_order, row_cancel, shipment_create
from tests.catalog.factories import ProductFactory, global_settings_set
from tests.helpers import receive, staff_client
from tests.inventory.factories import SourceFactory

pytestmark = pytest.mark.django_db

PAGE = reverse("admin:dashboard")
GUEST = Customer(email="ada@example.com", full_name="Ada Lovelace", address="1 Analytical Way")


def csv_url(table: str) -> str:
    return reverse("admin:dashboard_csv", args=[table])


def place(*lines: tuple[Product, int]):
    return checkout_place_order(lines=[CartLine(p.pk, q) for p, q in lines], customer=GUEST)


def row_of(order, product) -> OrderRow:
    return order.rows.get(product=product, status__in=[RowStatus.BACKORDERED, RowStatus.PREORDERED])


# -- a small shop with every figure known ---------------------------------------------


@dataclass
class Shop:
    today: dt.date
    lamp: Product
    chair: Product
    record: Product
    pen: Product
    vase: Product


@pytest.fixture
def shop() -> Shop:
    """
    Rows:  allocated 1 row / 2 units (lamp), backordered 3 / 9 (lamp 3, chair 4 + 2),
           pre-ordered 1 / 2 (record), shipped 1 / 1 (mug), cancelled 1 / 1 (chair).
    Ages:  lamp 3 days, chair 20 and 200 days, record 60 days.
    Promises: lamp passed 2 days ago; chair in 3 days (no open supply) and in 30 days;
           record in 5 days (supply coming).
    Free:  lamp 0, chair 0, record 0, pen 2 (global threshold 2), vase 4 (own threshold 5),
           mug 9 (not low); an inactive product is never listed.
    """
    global_settings_set(low_stock_threshold=2)
    today = timezone.localdate()
    now = timezone.now()
    main = SourceFactory(code="main", priority=1)
    closed = SourceFactory(code="closed", priority=5, is_active=False)
    lamp = ProductFactory(sku="LAMP", name="Desk Lamp", backorderable=True)
    chair = ProductFactory(sku="CHAIR", name="Oak Chair", backorderable=True)
    record = ProductFactory(sku="REC", name="Vinyl Record", preorder=True)
    mug = ProductFactory(sku="MUG", name="Mug")
    pen = ProductFactory(sku="PEN", name="Pen")
    vase = ProductFactory(
        sku="VASE", name="Vase", use_global_low_stock_threshold=False, low_stock_threshold=5
    )
    ProductFactory(sku="OLD", name="Retired", is_active=False)
    receive(lamp, 2, main)
    receive(mug, 10, main)
    receive(pen, 2, main)
    receive(vase, 4, main)
    receive(vase, 100, closed)  # an inactive source's stock is not free stock

    first = place((lamp, 5), (chair, 4))  # lamp: 2 allocated + 3 backordered
    second = place((record, 2), (mug, 1))
    third = place((chair, 1))
    fourth = place((chair, 2))
    row_cancel(row_ids=[row_of(third, chair).pk])
    shipment_create(order=second, source=main)

    # Supply written directly: the promise dates below are the test's own.
    for product, qty, days, status, source in [
        (lamp, 10, 5, InboundStatus.OPEN, main),
        (lamp, 4, 9, InboundStatus.OPEN, main),
        (record, 5, 20, InboundStatus.OPEN, main),
        (chair, 7, 2, InboundStatus.CANCELLED, main),
        (chair, 8, 2, InboundStatus.OPEN, closed),
    ]:
        InboundSupply.objects.create(
            product=product,
            quantity=qty,
            expected_date=today + dt.timedelta(days=days),
            status=status,
            source=source,
            reference=f"PO-{product.sku}-{days}-{qty}",
        )
    for order, product, age, promise in [
        (first, lamp, 3, -2),
        (first, chair, 20, 3),
        (fourth, chair, 200, 30),
        (second, record, 60, 5),
    ]:
        OrderRow.objects.filter(pk=row_of(order, product).pk).update(
            queue_at=now - dt.timedelta(days=age), promise_date=today + dt.timedelta(days=promise)
        )

    OutboxMessage.objects.all().delete()
    for i, status in enumerate(["pending"] * 2 + ["sending"] + ["failed"] * 3 + ["sent"] * 4):
        OutboxMessage.objects.create(
            key=f"test:{i}",
            kind="test",
            to_email="ada@example.com",
            subject="Hello",
            body_text="Hello",
            status=status,
            sent_at=now if status == "sent" else None,
        )
    OutboxMessage.objects.filter(key="test:0").update(created_at=now - dt.timedelta(hours=3))
    return Shop(today=today, lamp=lamp, chair=chair, record=record, pen=pen, vase=vase)


# -- reading the page back -------------------------------------------------------------


class Tables(HTMLParser):
    """Every <table id=...> of a page as rows of cell texts (header rows included)."""

    def __init__(self, html: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = self._row = self._cell = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id"):
            self._table = self.tables.setdefault(attrs["id"], [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def chart_bars(html: str, chart_id: str) -> dict[str, int]:
    svg = re.search(rf'<svg class="chart" id="{chart_id}".*?</svg>', html, re.S)
    assert svg, f"no chart {chart_id}"
    return {
        label: int(value)
        for label, value in re.findall(r'data-label="([^"]*)" data-value="(\d+)"', svg.group(0))
    }


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.reader(io.StringIO(response.content.decode())))


def iso(days: int) -> str:
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


# -- the admin site ------------------------------------------------------------------


def test_the_default_admin_site_is_the_restock_site_with_every_model_registered():
    assert isinstance(admin.site, RestockAdminSite)
    assert admin.site.is_registered(Product)
    assert admin.site.is_registered(OrderRow)
    assert admin.site.is_registered(OutboxMessage)


def test_the_index_and_every_header_link_to_the_dashboard(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()

    assert f'<a href="{PAGE}" class="section">Backorder dashboard</a>' in html
    assert f'<a href="{PAGE}" id="dashboard-link">Dashboard</a>' in html
    other = admin_client.get(reverse("admin:notifications_outboxmessage_changelist")).content.decode()
    assert 'id="dashboard-link"' in other


def test_no_dashboard_link_for_staff_without_the_row_permission(client):
    staff_client(client, "notifications.view_outboxmessage")

    html = client.get(reverse("admin:index")).content.decode()

    assert PAGE not in html


# -- the page ------------------------------------------------------------------------


def test_rows_by_status_table_and_chart(admin_client, shop):
    html = admin_client.get(PAGE).content.decode()

    assert Tables(html).tables["table-status"][1:] == [
        ["Allocated", "1", "2"],
        ["Backordered", "3", "9"],
        ["Pre-ordered", "1", "2"],
        ["Shipped", "1", "1"],
        ["Cancelled", "1", "1"],
    ]
    assert chart_bars(html, "chart-order-rows-by-status") == {
        "Allocated": 1,
        "Backordered": 3,
        "Pre-ordered": 1,
        "Shipped": 1,
        "Cancelled": 1,
    }
    assert '<svg class="chart" id="chart-order-rows-by-status" role="img"' in html
    assert '<title id="chart-order-rows-by-status-title">Order rows by status</title>' in html


def test_waiting_rows_by_age_table_and_chart(admin_client, shop):
    html = admin_client.get(PAGE).content.decode()

    assert Tables(html).tables["table-aging"][1:] == [
        ["0–6 days", "1", "3", "3", "0"],
        ["7–29 days", "1", "4", "4", "0"],
        ["30–89 days", "1", "2", "0", "2"],
        ["90+ days", "1", "2", "2", "0"],
    ]
    assert chart_bars(html, "chart-waiting-rows-by-age") == {
        "0–6 days": 1,
        "7–29 days": 1,
        "30–89 days": 1,
        "90+ days": 1,
    }


def test_key_figures(admin_client, shop):
    html = admin_client.get(PAGE).content.decode()

    figures = " ".join(re.search(r'<ul class="rd-figures".*?</ul>', html, re.S).group(0).split())
    assert "<strong>11</strong> units waiting in 4 rows" in figures
    assert "<strong>2</strong> promises at risk" in figures
    assert "<strong>5</strong> products low on stock" in figures
    assert "<strong>3</strong> failed emails" in figures


def test_demand_per_product_most_units_first_with_inbound_supply(admin_client, shop):
    html = admin_client.get(PAGE).content.decode()

    rows = Tables(html).tables["table-demand"]
    assert rows[0][-2:] == ["Open inbound", "Next expected"]
    assert rows[1:] == [
        ["Oak Chair (CHAIR)", "2", "6", "6", "0", "200", iso(30), "0", "—"],
        ["Desk Lamp (LAMP)", "1", "3", "3", "0", "3", iso(-2), "14", iso(5)],
        ["Vinyl Record (REC)", "1", "2", "0", "2", "60", iso(5), "5", iso(20)],
    ]


def test_demand_shows_the_top_n_and_says_so(admin_client, shop):
    html = admin_client.get(PAGE, {"top": 2}).content.decode()

    assert [r[0] for r in Tables(html).tables["table-demand"][1:]] == [
        "Oak Chair (CHAIR)",
        "Desk Lamp (LAMP)",
    ]
    assert "Showing the top 2 of 3 products by waiting units" in html


def test_low_stock_uses_each_products_effective_threshold_over_active_sources(admin_client, shop):
    html = admin_client.get(PAGE).content.decode()

    assert Tables(html).tables["table-low-stock"][1:] == [
        ["Oak Chair (CHAIR)", "0", "2 (global)", "6"],
        ["Desk Lamp (LAMP)", "0", "2 (global)", "3"],
        ["Vinyl Record (REC)", "0", "2 (global)", "2"],
        ["Pen (PEN)", "2", "2 (global)", "0"],
        ["Vase (VASE)", "4", "5", "0"],
    ]


def test_low_stock_in_sql_resolves_each_products_threshold(shop):
    table = dashboard.low_stock_products(limit=None)

    # The fixture's numbers: free over active sources against the threshold in force (the
    # global 2, or the vase's own 5); the mug (9 free) and the inactive product are not listed.
    assert [(p["sku"], p["free"], p["threshold"], p["threshold_from"]) for p in table.rows] == [
        ("CHAIR", 0, 2, "global"),
        ("LAMP", 0, 2, "global"),
        ("REC", 0, 2, "global"),
        ("PEN", 2, 2, "global"),
        ("VASE", 4, 5, "product"),
    ]
    assert table.total == 5
    top = dashboard.low_stock_products(limit=2)
    assert ([p["sku"] for p in top.rows], top.total) == (["CHAIR", "LAMP"], 5)


def test_promises_at_risk_count_and_table(admin_client, shop):
    html = admin_client.get(PAGE).content.decode()

    summary = " ".join(
        re.search(r'<p class="rd-note" id="risk-summary">(.*?)</p>', html, re.S).group(1).split()
    )
    assert summary == (
        "<strong>2</strong> waiting rows (7 units): 1 past their promise date, "
        "1 due within 7 days with no open inbound supply."
    )
    rows = Tables(html).tables["table-risk"][1:]
    assert [r[1:] for r in rows] == [
        [
            "Desk Lamp (LAMP)",
            "Backordered",
            "3",
            iso(-3),
            iso(-2),
            "2",
            "promise date passed",
        ],
        ["Oak Chair (CHAIR)", "Backordered", "4", iso(-20), iso(3), "-3", "due soon, no inbound supply"],
    ]


def test_the_promise_horizon_comes_from_the_query_string(admin_client, shop):
    response = admin_client.get(PAGE, {"days": 40})

    assert response.context["risk"]["rows"] == 3
    assert response.context["risk"]["due_units"] == 6
    assert [r["sku"] for r in response.context["risk_rows"]] == ["LAMP", "CHAIR", "CHAIR"]
    # Nonsense is ignored, extremes are bounded.
    assert admin_client.get(PAGE, {"days": "soon", "top": "-4"}).context["options"].days == 7
    assert admin_client.get(PAGE, {"top": "-4"}).context["options"].top == 1


def test_outbox_health(admin_client, shop):
    html = admin_client.get(PAGE).content.decode()

    rows = Tables(html).tables["table-outbox"]
    assert rows[:3] == [["Pending", "2"], ["Sending", "1"], ["Failed", "3"]]
    assert rows[3][0] == "Oldest pending" and rows[3][1].startswith("3 hours")


def test_an_empty_shop_renders(admin_client):
    response = admin_client.get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Nothing is waiting." in html and "No promise is at risk." in html
    assert chart_bars(html, "chart-waiting-rows-by-age") == {
        "0–6 days": 0,
        "7–29 days": 0,
        "30–89 days": 0,
        "90+ days": 0,
    }


# -- CSV -----------------------------------------------------------------------------


def test_statuses_csv(admin_client, shop):
    assert read_csv(admin_client.get(csv_url("statuses"))) == [
        ["Status", "Label", "Rows", "Units"],
        ["allocated", "Allocated", "1", "2"],
        ["backordered", "Backordered", "3", "9"],
        ["preordered", "Pre-ordered", "1", "2"],
        ["shipped", "Shipped", "1", "1"],
        ["cancelled", "Cancelled", "1", "1"],
    ]


def test_aging_csv(admin_client, shop):
    assert read_csv(admin_client.get(csv_url("aging")))[1:] == [
        ["0–6 days", "1", "3", "3", "0"],
        ["7–29 days", "1", "4", "4", "0"],
        ["30–89 days", "1", "2", "0", "2"],
        ["90+ days", "1", "2", "2", "0"],
    ]


def test_demand_csv_has_every_product(admin_client, shop):
    rows = read_csv(admin_client.get(csv_url("demand"), {"top": 1}))

    assert rows[0][-2:] == ["Open inbound units", "Next expected date"]
    assert [[r[1], *r[3:7], r[8], r[9], r[10], r[11]] for r in rows[1:]] == [
        ["CHAIR", "2", "6", "6", "0", "200", iso(30), "0", ""],
        ["LAMP", "1", "3", "3", "0", "3", iso(-2), "14", iso(5)],
        ["REC", "1", "2", "0", "2", "60", iso(5), "5", iso(20)],
    ]
    assert dt.datetime.fromisoformat(rows[1][7]) < timezone.now() - dt.timedelta(days=199)


def test_low_stock_csv(admin_client, shop):
    assert read_csv(admin_client.get(csv_url("low-stock")))[1:] == [
        [str(shop.chair.pk), "CHAIR", "Oak Chair", "0", "2", "global", "6"],
        [str(shop.lamp.pk), "LAMP", "Desk Lamp", "0", "2", "global", "3"],
        [str(shop.record.pk), "REC", "Vinyl Record", "0", "2", "global", "2"],
        [str(shop.pen.pk), "PEN", "Pen", "2", "2", "global", "0"],
        [str(shop.vase.pk), "VASE", "Vase", "4", "5", "product", "0"],
    ]


def test_at_risk_csv_follows_the_horizon(admin_client, shop):
    rows = read_csv(admin_client.get(csv_url("at-risk")))
    assert rows[0][0] == "Order"
    assert [(r[3], r[6], r[8], r[9], r[10]) for r in rows[1:]] == [
        ("LAMP", "3", iso(-2), "2", "promise date passed"),
        ("CHAIR", "4", iso(3), "-3", "due soon, no inbound supply"),
    ]

    wider = read_csv(admin_client.get(csv_url("at-risk"), {"days": 40}))
    assert [(r[3], r[8]) for r in wider[1:]] == [("LAMP", iso(-2)), ("CHAIR", iso(3)), ("CHAIR", iso(30))]


def test_outbox_csv(admin_client, shop):
    header, row = read_csv(admin_client.get(csv_url("outbox")))

    assert header[:3] == ["Pending", "Sending", "Failed"]
    assert row[:3] == ["2", "1", "3"]
    assert 3 * 3600 <= int(row[4]) < 3 * 3600 + 600


def test_csv_cells_that_a_spreadsheet_would_run_are_defused(admin_client):
    product = ProductFactory(sku="EVIL", name='=HYPERLINK("http://x")', backorderable=True)
    place((product, 1))

    rows = read_csv(admin_client.get(csv_url("demand")))

    assert rows[1][2] == '\'=HYPERLINK("http://x")'


def test_unknown_table_is_404(admin_client):
    assert admin_client.get(csv_url("passwords")).status_code == 404


# -- who may see what ----------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login(client):
    for url in (PAGE, csv_url("statuses")):
        response = client.get(url)

        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_the_row_permission_get_403(client):
    staff_client(client, "inventory.view_stock", "notifications.view_outboxmessage")

    assert client.get(PAGE).status_code == 403
    for table in ("statuses", "low-stock", "outbox"):
        assert client.get(csv_url(table)).status_code == 403


def test_customers_who_are_not_staff_are_sent_to_the_login(client):
    user = get_user_model().objects.create_user("customer", password="pw")
    client.force_login(user)

    assert client.get(PAGE).status_code == 302


def test_sections_follow_their_model_permissions(client, shop):
    staff_client(client, "orders.view_orderrow")

    response = client.get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="dash-status"' in html and 'id="dash-risk"' in html and 'id="dash-demand"' in html
    assert 'id="dash-low-stock"' not in html and "low on stock" not in html
    assert 'id="dash-outbox"' not in html and "failed email" not in html
    assert "Open inbound" not in html
    assert client.get(csv_url("low-stock")).status_code == 403
    assert client.get(csv_url("outbox")).status_code == 403
    assert "Open inbound units" not in read_csv(client.get(csv_url("demand")))[0]


def test_each_permission_opens_its_section(client, shop):
    staff_client(
        client,
        "orders.view_orderrow",
        "inventory.view_stock",
        "inventory.view_inboundsupply",
        "notifications.view_outboxmessage",
    )

    html = client.get(PAGE).content.decode()

    assert 'id="dash-low-stock"' in html and 'id="dash-outbox"' in html and "Open inbound" in html
    assert read_csv(client.get(csv_url("low-stock")))[1][1] == "CHAIR"
    assert read_csv(client.get(csv_url("outbox")))[1][:3] == ["2", "1", "3"]


# -- queries -------------------------------------------------------------------------


def _orders(count: int) -> None:
    source = SourceFactory(code="qmain")
    products = [ProductFactory(backorderable=True) for _ in range(3)]
    receive(products[0], 2, source)
    for i in range(count):
        place((products[i % 3], 1 + i % 2))
    OrderRow.objects.filter(status=RowStatus.BACKORDERED).update(promise_date=timezone.localdate())
    InboundSupply.objects.create(
        product=products[1], source=source, quantity=5, expected_date=timezone.localdate(), reference="PO-1"
    )


@pytest.mark.parametrize("count", [5, 50])
def test_the_page_runs_the_same_queries_for_5_or_50_orders(admin_client, django_assert_num_queries, count):
    # session + user, then statuses (the job's snapshot), ages, demand (+ names, + inbound),
    # at-risk summary and rows, low stock, outbox, money (waiting: the job's snapshot,
    # captured/refunded, expiring).
    _orders(count)
    refresh_row_status_summary()  # beat's jobs
    refresh_money_waiting_summary()
    with django_assert_num_queries(14):
        response = admin_client.get(PAGE)
    assert response.status_code == 200
    assert sum(s["rows"] for s in response.context["statuses"]) >= count


def money_waiting_shown(html: str) -> tuple[str, str | None]:
    """The money-waiting figure and its "As of" note (None when there is none)."""
    found = re.search(r'<li id="money-waiting"><strong>([^<]*)</strong>(.*?)</li>', html, re.S)
    assert found, "no money-waiting"
    note = re.search(r'<span class="help" id="money-as-of">([^<]*)</span>', found.group(2))
    return found.group(1), note.group(1) if note else None


def test_money_waiting_comes_from_the_jobs_snapshot_and_says_as_of_when(admin_client):
    lamp = ProductFactory(backorderable=True, price="19.90")  # EUR, tax included (the defaults)
    place((lamp, 1))
    # No snapshot yet (beat not running, as in the demo): valued now, no "as of".
    assert money_waiting_shown(admin_client.get(PAGE).content.decode()) == ("€19.90", None)

    refresh_money_waiting_summary()  # beat's job
    place((lamp, 2))  # after the snapshot: shown when the job runs again
    as_of = MoneyWaitingSummary.objects.get().computed_at
    when = date_format(timezone.localtime(as_of), "DATETIME_FORMAT")
    assert money_waiting_shown(admin_client.get(PAGE).content.decode()) == (
        "€19.90",
        f"As of {when}: valued every few minutes by the job refresh_money_waiting_summary.",
    )


def _more_orders(count: int) -> None:
    """More orders, each for a new product: more rows and more products in every table."""
    for _ in range(count):
        place((ProductFactory(backorderable=True), 2))


@pytest.mark.parametrize("table", ["statuses", "aging", "demand", "at-risk", "low-stock", "outbox"])
def test_each_csv_runs_a_constant_number_of_queries(admin_client, table):
    _orders(5)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(csv_url(table)).status_code == 200
    _more_orders(45)
    with CaptureQueriesContext(connection) as many:
        assert admin_client.get(csv_url(table)).status_code == 200

    assert len(few) == len(many) <= 2 + 3  # session + user, then at most three queries


# -- selectors and the chart helper ---------------------------------------------------


def test_age_buckets_are_whole_days_waited(shop):
    now = timezone.now()
    rows = list(OrderRow.objects.filter(status__in=[RowStatus.BACKORDERED, RowStatus.PREORDERED]))
    ages = [dt.timedelta(days=6, hours=23), dt.timedelta(days=7, minutes=1), dt.timedelta(days=89, hours=23)]
    ages.append(dt.timedelta(days=90, minutes=1))
    for row, age in zip(rows, ages, strict=True):
        OrderRow.objects.filter(pk=row.pk).update(queue_at=now - age)

    found = {b["key"]: b["rows"] for b in dashboard.waiting_by_age(now=now)}

    assert found == {"0-6": 1, "7-29": 1, "30-89": 1, "90+": 1}


def test_the_age_buckets_take_one_query(shop, django_assert_num_queries):
    with django_assert_num_queries(1):
        dashboard.waiting_by_age()


def test_bar_chart_is_accessible_svg_with_escaped_labels():
    svg = bar_chart(title="Rows <by> status", bars=[Bar("<b>A</b>", 4, tone="x"), ("B & C", 0)], unit="rows")

    assert svg.startswith('<svg class="chart" id="chart-rows-by-status" role="img"')
    assert 'aria-labelledby="chart-rows-by-status-title chart-rows-by-status-desc"' in svg
    assert '<title id="chart-rows-by-status-title">Rows &lt;by&gt; status</title>' in svg
    assert (
        '<desc id="chart-rows-by-status-desc">&lt;b&gt;A&lt;/b&gt;: 4 rows; B &amp; C: 0 rows</desc>' in svg
    )
    assert "<b>" not in svg
    assert 'class="bar tone-x" data-label="&lt;b&gt;A&lt;/b&gt;" data-value="4"' in svg
    assert 'data-label="B &amp; C" data-value="0"' in svg
    # The longest bar fills the track; a zero bar has no length.
    widths = re.findall(r'<rect x="\d+" y="[\d.]+" width="([\d.]+)"', svg)
    assert [float(w) for w in widths] == [440 - 130 - 64, 0]


def test_bar_chart_without_data():
    svg = bar_chart(title="Nothing", bars=[])

    assert '<desc id="chart-nothing-desc">No data.</desc>' in svg and "<g " not in svg
