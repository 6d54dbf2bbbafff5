"""Product search at 10,000 products: the storefront's listing pages with a search, the
availability filter and the sorts, PostgreSQL full-text search (GIN index) beside the
"contains" search as baseline, side by side in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/restock_bench \\
        .venv/bin/python bench/search.py [--products 10000] [--repeat 5] [--reuse] [--explain]

The data: ``--products`` products named from a small vocabulary (so a common word matches
a few hundred of them, a rare pair a handful) with two-sentence descriptions, a two-level
category tree (4 x 3), two sources, stock for 60 % of them (a few with little), 20 %
allowing backorders, 5 % on pre-order, and waiting order rows for 300 products.

Each page is the full request through Django's test client (view, selectors, template),
the median of ``--repeat`` timed requests after one untimed one. "contains" is the same
page with the search swapped for catalog.search.match_contains (what SQLite runs: every word
``icontains`` in the name or the description), so the two columns differ only by the match.
Same safety rules as the other benchmarks (bench/common.py): the database name must
contain "bench" (its tables are truncated), no broker and no mail server are reached.
Target (issue 14): every search page under 200 ms with full-text search on PostgreSQL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a file: the repository root

from bench.common import (  # noqa: E402
    analyze,
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

TARGET_MS = 200
ADJECTIVES = [
    "brushed",
    "copper",
    "walnut",
    "linen",
    "enamel",
    "speckled",
    "matte",
    "cedar",
    "merino",
    "waxed",
    "ceramic",
    "oak",
]
NOUNS = [
    "kettle",
    "mug",
    "grinder",
    "planter",
    "candle",
    "notebook",
    "desk",
    "lamp",
    "tent",
    "scarf",
    "socks",
    "strap",
    "lens",
    "poster",
    "board",
    "knife",
    "tray",
    "stool",
    "vase",
    "jar",
    "blanket",
    "basket",
    "bottle",
    "bowl",
    "chair",
    "clock",
    "cushion",
    "frame",
    "glass",
    "hook",
    "jug",
    "ladle",
    "mat",
    "mirror",
    "pan",
    "pot",
    "rack",
    "rug",
    "shelf",
    "spoon",
]
FILLER = [
    "Made in small batches by people who care",
    "Ships in recycled packaging",
    "Built to last for years of daily use",
    "Pairs well with the rest of the range",
    "Easy to clean by hand.",
]


def build(*, products: int) -> None:
    """Products, categories, stock and waiting rows, set-based (bulk_create)."""
    from decimal import Decimal

    from django.utils import timezone

    from catalog.models import Backorders, Category, Product
    from inventory.models import Source, Stock
    from orders.models import Order, OrderRow, RowStatus

    rng = random.Random(14)  # the same shop every run
    today = timezone.localdate()
    tops = [Category.objects.create(name=f"Department {t}", slug=f"dept-{t}", position=t) for t in range(4)]
    leaves = [
        Category.objects.create(name=f"Shelf {t}.{c}", slug=f"shelf-{t}-{c}", parent=top, position=c)
        for t, top in enumerate(tops)
        for c in range(3)
    ]
    rows = []
    for i in range(products):
        adjective, noun, other = rng.choice(ADJECTIVES), rng.choice(NOUNS), rng.choice(NOUNS)
        kind = rng.random()
        rows.append(
            Product(
                sku=f"BENCH-{i:06d}",
                slug=f"bench-{i:06d}",
                name=f"{adjective.title()} {noun} no. {i}",
                price=Decimal(rng.randrange(300, 30000)) / 100,
                description=f"A {adjective} {noun} that goes with any {other}. {rng.choice(FILLER)}.",
                category=rng.choice(leaves),
                use_global_backorders=not (0.6 <= kind < 0.8),
                backorders=Backorders.ALLOW if 0.6 <= kind < 0.8 else Backorders.NO,
                preorder_enabled=kind >= 0.95,
                release_date=today + dt.timedelta(days=30) if kind >= 0.95 else None,
                expected_restock_date=today + dt.timedelta(days=rng.randrange(3, 40)),
            )
        )
    Product.objects.bulk_create(rows, batch_size=2000)
    main = Source.objects.create(code="main", name="Main", priority=1)
    overflow = Source.objects.create(code="overflow", name="Overflow", priority=2)
    stocked = [p for p in Product.objects.order_by("pk") if rng.random() < 0.6]
    Stock.objects.bulk_create(
        [
            Stock(source=rng.choice((main, overflow)), product=p, on_hand=rng.choice((1, 2, 5, 20, 80)))
            for p in stocked
        ],
        batch_size=2000,
    )
    waiting = Product.objects.filter(use_global_backorders=False).order_by("pk")[:300]
    order = Order.objects.create(
        number="BENCH-1", email="bench@example.com", full_name="Bench", address="1 Way"
    )
    now = timezone.now()
    OrderRow.objects.bulk_create(
        [
            OrderRow(
                order=order,
                product=p,
                quantity=2,
                unit_price=p.price,
                status=RowStatus.BACKORDERED,
                queue_at=now,
                line_no=n,
            )
            for n, p in enumerate(waiting, start=1)
        ]
    )


def built(*, products: int) -> bool:
    from catalog.models import Product

    return Product.objects.filter(sku__startswith="BENCH-").count() == products


def pages() -> list[tuple[str, dict, str]]:
    """(label, query string, path) of each page measured."""
    return [
        ("common word (kettle)", {"q": "kettle"}, "/"),
        ("two words (walnut desk)", {"q": "walnut desk"}, "/"),
        ("word, sorted by price", {"q": "lamp", "sort": "price"}, "/"),
        ("word, in stock now", {"q": "kettle", "availability": "in_stock"}, "/"),
        (
            "word, orderable, by ships-by",
            {"q": "kettle", "availability": "orderable", "sort": "ships_by"},
            "/",
        ),
        ("word, page 5", {"q": "kettle", "page": "5"}, "/"),
        ("no match (zeppelin)", {"q": "zeppelin"}, "/"),
        ("category + word", {"q": "mug"}, "/category/dept-1/"),
        ("whole shop, in stock now", {"availability": "in_stock"}, "/"),
        ("whole shop, by ships-by", {"sort": "ships_by"}, "/"),
    ]


@contextmanager
def contains_search():
    """The storefront's search swapped for the "contains" match (the baseline)."""
    from catalog import search

    def matching(queryset, *, text):
        text = " ".join(text.split())[: search.MAX_QUERY_LENGTH]
        return (
            search.match_contains(queryset, text=text)
            if text
            else search.products_matching(queryset, text="")
        )

    with mock.patch("storefront.views.catalogue.products_matching", matching):
        yield


def measure(client, path: str, params: dict, *, repeat: int) -> tuple[float, int, int, int]:
    """Median milliseconds, statements, products found and the page's size."""
    ms, queries, response = time_request(
        lambda: client.get(path, params), repeat=repeat, label=f"{path} {params}"
    )
    # The page says how many a search found ("N products found for …"); a listing without one: -1.
    said = re.search(r"(\d[\d,]*) products? found", response.content.decode())
    found = int(said.group(1).replace(",", "")) if said else -1
    return ms, queries, found, len(response.content)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=positive, default=10_000, help="products (default 10,000)")
    parser.add_argument("--repeat", type=positive, default=5, help="timed requests per page (median)")
    parser.add_argument("--reuse", action="store_true", help="keep data already built with this size")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest statements")
    parser.add_argument("--only", help="measure only the pages whose label contains this text")
    args = parser.parse_args(argv)
    start_pages(postgres_only="Full-text search is PostgreSQL's: run this on PostgreSQL.")
    from django.test import Client

    if not (args.reuse and built(products=args.products)):
        wipe()
        started = time.perf_counter()
        with setup_quiet():
            build(products=args.products)
        analyze(("catalog_product", "catalog_category", "inventory_stock", "orders_orderrow"))
        print(f"built {args.products:,} products in {time.perf_counter() - started:.1f} s")
    chosen = [p for p in pages() if not args.only or args.only in p[0]]
    if args.explain:
        for _, params, path in chosen:
            explain_request(
                lambda path=path, params=params: Client().get(path, params), label=f"{path} {params}"
            )
        return 0
    client = Client()
    figures: dict[str, dict] = {}
    with contains_search():
        for label, params, path in chosen:
            figures[label] = {"contains": measure(client, path, params, repeat=args.repeat)}
    for label, params, path in chosen:
        figures[label]["full text"] = measure(client, path, params, repeat=args.repeat)
    lines = []
    for label, params, _ in chosen:
        (c_ms, c_q, c_n, _c), (f_ms, f_q, f_n, f_size) = (
            figures[label]["contains"],
            figures[label]["full text"],
        )
        searched = "q" in params
        lines.append(
            (
                label,
                f"{c_ms:,.0f}",
                f"{f_ms:,.0f}",
                f"{c_ms / f_ms:,.1f}x",
                f"{c_n:,} / {f_n:,}" if searched else "-",
                f"{c_q} / {f_q}",
                f"{f_size // 1024:,}",
                ("yes" if f_ms < TARGET_MS else "NO") if searched else "-",
            )
        )
    print()
    header = (
        "page",
        "contains ms",
        "full text ms",
        "speed-up",
        "found c/f",
        "queries c/f",
        "KB",
        f"< {TARGET_MS} ms",
    )
    print(format_table(header, lines))
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
