"""Reads of orders; availability_for is the one door to the availability rule."""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Abs, Coalesce, Greatest
from django.utils import timezone

from catalog.availability import Availability, Outcome, StockFigures, availability
from catalog.discounts import Rule
from catalog.models import Backorders, GlobalSettings, Product
from catalog.selectors import discount_rules_active, effective_setting, global_settings_get, product_policy
from inventory.models import (
    InboundStatus,
    InboundSupply,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    Source,
    Stock,
    StockMovement,
    Supplier,
    SupplierProduct,
)
from inventory.replenishment import Replenishment, ReplenishmentFigures, replenishment
from inventory.selectors import free_stock_by_product, inbound_open_by_product

from .models import RETURN_HOLDS, WAITING, OrderRow, ReturnRequest, RowEvent, RowStatus, RowStatusSummary


def waiting_units_by_product(*, product_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Units waiting per product and status (backordered, preordered), one query.

    Written in SQL: every product page, cart and checkout runs it, and building it through
    the ORM cost about 0.8 ms of CPU, four times the statement's own (issue 12)."""
    ids = [int(pk) for pk in product_ids]
    if not ids:
        return {}
    found: dict[int, dict[str, int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT product_id, status, SUM(quantity) FROM {OrderRow._meta.db_table}"  # noqa: S608 - our table
            f" WHERE product_id IN ({', '.join(['%s'] * len(ids))})"
            f" AND status IN ({', '.join(['%s'] * len(WAITING))})"
            " GROUP BY product_id, status",
            [*ids, *(status.value for status in WAITING)],
        )
        for product_id, status, units in cursor.fetchall():
            found.setdefault(product_id, {})[status] = units
    return found


def availability_for_many(
    *, products: Iterable[Product], today: dt.date | None = None, defaults: GlobalSettings | None = None
) -> dict[int, Availability]:
    """Availability of many products in a constant number of queries (four; three when the
    caller has read the global settings already and passes them as ``defaults``)."""
    products = list(products)
    ids = [p.pk for p in products]
    return availability_from(
        products=products,
        defaults=defaults if defaults is not None else global_settings_get(),
        free=free_stock_by_product(product_ids=ids),
        waiting=waiting_units_by_product(product_ids=ids),
        inbound=inbound_open_by_product(product_ids=ids),
        today=today,
    )


def availability_from(
    *,
    products: Iterable[Product],
    defaults: GlobalSettings,
    free: dict[int, int],
    waiting: dict[int, dict[str, int]],
    inbound: dict[int, list[tuple]],
    today: dt.date | None = None,
) -> dict[int, Availability]:
    """Availability of products from figures the caller already has (no query): checkout
    gathers them under its locks, free stock from the stock rows it locked. The figures
    are those of availability_for_many's queries, in the same shapes."""
    today = today or timezone.localdate()
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


def row_counts_counted() -> dict[str, dict]:
    """Rows and units per status, counted from every row (one aggregate over the whole table:
    what the snapshot job runs, not a page)."""
    counted = {
        row["status"]: row
        for row in OrderRow.objects.values("status")
        .annotate(rows=Count("pk"), units=Sum("quantity"))
        .order_by()
    }
    return {
        status: {
            "rows": counted.get(status, {}).get("rows", 0),
            "units": counted.get(status, {}).get("units") or 0,
        }
        for status in RowStatus
    }


def row_counts_by_status(*, now: dt.datetime | None = None) -> list[dict]:
    """Rows and units per status (Marello's "order items by status"), one query, from the
    snapshot the job refresh_row_status_summary keeps: counting every row on each admin page
    does not scale to a million rows. A snapshot missing or older than
    ROW_STATUS_SUMMARY_MAX_AGE seconds (beat not running, as in the demo) is not trusted:
    the rows are counted instead. Each entry says as of when ("as_of")."""
    now = now or timezone.now()
    snapshot = {s.status: s for s in RowStatusSummary.objects.all()}
    oldest = min((s.computed_at for s in snapshot.values()), default=None)
    max_age = dt.timedelta(seconds=settings.ROW_STATUS_SUMMARY_MAX_AGE)
    if len(snapshot) == len(RowStatus) and oldest is not None and now - oldest <= max_age:
        counts = {status: {"rows": s.rows, "units": s.units} for status, s in snapshot.items()}
        as_of = oldest
    else:
        counts, as_of = row_counts_counted(), now
    return [
        {"status": status, "label": status.label, **counts[status], "as_of": as_of} for status in RowStatus
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


# -- waiting rows by age: one set of groups for the digest, the dashboard and the admin filter --


@dataclass(frozen=True)
class AgeBucket:
    """Waiting rows by whole days since ``queue_at``: from min_days to max_days (None: no end)."""

    key: str
    label: str
    min_days: int
    max_days: int | None


def age_buckets() -> tuple[AgeBucket, ...]:
    """The age groups, split where settings.AGED_BACKORDER_DAYS says (7, 30, 90: 0–6, 7–29,
    30–89 and 90+ days). A row N days old is in the group that starts at N."""
    starts = sorted({0, *settings.AGED_BACKORDER_DAYS})
    ends = [start - 1 for start in starts[1:]] + [None]
    return tuple(
        AgeBucket(f"{lo}-{hi}", f"{lo}–{hi} days", lo, hi)
        if hi is not None
        else AgeBucket(f"{lo}+", f"{lo}+ days", lo, None)
        for lo, hi in zip(starts, ends, strict=True)
    )


def aged_bucket() -> AgeBucket:
    """Every group but the first: the rows the merchants' digest reports."""
    first = min(settings.AGED_BACKORDER_DAYS)
    return AgeBucket("aged", f"{first} days or more", first, None)


def age_bucket_of(*, days: int) -> AgeBucket:
    """The group of a row waiting ``days`` whole days, ``(now - row.queue_at).days``."""
    buckets = age_buckets()
    return next((b for b in reversed(buckets) if b.min_days <= days), buckets[0])


def age_bucket_q(bucket: AgeBucket, *, now: dt.datetime) -> Q:
    """Rows ``bucket.min_days`` to ``bucket.max_days`` whole days old at ``now`` (SQL form of
    age_bucket_of: a row 7 days and 23 hours old is 7 days old)."""
    q = Q()
    if bucket.min_days > 0:  # the first group also takes a queue time a skewed clock put ahead
        q &= Q(queue_at__lte=now - dt.timedelta(days=bucket.min_days))
    if bucket.max_days is not None:
        q &= Q(queue_at__gt=now - dt.timedelta(days=bucket.max_days + 1))
    return q


def rows_waiting_in(rows: QuerySet, *, bucket: AgeBucket, now: dt.datetime | None = None) -> QuerySet:
    """The waiting rows (backordered and pre-ordered) of ``rows`` in an age group."""
    return rows.filter(age_bucket_q(bucket, now=now or timezone.now()), status__in=WAITING)


def units_held(*, row_ids) -> dict[int, int]:
    """Units of each row already returned or asked back (rejected returns hold none)."""
    held = (
        ReturnRequest.objects.filter(row_id__in=list(row_ids), status__in=RETURN_HOLDS)
        .values("row_id")
        .annotate(units=Sum("quantity"))
    )
    return {h["row_id"]: h["units"] for h in held}


def return_window_open(shipped_at: dt.datetime, *, now: dt.datetime | None = None) -> bool:
    return (now or timezone.now()) <= shipped_at + dt.timedelta(days=settings.RETURNS_WINDOW_DAYS)


def rows_returnable(*, order_id: int, now: dt.datetime | None = None) -> dict[int, int]:
    """Shipped rows of the order the customer may still ask to return (within the return
    window, units not already returned or asked back): row id → units. Two queries."""
    shipped = list(
        OrderRow.objects.filter(order_id=order_id, status=RowStatus.SHIPPED)
        .select_related("shipment")
        .only("pk", "quantity", "shipment__shipped_at")
    )
    open_rows = [row for row in shipped if return_window_open(row.shipment.shipped_at, now=now)]
    held = units_held(row_ids=[row.pk for row in open_rows]) if open_rows else {}
    left = {row.pk: row.quantity - held.get(row.pk, 0) for row in open_rows}
    return {pk: units for pk, units in left.items() if units > 0}


# -- discounts on waiting units (the rule: catalog.discounts) --------------------------


def discount_rules_for(*, found: dict[int, Availability], today: dt.date | None = None) -> list[Rule]:
    """The discount rules in force, read (one query, catalog.selectors.discount_rules_active)
    only when one of these products may have units wait: a shop of in-stock products pays
    nothing for discounts."""
    if not any(a.headroom != 0 for a in found.values()):
        return []
    return discount_rules_active(today=today or timezone.localdate())


# -- alternatives: what to offer where a product cannot ship now ------------------------

ALTERNATIVES_MAX = 4


def _salable_now(products: QuerySet, *, today: dt.date) -> QuerySet:
    """Those of ``products`` a new order gets units of from stock now: the set-based form
    of Availability.stock_salable > 0 (free - safety stock - waiting units), released,
    active. availability_for_many confirms each one it returns (alternatives_for)."""
    waiting = (
        OrderRow.objects.filter(product=OuterRef("pk"), status__in=WAITING)
        .values("product")
        .annotate(n=Sum("quantity"))
        .values("n")
    )
    return (
        products.filter(is_active=True)
        .exclude(preorder_enabled=True, release_date__gt=today)
        .alias(
            salable=Coalesce(Stock.objects.free_of(OuterRef("pk")), 0)
            - effective_setting("safety_stock")
            - Coalesce(Subquery(waiting, output_field=IntegerField()), 0)
        )
        .filter(salable__gt=0)
    )


def alternatives_for(*, product: Product, today: dt.date | None = None) -> list[Availability]:
    """Up to four products to offer instead of ``product``, each in stock now, nearest in
    price first (then by name): those the merchant chose for it, or, when none of them is
    in stock now (or none was chosen), products of the same category. Never itself.

    Six queries at most: the merchant's choice, the category's (only when the first finds
    none) and availability_for_many's four, which every caller needs to show them.
    """
    today = today or timezone.localdate()
    nearest = ("distance", "name", "pk")
    distance = Abs(F("price") - Value(product.price, output_field=DecimalField()))

    def pick(products: QuerySet) -> list[Product]:
        products = _salable_now(products.exclude(pk=product.pk), today=today)
        return list(products.alias(distance=distance).order_by(*nearest)[:ALTERNATIVES_MAX])

    found = pick(product.alternatives.all())
    if not found and product.category_id is not None:
        found = pick(Product.objects.filter(category_id=product.category_id))
    if not found:
        return []
    checked = availability_for_many(products=found, today=today)
    return [checked[p.pk] for p in found if checked[p.pk].decide(1).outcome == Outcome.IN_STOCK]


# -- the storefront's availability filter and ships-by order -----------------------------

IN_STOCK_NOW = "in_stock"  # one unit comes from stock now
ORDERABLE = "orderable"  # one unit may be bought: from stock, on backorder or on pre-order


@dataclass(frozen=True)
class ProductOffer:
    """A product with its availability and the decision for one unit (Availability.decide)."""

    product: Product
    availability: Availability
    in_stock_now: bool
    orderable: bool
    ships_by: dt.date | None  # today from stock, the promise date when it waits, None: cannot be ordered


def _may_be_orderable(products: QuerySet, *, today: dt.date) -> QuerySet:
    """Those of ``products`` one unit of which might be bought: salable now, or allowing
    backorders, or on pre-order. A superset of what the rule says is orderable (limits are
    the rule's), so it only narrows what product_offers asks the rule about."""
    salable = _salable_now(products, today=today).values("pk")
    return products.filter(is_active=True).filter(
        Q(pk__in=salable)
        | ~Q(backorders_effective=Backorders.NO)
        | Q(preorder_enabled=True, release_date__gt=today)
    )


def product_offers(
    *,
    products: QuerySet,
    keep: str | None = None,
    by_ships_by: bool = False,
    today: dt.date | None = None,
) -> list[ProductOffer]:
    """Products (in the queryset's order) with their offer for one unit, kept by ``keep``
    (IN_STOCK_NOW, ORDERABLE or None: all) and, with ``by_ships_by``, ordered by the date one
    unit ordered now would ship (ties keep the order given; products that cannot be ordered
    last). The rule decides (Availability.decide through availability_for_many: four
    queries, plus one for the candidates); a filter first narrows the candidates in SQL to
    a superset of what it keeps, so a shop of 10,000 is not asked about one by one."""
    today = today or timezone.localdate()
    if keep == IN_STOCK_NOW:
        products = _salable_now(products, today=today)
    elif keep == ORDERABLE:
        products = _may_be_orderable(
            products.alias(backorders_effective=effective_setting("backorders")), today=today
        )
    products = list(products)
    found = availability_for_many(products=products, today=today)
    offers = []
    for product in products:
        avail = found[product.pk]
        decision = avail.decide(1)
        in_stock = decision.outcome == Outcome.IN_STOCK
        offers.append(
            ProductOffer(
                product=product,
                availability=avail,
                in_stock_now=in_stock,
                orderable=decision.ok,
                ships_by=(today if in_stock else decision.ships_by) if decision.ok else None,
            )
        )
    if keep == IN_STOCK_NOW:
        offers = [o for o in offers if o.in_stock_now]
    elif keep == ORDERABLE:
        offers = [o for o in offers if o.orderable]
    if by_ships_by:
        offers.sort(key=lambda o: (o.ships_by is None, o.ships_by or dt.date.max))
    return offers


# -- replenishment: the numbers behind inventory.replenishment, for many products at once --


@dataclass(frozen=True)
class ProductReplenishment:
    """One product's replenishment decision with what it was made from."""

    product: Product
    decision: Replenishment
    terms: SupplierProduct | None  # the preferred supplier's terms; None: no preferred supplier
    lead_time_from: str  # "supplier terms", "supplier default" or "product"
    source: Source | None  # where a purchase order would deliver it
    in_draft: int  # units on draft purchase orders: not inbound until sent

    @property
    def supplier(self) -> Supplier | None:
        return self.terms.supplier if self.terms else None


LEAD_FROM_TERMS, LEAD_FROM_SUPPLIER, LEAD_FROM_PRODUCT = "supplier terms", "supplier default", "product"


def _units(rows: QuerySet, field: str = "quantity") -> Coalesce:
    """Units of ``rows`` (filtered on product=OuterRef("pk")) summed, as a product annotation."""
    total = rows.order_by().values("product_id").annotate(units=Sum(field)).values("units")
    return Coalesce(Subquery(total, output_field=IntegerField()), 0)


def replenishment_suggestions(
    *,
    product_ids: Iterable[int] | None = None,
    now: dt.datetime | None = None,
    window_days: int | None = None,
    only_to_order: bool = False,
) -> list[ProductReplenishment]:
    """The replenishment decision of every active product (or those of ``product_ids``).

    Demand: units of rows (not cancelled) of orders placed in the last ``window_days`` (the
    global setting); waiting: backordered and pre-ordered units; free and inbound over active
    sources, as everywhere else; safety stock and lead time as in force for the product, the
    lead time from its preferred supplier's terms, else that supplier's default, else the
    product's own. Four queries, whatever the number of products."""
    now = now or timezone.now()
    if window_days is None:
        window_days = global_settings_get().demand_window_days
    products = Product.objects.filter(is_active=True)
    if product_ids is not None:
        products = products.filter(pk__in=list(product_ids))
    since = now - dt.timedelta(days=window_days)
    this = OuterRef("pk")
    products = products.annotate(
        units_demand=_units(
            OrderRow.objects.filter(
                product=this, order__placed_at__gt=since, order__placed_at__lte=now
            ).exclude(status=RowStatus.CANCELLED)
        ),
        units_waiting=_units(OrderRow.objects.filter(product=this, status__in=WAITING)),
        units_free=Coalesce(Stock.objects.free_of(this), 0),
        units_inbound=_units(
            InboundSupply.objects.filter(product=this, status=InboundStatus.OPEN, source__is_active=True)
        ),
        units_in_draft=_units(
            PurchaseOrderLine.objects.filter(product=this, purchase_order__status=PurchaseOrderStatus.DRAFT)
        ),
        effective_safety_stock=effective_setting("safety_stock"),
        effective_lead_time=effective_setting("lead_time_days"),
        # Where its first units ship from: its stock row at the active source of highest priority.
        home_source_id=Subquery(
            Stock.objects.filter(product=this)
            .at_active_sources()
            .order_by("source__priority", "source_id")
            .values("source_id")[:1]
        ),
    ).order_by("name", "pk")
    products = list(products)
    terms = {
        t.product_id: t
        for t in SupplierProduct.objects.filter(
            product_id__in=[p.pk for p in products], is_preferred=True
        ).select_related("supplier")
    }
    sources = list(Source.objects.filter(is_active=True))  # Meta.ordering: priority first
    by_id = {s.pk: s for s in sources}
    result = []
    for product in products:
        term = terms.get(product.pk)
        if term is None:
            lead, lead_from = product.effective_lead_time, LEAD_FROM_PRODUCT
        elif term.lead_time_days is not None:
            lead, lead_from = term.lead_time_days, LEAD_FROM_TERMS
        else:
            lead, lead_from = term.supplier.lead_time_days, LEAD_FROM_SUPPLIER
        decision = replenishment(
            ReplenishmentFigures(
                demand=product.units_demand,
                window_days=window_days,
                waiting=product.units_waiting,
                free=product.units_free,
                inbound=product.units_inbound,
                safety_stock=product.effective_safety_stock,
                lead_time_days=lead,
                min_order_qty=term.min_order_qty if term else 1,
                pack_size=term.pack_size if term else 1,
            )
        )
        if only_to_order and not decision.quantity:
            continue
        result.append(
            ProductReplenishment(
                product=product,
                decision=decision,
                terms=term,
                lead_time_from=lead_from,
                source=by_id.get(product.home_source_id) or (sources[0] if sources else None),
                in_draft=product.units_in_draft,
            )
        )
    return result
