"""CSV export of the order and order-row changelists (django-import-export): the columns the
lists show, computed by the same functions, over every row the list's filters and search
select (not only the page)."""

from collections import defaultdict

from django.utils import timezone
from import_export import fields, resources

from ..models import Order, OrderRow, RowStatus


def waiting_days(row: OrderRow) -> int | str:
    """Whole days a waiting row has waited; "—" for a row that is not waiting."""
    if not row.is_waiting:
        return "—"
    return (timezone.now() - row.queue_at).days


def rows_summary(order: Order) -> str:
    """Units per status, from the order's (prefetched) rows: "1 allocated, 2 backordered"."""
    units = defaultdict(int)
    for row in order.rows.all():
        units[row.status] += row.quantity
    return ", ".join(f"{units[s]} {RowStatus(s).label.lower()}" for s in RowStatus if units[s])


# The order-row list's columns (its first shows the order as a link), exported in this order.
ROW_COLUMNS = (
    "order",
    "line_no",
    "product",
    "status",
    "quantity",
    "source",
    "queue_at",
    "waiting_days",
    "promise_date",
)


class OrderRowResource(resources.ModelResource):
    order = fields.Field(attribute="order__number", column_name="order")
    product = fields.Field(column_name="product")
    status = fields.Field(column_name="status")
    source = fields.Field(column_name="source")
    waiting_days = fields.Field(column_name="waiting (days)")

    class Meta:
        model = OrderRow
        fields = ROW_COLUMNS
        export_order = ROW_COLUMNS

    def dehydrate_product(self, row):
        return str(row.product)

    def dehydrate_status(self, row):
        return row.get_status_display()

    def dehydrate_source(self, row):
        return str(row.source) if row.source_id else ""

    def dehydrate_waiting_days(self, row):
        return waiting_days(row)


class OrderResource(resources.ModelResource):
    status = fields.Field(column_name="status")
    rows = fields.Field(column_name="rows")

    class Meta:
        model = Order
        fields = ("number", "placed_at", "full_name", "email", "status", "rows")
        export_order = fields

    def dehydrate_status(self, order):
        return order.get_status_display()

    def dehydrate_rows(self, order):
        return rows_summary(order)
