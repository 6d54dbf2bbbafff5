"""The merchant admin at a million order rows: the order and order-row changelists (first,
middle and last page, searches, filters), the dashboard and a product's pages, before and
after the indexes and changelist settings of issue 12, side by side in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/restock_bench \\
        .venv/bin/python bench/admin_scale.py [--rows 1000000] [--repeat 3] [--reuse] [--explain]

The data is built with set-based SQL (``INSERT … SELECT generate_series``), PostgreSQL only:
5,000 products, two sources, an order per three rows (customers with ~7 orders each), each
order's fate by its number (85 % shipped, 5 % cancelled, 3 % allocated, 6 % backordered, 1 %
pre-ordered), a shipment per shipped order, totals per order, and one "hot" product whose
queue holds ``--hot`` waiting rows (the first line of the newest backordered orders, so at most
2 % of the rows: 20,000 at a million), beside a product with a short queue.
``--reuse`` keeps data already built with the same sizes.

"before" is measured first, inside a transaction that is rolled back: the indexes this
change added are dropped and the two changelists get back their former settings (ordering,
search over ``icontains``, the product filter listing every product with rows, the full
result count). "after" is the code as it is. Each figure is the median of ``--repeat`` timed
requests through Django's test client (signed in as a superuser), after one untimed request.
Same safety rules as the other benchmarks (bench/common.py): the database name must contain
"bench" (tables are truncated), no broker and no mail server are reached.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file: the repository root

from bench.common import (  # noqa: E402
    explain_request,
    format_table,
    load_average,
    positive,
    run_main,
    setup_quiet,
    start_pages,
    time_request,
    wipe,
)

PRODUCTS = 5_000
ROWS_PER_ORDER = 3
CUSTOMERS_SHARE = 7  # orders per customer email, on average
HOT_SKU = "HOT-LAUNCH"
COLD_SKU = "SKU-00042"
# The indexes issue 12's admin work added (orders 0007): dropped for "before".
NEW_INDEXES = (
    "row_admin_queue",
    "row_waiting_units",
    "order_number_upper",
    "order_email_upper",
    "order_newest_first",
)
# Their secondary indexes are dropped while the big tables fill, and built again after.
BULK_TABLES = ("orders_order", "orders_orderrow", "orders_shipment", "billing_ordertotals")
TARGET_MS = 300


# -- data ------------------------------------------------------------------------------


def build(*, rows: int, hot: int) -> None:
    """Products, sources, orders, rows, shipments and totals, each one INSERT … SELECT."""
    from django.db import connection, transaction

    from catalog.models import GlobalSettings

    orders = rows // ROWS_PER_ORDER
    with setup_quiet():
        GlobalSettings.get_solo()
    steps = [
        (
            "sources",
            """INSERT INTO inventory_source (code, name, priority, is_active)
               VALUES ('main', 'Main warehouse', 1, true), ('overflow', 'Overflow', 2, true)""",
        ),
        (
            "products",
            f"""INSERT INTO catalog_product (sku, name, slug, price, description, is_active,
                 backorders, backorder_limit, max_backorder_per_order, safety_stock, low_stock_threshold,
                 lead_time_days, partial_allocation, use_global_backorders, use_global_backorder_limit,
                 use_global_max_backorder_per_order, use_global_safety_stock,
                 use_global_low_stock_threshold, use_global_lead_time_days, use_global_partial_allocation,
                 preorder_enabled, release_date, preorder_limit, backorder_label, backorder_note,
                 preorder_label, preorder_note, expected_restock_date, created_at, updated_at)
               SELECT CASE WHEN i = 1 THEN '{HOT_SKU}' ELSE 'SKU-' || lpad(i::text, 5, '0') END,
                      'Product ' || i, 'product-' || i, 5 + (i % 50), '', true,
                      'allow', NULL, NULL, 0, 1, 14, 'split', false, true, true, true, true, true, true,
                      false, NULL, NULL, '', '', '', '', NULL, now(), now()
               FROM generate_series(1, {PRODUCTS}) AS i""",
        ),
        (
            "stock",
            """INSERT INTO inventory_stock (source_id, product_id, on_hand, allocated)
               SELECT s.id, p.id, 1000000, 0 FROM inventory_source s CROSS JOIN catalog_product p""",
        ),
        (
            "orders",
            f"""INSERT INTO orders_order (number, email, full_name, address, language, placed_at)
               SELECT 'R-B' || lpad(i::text, 7, '0'),
                      'customer' || (i % {max(orders // CUSTOMERS_SHARE, 1)}) || '@bench.example',
                      'Customer ' || i, '1 Bench Street', 'en',
                      now() - make_interval(secs => ({orders} - i) * 90.0)
               FROM generate_series(1, {orders}) AS i""",
        ),
        (
            "shipments",
            """INSERT INTO orders_shipment (order_id, source_id, shipped_at, carrier, tracking_number)
               SELECT o.id, (SELECT min(id) FROM inventory_source), o.placed_at + interval '2 days', '', ''
               FROM orders_order o WHERE o.id % 100 < 85""",
        ),
        # Rows: three lines per order; the order's fate (id % 100) sets their status. The
        # hot product's rows are the waiting lines of the newest waiting orders.
        (
            "rows",
            f"""INSERT INTO orders_orderrow (order_id, product_id, status, quantity, source_id,
                 unit_price, queue_tier, queue_at, line_no, split_from_id, shipment_id, promise_date,
                 created_at, updated_at)
               SELECT o.id, o.product_id, o.status, 1 + (o.id + o.line) % 3,
                      CASE WHEN o.status IN ('allocated', 'shipped') THEN src.id END,
                      5 + (o.product_id % 50), 0, o.placed_at, o.line,
                      NULL, CASE WHEN o.status = 'shipped' THEN sh.id END,
                      CASE WHEN o.status IN ('backordered', 'preordered')
                           THEN (o.placed_at + make_interval(days => (14 + o.id % 21)::int))::date END,
                      o.placed_at, o.placed_at
               FROM (
                 SELECT ord.id, ord.placed_at, line,
                        CASE WHEN ord.id % 100 < 85 THEN 'shipped'
                             WHEN ord.id % 100 < 90 THEN 'cancelled'
                             WHEN ord.id % 100 < 93 THEN 'allocated'
                             WHEN ord.id % 100 < 99 THEN 'backordered'
                             ELSE 'preordered' END AS status,
                        CASE WHEN ord.id % 100 BETWEEN 93 AND 98 AND line = 1
                                  AND ord.id > {orders} - {hot} * 100 / 6 THEN 1
                             ELSE 2 + (ord.id * 7 + line * 131) % ({PRODUCTS} - 1) END AS product_id
                 FROM orders_order ord CROSS JOIN generate_series(1, {ROWS_PER_ORDER}) AS line
               ) o
               CROSS JOIN (SELECT min(id) AS id FROM inventory_source) src
               LEFT JOIN orders_shipment sh ON sh.order_id = o.id""",
        ),
        (
            "allocated stock",
            """UPDATE inventory_stock s SET allocated = a.units
               FROM (SELECT source_id, product_id, sum(quantity) AS units FROM orders_orderrow
                     WHERE status = 'allocated' GROUP BY 1, 2) a
               WHERE s.source_id = a.source_id AND s.product_id = a.product_id""",
        ),
        (
            "totals",
            """INSERT INTO billing_ordertotals (order_id, currency, subtotal, shipping, shipping_tax, tax,
                 total, tax_rate, prices_include_tax, settlement, pay_by)
               SELECT id, 'EUR', 30, 4.90, 0.82, 5.82, 34.90, 0.2000, true, 'per_shipment',
                      placed_at + interval '30 minutes'
               FROM orders_order""",
        ),
    ]
    # One transaction (PostgreSQL's DDL is transactional): a failed build leaves no index dropped.
    with transaction.atomic(), connection.cursor() as cursor:
        # As a bulk load does: foreign keys unchecked (the data is built consistent) and the
        # secondary indexes built once at the end instead of row by row.
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint)",
            [list(BULK_TABLES)],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SET LOCAL session_replication_role = replica")  # until the commit
        for label, sql in steps:
            started = time.perf_counter()
            cursor.execute(sql)
            print(f"  built {label:<16} {cursor.rowcount:>10,} rows  {time.perf_counter() - started:6.2f} s")
        started = time.perf_counter()
        for _, definition in indexes:
            cursor.execute(definition)
        print(f"  built {len(indexes)} indexes{'':>17}{time.perf_counter() - started:6.2f} s")
    with connection.cursor() as cursor:
        # What autovacuum does to a live table: statistics, and the visibility map that lets
        # index-only scans skip the table.
        started = time.perf_counter()
        for table in (*BULK_TABLES, "catalog_product", "inventory_stock"):
            cursor.execute(f'VACUUM ANALYZE "{table}"')
        print(f"  vacuum analyze{'':>22}{time.perf_counter() - started:6.2f} s")


def built(*, rows: int) -> bool:
    from orders.models import OrderRow

    return OrderRow.objects.count() == rows // ROWS_PER_ORDER * ROWS_PER_ORDER


# -- before: former indexes and settings ----------------------------------------------


@contextmanager
def before_change():
    """The former admin (settings put back on the registered instances) without the new
    indexes, inside a transaction rolled back at the end."""
    from django.contrib import admin
    from django.core.paginator import Paginator
    from django.db import connection, transaction

    from billing.models import MoneyWaitingSummary
    from orders.models import Order, OrderRow, RowStatusSummary

    former = {
        admin.site._registry[OrderRow]: {
            "list_filter": ("status", "waited", ("product", admin.RelatedOnlyFieldListFilter), "source"),
            "search_fields": ("order__number", "order__email", "product__sku"),
            "ordering": ("queue_at", "order_id", "line_no", "pk"),
            "paginator": Paginator,
            "show_full_result_count": True,
            "get_search_results": None,
        },
        admin.site._registry[Order]: {
            "search_fields": ("number", "email", "full_name", "rows__product__sku"),
            "paginator": Paginator,
            "show_full_result_count": True,
            "date_hierarchy": "placed_at",
            "get_search_results": None,
        },
    }
    from orders.admin.orders import WaitedFilter

    for model_admin, attrs in former.items():
        if "waited" in attrs.get("list_filter", ()):
            attrs["list_filter"] = tuple(WaitedFilter if f == "waited" else f for f in attrs["list_filter"])
        for name, value in attrs.items():
            if name == "get_search_results":  # Django's own, over icontains
                value = admin.ModelAdmin.get_search_results.__get__(model_admin)
            setattr(model_admin, name, value)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                for name in NEW_INDEXES:
                    cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
            RowStatusSummary.objects.all().delete()  # rows were counted on each page
            MoneyWaitingSummary.objects.all().delete()  # and money waiting valued
            yield
            transaction.set_rollback(True)
    finally:
        for model_admin, attrs in former.items():
            for name in attrs:
                model_admin.__dict__.pop(name, None)


# -- measuring -------------------------------------------------------------------------


def pages(*, rows: int) -> list[tuple[str, str]]:
    from django.urls import reverse

    from catalog.models import Product
    from orders.models import Order

    per_page = 100
    row_pages = -(-(rows // ROWS_PER_ORDER * ROWS_PER_ORDER) // per_page)
    orders = Order.objects.count()
    order_pages = -(-orders // per_page)
    number = Order.objects.order_by("pk").values_list("number", flat=True)[orders // 2]
    email = Order.objects.order_by("pk").values_list("email", flat=True)[orders // 3]
    cold = Product.objects.get(sku=COLD_SKU)
    hot = Product.objects.get(sku=HOT_SKU)
    rows_url = reverse("admin:orders_orderrow_changelist")
    orders_url = reverse("admin:orders_order_changelist")
    return [
        # The cost of any admin page on this machine right now: two rows, no joins.
        ("yardstick: sources list (2 rows)", reverse("admin:inventory_source_changelist")),
        ("rows: page 1", rows_url),
        ("rows: page 500", f"{rows_url}?p=500"),
        (f"rows: last page ({row_pages:,})", f"{rows_url}?p={row_pages}"),
        ("rows: search order number", f"{rows_url}?q={number}"),
        ("rows: search email", f"{rows_url}?q={email}"),
        ("rows: search SKU", f"{rows_url}?q={COLD_SKU}"),
        ("rows: status backordered", f"{rows_url}?status__exact=backordered"),
        ("rows: product filter (hot)", f"{rows_url}?product__id__exact={hot.pk}"),
        ("orders: page 1", orders_url),
        ("orders: page 500", f"{orders_url}?p=500"),
        (f"orders: last page ({order_pages:,})", f"{orders_url}?p={order_pages}"),
        ("orders: search order number", f"{orders_url}?q={number}"),
        ("orders: search email", f"{orders_url}?q={email}"),
        ("orders: search SKU", f"{orders_url}?q={COLD_SKU}"),
        ("orders: has backordered rows", f"{orders_url}?has_backordered=yes"),
        ("dashboard", reverse("admin:dashboard")),
        ("product admin page (short queue)", reverse("admin:catalog_product_change", args=[cold.pk])),
        ("product admin page (hot queue)", reverse("admin:catalog_product_change", args=[hot.pk])),
        ("storefront product (short queue)", cold.get_absolute_url()),
        ("storefront product (hot queue)", hot.get_absolute_url()),
    ]


def measure(client, url: str, *, repeat: int) -> tuple[float, int, int]:
    """Median milliseconds, statements and response size of ``url``."""
    ms, queries, response = time_request(lambda: client.get(url), repeat=repeat, label=url)
    return ms, queries, len(response.content)


def explain(url: str) -> None:
    """EXPLAIN ANALYZE of the slowest statements behind ``url``."""
    from django.test import Client

    client = Client()
    client.force_login(superuser())
    explain_request(lambda: client.get(url), label=url)


def superuser():
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    return user


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=positive, default=1_000_000, help="order rows (default 1,000,000)")
    parser.add_argument(
        "--hot", type=positive, default=20_000, help="waiting rows of the hot product (at most 2%% of --rows)"
    )
    parser.add_argument("--repeat", type=positive, default=3, help="timed requests per page (median)")
    parser.add_argument("--reuse", action="store_true", help="keep data already built with these sizes")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest statements")
    parser.add_argument("--only", help="measure only the pages whose label contains this text")
    parser.add_argument("--allow-sqlite", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    start_pages(postgres_only="This benchmark builds its data with PostgreSQL's generate_series.")
    from django.test import Client

    if not (args.reuse and built(rows=args.rows)):
        wipe()
        started = time.perf_counter()
        build(rows=args.rows, hot=args.hot)
        print(f"built {args.rows:,} order rows in {time.perf_counter() - started:.1f} s")
    client = Client()
    client.force_login(superuser())
    chosen = [(label, url) for label, url in pages(rows=args.rows) if not args.only or args.only in label]
    if args.explain:
        for _, url in chosen:
            explain(url)
        return 0
    figures: dict[str, dict] = {}
    with before_change():
        for label, url in chosen:
            figures[label] = {"before": measure(client, url, repeat=args.repeat)}
    from billing.services import money_waiting_summary_refresh
    from orders.services import row_status_summary_refresh

    for job, refresh in (
        ("refresh_row_status_summary", row_status_summary_refresh),
        ("refresh_money_waiting_summary", money_waiting_summary_refresh),
    ):
        started = time.perf_counter()
        refresh()  # as the beat job does every few minutes
        print(f"{job} (the job): {time.perf_counter() - started:.2f} s")
    for label, url in chosen:
        figures[label]["after"] = measure(client, url, repeat=args.repeat)
    lines = []
    for label, _ in chosen:
        (b_ms, b_q, b_size), (a_ms, a_q, a_size) = figures[label]["before"], figures[label]["after"]
        lines.append(
            (
                label,
                f"{b_ms:,.0f}",
                f"{a_ms:,.0f}",
                f"{b_ms / a_ms:,.1f}x",
                f"{b_q} / {a_q}",
                f"{b_size // 1024:,} / {a_size // 1024:,}",
                "yes" if a_ms < TARGET_MS else "NO",
            )
        )
    print()
    header = ("page", "before ms", "after ms", "speed-up", "queries b/a", "KB b/a", f"< {TARGET_MS} ms")
    print(format_table(header, lines))
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
