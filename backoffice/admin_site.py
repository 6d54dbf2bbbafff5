"""The shop's admin site: Django's, plus the merchant's backorder dashboard.

config.apps.RestockAdminConfig makes this the default site, so every
``admin.register`` keeps working. The dashboard (``admin:dashboard``) shows the
tables of backoffice.dashboard with inline SVG charts; each table downloads
as CSV at ``admin:dashboard_csv`` (``dashboard/<table>.csv``). Staff only
(``admin_view``) and by model permission: the page needs ``orders.view_orderrow``,
low stock ``inventory.view_stock``, inbound supply columns
``inventory.view_inboundsupply``, outbox health ``notifications.view_outboxmessage`` and the
money figures ``billing.view_ledgerentry``.
"""

import csv
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, QueryDict
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from . import dashboard, replenishment
from .charts import Bar, bar_chart

VIEW_ROWS = "orders.view_orderrow"
VIEW_STOCK = "inventory.view_stock"
VIEW_INBOUND = "inventory.view_inboundsupply"
VIEW_OUTBOX = "notifications.view_outboxmessage"
VIEW_LEDGER = "billing.view_ledgerentry"

MAX_TOP = 500
MAX_RISK_DAYS = 365


def _bounded_int(query: QueryDict, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(query.get(name, default))
    except (TypeError, ValueError):
        return default
    return min(max(value, low), high)


@dataclass(frozen=True)
class Options:
    """The page's knobs from the query string: promise horizon and table length."""

    days: int = dashboard.DEFAULT_RISK_DAYS
    top: int = dashboard.DEFAULT_TOP

    @classmethod
    def from_query(cls, query: QueryDict) -> "Options":
        return cls(
            days=_bounded_int(query, "days", dashboard.DEFAULT_RISK_DAYS, 0, MAX_RISK_DAYS),
            top=_bounded_int(query, "top", dashboard.DEFAULT_TOP, 1, MAX_TOP),
        )


# -- CSV exports: the whole table (not only the top rows the page shows) --------------


FORMULA_STARTS = frozenset("=+-@\t\r")


def _cell(value) -> object:
    kind = type(value)
    if kind is int:
        return value
    if kind is str:
        # A spreadsheet would run a cell starting like a formula.
        return "'" + value if value[:1] in FORMULA_STARTS else value
    if value is None:
        return ""
    if isinstance(value, dt.timedelta):
        return int(value.total_seconds())
    if isinstance(value, dt.date):  # dates and datetimes
        return value.isoformat()
    return value


def _statuses_csv(request, options):
    rows = dashboard.rows_by_status()
    return ["Status", "Label", "Rows", "Units"], (
        [r["status"], r["label"], r["rows"], r["units"]] for r in rows
    )


def _aging_csv(request, options):
    header = ["Age", "Rows", "Units", "Backordered units", "Pre-ordered units"]
    return header, (
        [b["label"], b["rows"], b["units"], b["backordered"], b["preordered"]]
        for b in dashboard.waiting_by_age()
    )


def _demand_csv(request, options):
    inbound = request.user.has_perm(VIEW_INBOUND)
    header = [
        "Product ID",
        "SKU",
        "Product",
        "Waiting rows",
        "Waiting units",
        "Backordered units",
        "Pre-ordered units",
        "Waiting since",
        "Oldest wait (days)",
        "Latest promise date",
    ]
    if inbound:
        header += ["Open inbound units", "Next expected date"]

    def rows():
        for p in dashboard.demand_by_product(limit=None, with_inbound=inbound).rows:
            row = [
                p["product_id"],
                p["sku"],
                p["name"],
                p["rows"],
                p["units"],
                p["backordered"],
                p["preordered"],
                p["oldest_wait"],
                p["oldest_days"],
                p["latest_promise"],
            ]
            yield row + ([p["inbound_units"], p["next_expected"]] if inbound else [])

    return header, rows()


def _low_stock_csv(request, options):
    header = [
        "Product ID",
        "SKU",
        "Product",
        "Free",
        "Low-stock threshold",
        "Threshold from",
        "Waiting units",
    ]
    return header, (
        [p["product_id"], p["sku"], p["name"], p["free"], p["threshold"], p["threshold_from"], p["waiting"]]
        for p in dashboard.low_stock_products(limit=None).rows
    )


def _at_risk_csv(request, options):
    header = [
        "Order",
        "Line",
        "Row ID",
        "SKU",
        "Product",
        "Status",
        "Quantity",
        "Waiting since",
        "Promise date",
        "Days late",
        "Reason",
    ]
    return header, (
        [
            r["order_number"],
            r["line_no"],
            r["row_id"],
            r["sku"],
            r["name"],
            r["status"],
            r["quantity"],
            r["waiting_since"],
            r["promise_date"],
            r["days_late"],
            r["reason_label"],
        ]
        for r in dashboard.promises_at_risk(days=options.days, limit=None)
    )


def _outbox_csv(request, options):
    health = dashboard.outbox_health()
    header = ["Pending", "Sending", "Failed", "Oldest pending since", "Oldest pending age (seconds)"]
    row = [
        health["pending"],
        health["sending"],
        health["failed"],
        health["oldest_pending_at"],
        health["oldest_pending_age"],
    ]
    return header, [row]


@dataclass(frozen=True)
class Export:
    permission: str
    build: Callable[[object, Options], tuple[list[str], Iterable[list]]]


EXPORTS: dict[str, Export] = {
    "statuses": Export(VIEW_ROWS, _statuses_csv),
    "aging": Export(VIEW_ROWS, _aging_csv),
    "demand": Export(VIEW_ROWS, _demand_csv),
    "at-risk": Export(VIEW_ROWS, _at_risk_csv),
    "low-stock": Export(VIEW_STOCK, _low_stock_csv),
    "outbox": Export(VIEW_OUTBOX, _outbox_csv),
}


class RestockAdminSite(admin.AdminSite):
    site_header = "Restock administration"
    site_title = "Restock admin"

    def get_urls(self):
        return [
            path("dashboard/", self.admin_view(self.dashboard_view), name="dashboard"),
            path(
                "dashboard/<slug:table>.csv", self.admin_view(self.dashboard_csv_view), name="dashboard_csv"
            ),
            path("replenishment/", self.admin_view(self.replenishment_view), name="replenishment"),
            *super().get_urls(),  # last: it ends with the catch-all view
        ]

    def each_context(self, request):
        context = super().each_context(request)
        allowed = request.user.is_active and request.user.is_staff and request.user.has_perm(VIEW_ROWS)
        context["dashboard_url"] = reverse("admin:dashboard", current_app=self.name) if allowed else ""
        return context

    def dashboard_view(self, request):
        user = request.user
        if not user.has_perm(VIEW_ROWS):
            raise PermissionDenied
        options = Options.from_query(request.GET)
        can = {
            "stock": user.has_perm(VIEW_STOCK),
            "inbound": user.has_perm(VIEW_INBOUND),
            "outbox": user.has_perm(VIEW_OUTBOX),
            "money": user.has_perm(VIEW_LEDGER),
        }
        statuses = dashboard.rows_by_status()
        ages = dashboard.waiting_by_age()
        context = {
            **self.each_context(request),
            "title": "Backorder dashboard",
            "options": options,
            "can": can,
            "statuses": statuses,
            "status_chart": bar_chart(
                title="Order rows by status",
                bars=[Bar(s["label"], s["rows"], tone=s["status"]) for s in statuses],
                unit="rows",
            ),
            "ages": ages,
            "age_chart": bar_chart(
                title="Waiting rows by age",
                bars=[Bar(b["label"], b["rows"], tone=f"age{i}") for i, b in enumerate(ages)],
                unit="rows",
            ),
            "waiting": {
                "rows": sum(b["rows"] for b in ages),
                "units": sum(b["units"] for b in ages),
            },
            "demand": dashboard.demand_by_product(limit=options.top, with_inbound=can["inbound"]),
            "risk": dashboard.promises_at_risk_summary(days=options.days),
            "risk_rows": dashboard.promises_at_risk(days=options.days, limit=options.top),
        }
        if can["stock"]:
            context["low_stock"] = dashboard.low_stock_products(limit=options.top)
        if can["outbox"]:
            context["outbox"] = dashboard.outbox_health()
        if can["money"]:
            context["money"] = dashboard.money_figures()
        request.current_app = self.name
        return TemplateResponse(request, "admin/dashboard/index.html", context)

    def replenishment_view(self, request):
        return replenishment.replenishment_view(self, request)

    def dashboard_csv_view(self, request, table: str):
        export = EXPORTS.get(table)
        if export is None:
            raise Http404(f"No dashboard table {table!r}.")
        if not (request.user.has_perm(VIEW_ROWS) and request.user.has_perm(export.permission)):
            raise PermissionDenied
        header, rows = export.build(request, Options.from_query(request.GET))
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        filename = f"restock-{table}-{timezone.localdate().isoformat()}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        writer = csv.writer(response)
        writer.writerow(header)
        writer.writerows([_cell(value) for value in row] for row in rows)
        return response
