"""Reads of orders; availability_for is the one door to the availability rule."""

import datetime as dt
from collections.abc import Iterable

from django.db.models import Count, Exists, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from catalog.availability import Availability, StockFigures, availability
from catalog.models import Product
from catalog.selectors import global_settings_get, product_policy
from inventory.models import Stock, StockMovement
from inventory.selectors import free_stock_by_product, inbound_open_by_product

from .models import WAITING, OrderRow, RowEvent, RowStatus


def waiting_units_by_product(*, product_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Units waiting per product and status (backordered, preordered), one query."""
    rows = (
        OrderRow.objects.filter(product_id__in=list(product_ids), status__in=WAITING)
        .values("product_id", "status")
        .annotate(units=Sum("quantity"))
    )
    found: dict[int, dict[str, int]] = {}
    for row in rows:
        found.setdefault(row["product_id"], {})[row["status"]] = row["units"]
    return found


def availability_for_many(
    *, products: Iterable[Product], today: dt.date | None = None
) -> dict[int, Availability]:
    """Availability of many products in a constant number of queries (four)."""
    products = list(products)
    ids = [p.pk for p in products]
    today = today or timezone.localdate()
    defaults = global_settings_get()
    free = free_stock_by_product(product_ids=ids)
    waiting = waiting_units_by_product(product_ids=ids)
    inbound = inbound_open_by_product(product_ids=ids)
    result = {}
    for product in products:
        units = waiting.get(product.pk, {})
        figures = StockFigures(
            free=free.get(product.pk, 0),
            waiting_backorder=units.get(RowStatus.BACKORDERED, 0),
            waiting_preorder=units.get(RowStatus.PREORDERED, 0),
            inbound=tuple(inbound.get(product.pk, ())),
        )
        result[product.pk] = availability(
            product=product,
            policy=product_policy(product=product, defaults=defaults),
            figures=figures,
            today=today,
        )
    return result


def availability_for(*, product: Product, today: dt.date | None = None) -> Availability:
    return availability_for_many(products=[product], today=today)[product.pk]


def row_counts_by_status() -> list[dict]:
    """Rows and units per status (Marello's "order items by status"), one query."""
    totals = {
        row["status"]: row
        for row in OrderRow.objects.values("status").annotate(rows=Count("pk"), units=Sum("quantity"))
    }
    return [
        {
            "status": status,
            "label": status.label,
            "rows": totals.get(status, {}).get("rows", 0),
            "units": totals.get(status, {}).get("units", 0) or 0,
        }
        for status in RowStatus
    ]


def products_needing_allocation(*, today: dt.date | None = None) -> list[int]:
    """Products where free stock and waiting rows coexist (the sweep's work list), one query."""
    today = today or timezone.localdate()
    waiting = OrderRow.objects.filter(product=OuterRef("pk")).filter(
        Q(status=RowStatus.BACKORDERED) | Q(status=RowStatus.PREORDERED, product__release_date__lte=today)
    )
    return list(
        Product.objects.annotate(free=Stock.objects.free_of(OuterRef("pk")))
        .filter(Exists(waiting), free__gt=0)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def products_with_waiting_rows() -> list[int]:
    return list(
        OrderRow.objects.filter(status__in=WAITING)
        .values_list("product_id", flat=True)
        .distinct()
        .order_by("product_id")
    )


NEVER = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def stock_freed_at() -> Greatest:
    """When stock last became free for a product (an annotation on products): the
    latest unit in through the ledger (receipt, return, upward correction) or the latest
    allocated row given up (cancelled, or sent back to the queue). NEVER if neither."""
    arrived = (
        StockMovement.objects.filter(product=OuterRef("pk"), quantity__gt=0)
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    released = (
        RowEvent.objects.filter(
            row__product=OuterRef("pk"),
            from_status=RowStatus.ALLOCATED,
            to_status__in=[RowStatus.CANCELLED, RowStatus.BACKORDERED],
        )
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    # Coalesce each side: SQLite's MAX(a, b) is NULL when either is.
    return Greatest(Coalesce(Subquery(arrived), NEVER), Coalesce(Subquery(released), NEVER))
