"""Reads of stock and the ledger."""

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from catalog.models import Product
from catalog.selectors import EffectivePolicy, effective_setting

from .models import (
    PURCHASE_ORDER_RECEIVABLE,
    InboundStatus,
    InboundSupply,
    MovementKind,
    PurchaseOrder,
    PurchaseOrderLine,
    Stock,
    StockMovement,
    SupplierProduct,
)


def free_stock_by_product(*, product_ids: Iterable[int]) -> dict[int, int]:
    """Free units (on hand - allocated) over active sources, per product, in one query."""
    rows = Stock.objects.filter(product_id__in=list(product_ids)).free_by_product()
    return {row["product_id"]: row["free"] or 0 for row in rows}


def free_stock_of_locked(stocks: Iterable[Stock]) -> dict[int, int]:
    """free_stock_by_product for stock rows already in hand (locked, with their source):
    the same sum over active sources, no query."""
    free: dict[int, int] = {}
    for stock in stocks:
        if stock.source.is_active:
            free[stock.product_id] = free.get(stock.product_id, 0) + stock.free
    return free


def stocks_in_priority(stocks: Iterable[Stock]) -> list[Stock]:
    """Loaded stock rows whose free units count (active sources, as in free_by_product), in
    the order units are taken from them: source priority, then source id."""
    active = [stock for stock in stocks if stock.source.is_active]
    return sorted(active, key=lambda stock: (stock.source.priority, stock.source_id))


# -- low stock: free stock at or below the product's effective low-stock threshold --------
# One rule in two forms, side by side (as Stock.free and free_units()): set-based for
# readers of current stock, in Python for figures already in hand (an order's snapshot).


def products_low_on_stock(products: QuerySet[Product]) -> QuerySet[Product]:
    """Those of ``products`` low on stock now, annotated ``free`` (over active sources, 0
    with no stock) and ``threshold`` (the product's own or the global one)."""
    return products.annotate(
        free=Coalesce(Stock.objects.free_of(OuterRef("pk")), 0),
        threshold=effective_setting("low_stock_threshold"),
    ).filter(free__lte=F("threshold"))


def is_low_on_stock(*, free: int, policy: EffectivePolicy) -> bool:
    """The same rule for free units already counted (``policy`` from product_policy)."""
    return free <= policy.low_stock_threshold


@dataclass(frozen=True)
class Drift:
    source_id: int
    product_id: int
    source_code: str
    sku: str
    on_hand: int  # the counter
    ledger: int  # the sum of the ledger
    allocated: int

    def __str__(self) -> str:
        return (
            f"{self.sku} at {self.source_code}: on hand {self.on_hand}, "
            f"ledger says {self.ledger} (drift {self.on_hand - self.ledger:+d})"
        )


def stock_drift() -> list[Drift]:
    """Every (source, product) whose on-hand counter differs from its ledger sum."""
    ledger = {
        (row["source_id"], row["product_id"]): row["total"]
        for row in StockMovement.objects.values("source_id", "product_id").annotate(total=Sum("quantity"))
    }
    drifts = []
    counters = Stock.objects.select_related("source", "product").order_by("product__sku", "source__code")
    known = set()
    for stock in counters:
        key = (stock.source_id, stock.product_id)
        known.add(key)
        total = ledger.get(key, 0)
        if total != stock.on_hand:
            drifts.append(
                Drift(
                    source_id=stock.source_id,
                    product_id=stock.product_id,
                    source_code=stock.source.code,
                    sku=stock.product.sku,
                    on_hand=stock.on_hand,
                    ledger=total,
                    allocated=stock.allocated,
                )
            )
    orphans = [key for key, total in ledger.items() if key not in known and total != 0]
    if orphans:
        found = StockMovement.objects.filter(
            Q(*[Q(source_id=s, product_id=p) for s, p in orphans], _connector=Q.OR)
        ).select_related("source", "product")
        names = {(m.source_id, m.product_id): (m.source.code, m.product.sku) for m in found}
        for key in orphans:
            code, sku = names[key]
            drifts.append(Drift(key[0], key[1], code, sku, 0, ledger[key], 0))
    return drifts


def inbound_open_by_product(*, product_ids: Iterable[int], with_ids: bool = False) -> dict[int, list[tuple]]:
    """Open inbound supply per product as (expected_date, quantity), earliest first, one query.
    Only active sources count, as for free stock. ``with_ids`` adds each supply's id third."""
    found: dict[int, list[tuple]] = {}
    rows = (
        InboundSupply.objects.filter(
            product_id__in=list(product_ids), status=InboundStatus.OPEN, source__is_active=True
        )
        .order_by("expected_date", "pk")
        .values_list("product_id", "expected_date", "quantity", "pk")
    )
    for product_id, expected, quantity, pk in rows:
        entry = (expected, quantity, pk) if with_ids else (expected, quantity)
        found.setdefault(product_id, []).append(entry)
    return found


def receipts_preview_figures(*, lines) -> tuple[dict[tuple[int, int], int], set[tuple[int, int, str]]]:
    """For receipt lines about to be received: on hand per (source_id, product_id), and the
    (source_id, product_id, reference) already received. Two queries, whatever the lines."""
    product_ids = {line.product.pk for line in lines}
    source_ids = {line.source.pk for line in lines}
    on_hand = {
        (source_id, product_id): units
        for source_id, product_id, units in Stock.objects.filter(
            product_id__in=product_ids, source_id__in=source_ids
        ).values_list("source_id", "product_id", "on_hand")
    }
    received = set(
        StockMovement.objects.filter(
            kind=MovementKind.RECEIPT,
            product_id__in=product_ids,
            reference__in={line.reference for line in lines},
        ).values_list("source_id", "product_id", "reference")
    )
    return on_hand, received


# -- purchasing ---------------------------------------------------------------------------

PURCHASE_ORDER_CSV_COLUMNS = (
    "line",
    "reference",
    "supplier_sku",
    "sku",
    "product",
    "quantity",
    "unit_cost",
    "currency",
    "expected_date",
    "deliver_to",
)


def purchase_order_csv(*, purchase_order: PurchaseOrder, lines: list[PurchaseOrderLine]) -> str:
    """The order's lines as the CSV its supplier receives (``lines`` with products and sources
    loaded); the supplier's own SKUs come from its terms, in one query."""
    skus = dict(
        SupplierProduct.objects.filter(
            supplier_id=purchase_order.supplier_id, product_id__in={line.product_id for line in lines}
        ).values_list("product_id", "supplier_sku")
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(PURCHASE_ORDER_CSV_COLUMNS)
    for line in lines:
        writer.writerow(
            [
                line.line_no,
                f"{purchase_order.number}/{line.line_no}",
                skus.get(line.product_id, ""),
                line.product.sku,
                line.product.name,
                line.quantity,
                line.unit_cost,
                purchase_order.currency,
                line.expected_date.isoformat(),
                line.source.name,
            ]
        )
    return out.getvalue()


def purchase_lines_late(*, today: dt.date) -> QuerySet[PurchaseOrderLine]:
    """Lines of sent orders past their expected date with units still to come."""
    return PurchaseOrderLine.objects.filter(
        purchase_order__status__in=PURCHASE_ORDER_RECEIVABLE,
        expected_date__lt=today,
        received_quantity__lt=F("quantity"),
    )


def purchase_lines_by_number(keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], PurchaseOrderLine]:
    """PO lines by (PO number, line no), with their order and product, in one query."""
    keys = set(keys)
    if not keys:
        return {}
    found = PurchaseOrderLine.objects.select_related("purchase_order", "product").filter(
        purchase_order__number__in={number for number, _ in keys}, line_no__in={no for _, no in keys}
    )
    return {key: line for line in found if (key := (line.purchase_order.number, line.line_no)) in keys}
