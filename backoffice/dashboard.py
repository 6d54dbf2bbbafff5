"""Reads behind the merchant's backorder dashboard (the admin page in admin_site.py).

One function per table. Each runs a constant number of aggregate queries,
whatever the number of orders: the database groups and sums, and Python only
shapes the result rows (the first N for the page, all of them for a CSV export).
Ages are relative to ``now`` and promise dates to ``today``; both can be passed
in so the numbers are reproducible in tests.
"""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import (
    Count,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    Window,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.models import EntryKind, EntryState, LedgerEntry
from billing.money import ZERO, money_format
from billing.selectors import authorizations_expiring, money_waiting
from catalog.models import Product
from inventory.models import InboundStatus, InboundSupply
from inventory.selectors import products_low_on_stock
from notifications.models import OutboxMessage, OutboxStatus
from orders.models import WAITING, OrderRow, RowStatus
from orders.selectors import age_bucket_q, age_buckets, row_counts_by_status

DEFAULT_TOP = 20
DEFAULT_RISK_DAYS = 7
# COUNT(*) OVER (): how many rows the whole table has, on each row of its first N.
TABLE_SIZE = Window(Count(Value(1)))


@dataclass(frozen=True)
class Top:
    """The first rows of a table, and how many rows the whole table has."""

    rows: list[dict]
    total: int

    @property
    def more(self) -> bool:
        return self.total > len(self.rows)


# -- order rows by status ------------------------------------------------------------


def rows_by_status() -> list[dict]:
    """Rows and units in each row status, one query (orders.selectors does the work)."""
    return row_counts_by_status()


# -- waiting rows by age -------------------------------------------------------------


def waiting_by_age(*, now: dt.datetime | None = None) -> list[dict]:
    """Waiting (backordered + pre-ordered) rows and units by whole days waited, in the age
    groups of orders.selectors (the digest's and the order-row admin filter's), one query.
    Every group is listed, empty ones as 0."""
    now = now or timezone.now()
    buckets = age_buckets()
    sums = {}
    for n, bucket in enumerate(buckets):
        within = age_bucket_q(bucket, now=now)
        sums[f"rows_{n}"] = Count("pk", filter=within)
        sums[f"units_{n}"] = Coalesce(Sum("quantity", filter=within), 0)
        for status in WAITING:
            sums[f"{status}_{n}"] = Coalesce(Sum("quantity", filter=within & Q(status=status)), 0)
    found = OrderRow.objects.filter(status__in=WAITING).aggregate(**sums)
    return [
        {
            "key": bucket.key,
            "label": bucket.label,
            "rows": found[f"rows_{n}"],
            "units": found[f"units_{n}"],
            "backordered": found[f"{RowStatus.BACKORDERED}_{n}"],
            "preordered": found[f"{RowStatus.PREORDERED}_{n}"],
        }
        for n, bucket in enumerate(buckets)
    ]


# -- demand per product --------------------------------------------------------------


def _open_inbound():
    """Open inbound supply at active sources (what promise dates count on)."""
    return InboundSupply.objects.filter(status=InboundStatus.OPEN, source__is_active=True)


def demand_by_product(
    *, limit: int | None = DEFAULT_TOP, with_inbound: bool = True, now: dt.datetime | None = None
) -> Top:
    """Products by units waiting, most first: rows, units, oldest wait, latest promise date,
    and open inbound supply (units, next expected date). Three queries; ``limit=None`` for all.
    """
    now = now or timezone.now()
    # Grouped by the product id alone; names are looked up for the result rows after.
    waiting = (
        OrderRow.objects.filter(status__in=WAITING)
        .values("product_id")
        .annotate(
            rows=Count("pk"),
            units=Sum("quantity"),
            backordered=Coalesce(Sum("quantity", filter=Q(status=RowStatus.BACKORDERED)), 0),
            preordered=Coalesce(Sum("quantity", filter=Q(status=RowStatus.PREORDERED)), 0),
            oldest_wait=Min("queue_at"),
            latest_promise=Max("promise_date"),
            products=TABLE_SIZE,
        )
        .order_by("-units", "product_id")
    )
    products = list(waiting[:limit] if limit is not None else waiting)
    if not products:
        return Top(rows=[], total=0)
    # Names and supply of the top N products by id; for the whole table, of every product
    # (the catalog is small next to its order rows, and no id list grows with it).
    catalog, supply = Product.objects.all(), _open_inbound()
    if limit is not None:
        wanted = [p["product_id"] for p in products]
        catalog, supply = catalog.filter(pk__in=wanted), supply.filter(product_id__in=wanted)
    names = {row["pk"]: row for row in catalog.values("pk", "sku", "name").order_by()}
    inbound: dict[int, dict] = {}
    if with_inbound:
        inbound = {
            row["product_id"]: row
            for row in supply.values("product_id")
            .annotate(units=Sum("quantity"), next_expected=Min("expected_date"))
            .order_by()
        }
    rows = [
        {
            "product_id": p["product_id"],
            "sku": names[p["product_id"]]["sku"],
            "name": names[p["product_id"]]["name"],
            "rows": p["rows"],
            "units": p["units"],
            "backordered": p["backordered"],
            "preordered": p["preordered"],
            "oldest_wait": p["oldest_wait"],
            "oldest_days": (now - p["oldest_wait"]).days,
            "latest_promise": p["latest_promise"],
            "inbound_units": inbound.get(p["product_id"], {}).get("units", 0),
            "next_expected": inbound.get(p["product_id"], {}).get("next_expected"),
        }
        for p in products
    ]
    return Top(rows=rows, total=products[0]["products"])


# -- low stock -----------------------------------------------------------------------


def _low_stock_queryset() -> QuerySet:
    waiting = (
        OrderRow.objects.filter(product=OuterRef("pk"), status__in=WAITING)
        .values("product")
        .annotate(units=Sum("quantity"))
        .values("units")
    )
    return products_low_on_stock(Product.objects.filter(is_active=True)).annotate(
        waiting=Coalesce(Subquery(waiting, output_field=IntegerField()), 0)
    )


def low_stock_products(*, limit: int | None = DEFAULT_TOP) -> Top:
    """Active products whose free stock (over active sources) is at or below their effective
    low-stock threshold, emptiest first, with the units waiting for them. One query."""
    products = (
        _low_stock_queryset()
        .annotate(products=TABLE_SIZE)
        .order_by("free", "-waiting", "name", "pk")
        .values(
            "pk", "sku", "name", "free", "threshold", "use_global_low_stock_threshold", "waiting", "products"
        )
    )
    products = list(products[:limit] if limit is not None else products)
    rows = [
        {
            "product_id": p["pk"],
            "sku": p["sku"],
            "name": p["name"],
            "free": p["free"],
            "threshold": p["threshold"],
            "threshold_from": "global" if p["use_global_low_stock_threshold"] else "product",
            "waiting": p["waiting"],
        }
        for p in products
    ]
    return Top(rows=rows, total=products[0]["products"] if products else 0)


# -- promises at risk ----------------------------------------------------------------

LATE = "late"
DUE_NO_SUPPLY = "due_no_supply"
RISK_REASONS = {LATE: "promise date passed", DUE_NO_SUPPLY: "due soon, no inbound supply"}


def _at_risk_rows(*, days: int, today: dt.date) -> QuerySet:
    """Waiting rows whose promise has passed, or falls within ``days`` while their product
    has no open inbound supply."""
    horizon = today + dt.timedelta(days=days)
    # An uncorrelated NOT IN (product ids with supply) is hashed once; PostgreSQL
    # costs a correlated NOT EXISTS inside an OR as if it ran per row.
    supplied = _open_inbound().values("product_id")
    return OrderRow.objects.filter(status__in=WAITING, promise_date__lte=horizon).filter(
        Q(promise_date__lt=today) | ~Q(product_id__in=supplied)
    )


def promises_at_risk_summary(*, days: int = DEFAULT_RISK_DAYS, today: dt.date | None = None) -> dict:
    """Rows and units at risk, and how many because the date passed, one query."""
    today = today or timezone.localdate()
    totals = _at_risk_rows(days=days, today=today).aggregate(
        rows=Count("pk"),
        units=Coalesce(Sum("quantity"), 0),
        late_rows=Count("pk", filter=Q(promise_date__lt=today)),
        late_units=Coalesce(Sum("quantity", filter=Q(promise_date__lt=today)), 0),
    )
    totals["due_rows"] = totals["rows"] - totals["late_rows"]
    totals["due_units"] = totals["units"] - totals["late_units"]
    totals["days"] = days
    return totals


def promises_at_risk(
    *, days: int = DEFAULT_RISK_DAYS, limit: int | None = DEFAULT_TOP, today: dt.date | None = None
) -> list[dict]:
    """The rows at risk, earliest promise first, one query; ``limit=None`` for all."""
    today = today or timezone.localdate()
    rows = (
        _at_risk_rows(days=days, today=today)
        .order_by("promise_date", "-queue_tier", "queue_at", "order_id", "line_no", "pk")
        .values(
            "pk",
            "order_id",
            "order__number",
            "line_no",
            "product_id",
            "product__sku",
            "product__name",
            "status",
            "quantity",
            "queue_at",
            "promise_date",
        )
    )
    if limit is not None:
        rows = rows[:limit]
    labels = dict(RowStatus.choices)
    result = []
    for row in rows:
        late = row["promise_date"] < today
        result.append(
            {
                "row_id": row["pk"],
                "order_id": row["order_id"],
                "order_number": row["order__number"],
                "line_no": row["line_no"],
                "product_id": row["product_id"],
                "sku": row["product__sku"],
                "name": row["product__name"],
                "status": row["status"],
                "status_label": labels[row["status"]],
                "quantity": row["quantity"],
                "waiting_since": row["queue_at"],
                "promise_date": row["promise_date"],
                "days_late": (today - row["promise_date"]).days,  # negative: days left
                "reason": LATE if late else DUE_NO_SUPPLY,
                "reason_label": RISK_REASONS[LATE if late else DUE_NO_SUPPLY],
            }
        )
    return result


# -- outbox health -------------------------------------------------------------------


def outbox_health(*, now: dt.datetime | None = None) -> dict:
    """Messages pending, being sent and failed, and the oldest pending one's age, one query."""
    now = now or timezone.now()
    totals = OutboxMessage.objects.filter(
        status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED]
    ).aggregate(
        pending=Count("pk", filter=Q(status=OutboxStatus.PENDING)),
        sending=Count("pk", filter=Q(status=OutboxStatus.SENDING)),
        failed=Count("pk", filter=Q(status=OutboxStatus.FAILED)),
        oldest_pending_at=Min("created_at", filter=Q(status=OutboxStatus.PENDING)),
    )
    oldest = totals["oldest_pending_at"]
    totals["oldest_pending_age"] = now - oldest if oldest else None
    return totals


# -- money -------------------------------------------------------------------------


def _by_currency(amounts: dict[str, object]) -> dict:
    """{currency: amount} → the amounts and one text ("€12.50", or "€12.50 + £3.00")."""
    shown = {c: a for c, a in sorted(amounts.items()) if a}
    text = " + ".join(money_format(a, c) for c, a in shown.items())
    return {"amounts": shown, "text": text or money_format(ZERO, settings.BILLING_CURRENCY)}


def money_figures(*, now: dt.datetime | None = None) -> dict:
    """Money waiting (what the waiting rows are worth to their customers, as each order's totals
    snapshot values them: billing's snapshot, "as_of" its time, or valued now when it is
    missing or stale), captured and refunded since Monday, and checkout authorizations whose
    validity ends soon with rows still to ship. Three queries (four when the rows are valued
    now), per currency."""
    now = now or timezone.now()
    waiting = money_waiting(now=now)

    today = timezone.localdate(now)
    week = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=today.weekday()), dt.time()))
    settled = (
        LedgerEntry.objects.filter(
            state=EntryState.SUCCEEDED, settled_at__gte=week, kind__in=[EntryKind.CAPTURE, EntryKind.REFUND]
        )
        .values("currency")
        .annotate(
            captured=Coalesce(Sum("amount", filter=Q(kind=EntryKind.CAPTURE)), ZERO),
            refunded=Coalesce(Sum("amount", filter=Q(kind=EntryKind.REFUND)), ZERO),
        )
        .order_by()
    )
    settled = list(settled)
    expiring = list(
        authorizations_expiring(now=now)
        .values("currency")
        .annotate(count=Count("pk"), amount=Sum(F("amount") - F("drawn")))
        .order_by()
    )
    return {
        "waiting": {**_by_currency(waiting.amounts), "as_of": waiting.as_of},
        "week_start": week,
        "captured": _by_currency({s["currency"]: s["captured"] for s in settled}),
        "refunded": _by_currency({s["currency"]: s["refunded"] for s in settled}),
        "expiring": {
            "count": sum(e["count"] for e in expiring),
            **_by_currency({e["currency"]: e["amount"] for e in expiring}),
        },
    }
