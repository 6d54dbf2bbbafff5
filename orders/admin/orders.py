"""Merchant admin for orders and their rows. Every action calls a service."""

from collections import defaultdict

from django import forms
from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.html import format_html

from inventory.models import Source

from ..exceptions import OrderError
from ..models import WAITING, CustomerTier, Order, OrderRow, RowEvent, RowStatus, Shipment
from ..selectors import age_buckets, aged_bucket, rows_waiting_in
from ..services import row_cancel, row_change_source, row_release, shipment_create


class HasRowsInStatus(admin.SimpleListFilter):
    status: str

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        has = Exists(OrderRow.objects.filter(order=OuterRef("pk"), status=self.status))
        if self.value() == "yes":
            return queryset.filter(has)
        if self.value() == "no":
            return queryset.exclude(has)
        return queryset


class HasBackorderedRows(HasRowsInStatus):
    title = "has backordered rows"
    parameter_name = "has_backordered"
    status = RowStatus.BACKORDERED


class HasPreorderedRows(HasRowsInStatus):
    title = "has pre-ordered rows"
    parameter_name = "has_preordered"
    status = RowStatus.PREORDERED


class WaitedFilter(admin.SimpleListFilter):
    """Waiting rows (backordered and pre-ordered) by age, in the groups of the dashboard and the
    digest; "aged" is what the digest reports and links to."""

    title = "waiting for"
    parameter_name = "waited"

    def lookups(self, request, model_admin):
        return [(b.key, b.label) for b in (*age_buckets(), aged_bucket())]

    def queryset(self, request, queryset):
        chosen = {b.key: b for b in (*age_buckets(), aged_bucket())}.get(self.value())
        return rows_waiting_in(queryset, bucket=chosen) if chosen else queryset


class OrderRowInline(admin.TabularInline):
    model = OrderRow
    fields = (
        "line_no",
        "product",
        "status",
        "quantity",
        "source",
        "unit_price",
        "promise_date",
        "split_from",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class ShipmentInline(admin.TabularInline):
    model = Shipment
    fields = ("source", "shipped_at", "shipped_by")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


def _report(request, done: int, errors: list[str], what: str) -> None:
    if done:
        messages.success(request, f"{what}: {done}.")
    for error in errors:
        messages.error(request, error)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("number", "placed_at", "full_name", "email", "status_display", "rows_summary")
    list_filter = (HasBackorderedRows, HasPreorderedRows, "rows__status", "placed_at")
    search_fields = ("number", "email", "full_name", "rows__product__sku")
    date_hierarchy = "placed_at"
    readonly_fields = ("number", "user", "placed_at", "status_display")
    fields = ("number", "status_display", "placed_at", "user", "email", "full_name", "address")
    inlines = (OrderRowInline, ShipmentInline)
    actions = ("ship_allocated", "cancel_unshipped")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("rows")

    def has_add_permission(self, request):
        return False  # orders come from checkout

    @admin.display(description="status")
    def status_display(self, order):
        return order.get_status_display()

    @admin.display(description="rows")
    def rows_summary(self, order):
        units = defaultdict(int)
        for row in order.rows.all():
            units[row.status] += row.quantity
        return ", ".join(f"{units[s]} {RowStatus(s).label.lower()}" for s in RowStatus if units[s])

    @admin.action(description="Ship allocated rows (one shipment per source)", permissions=["change"])
    def ship_allocated(self, request, queryset):
        done, errors = 0, []
        pairs = (
            OrderRow.objects.filter(order__in=queryset, status=RowStatus.ALLOCATED)
            .values_list("order_id", "source_id")
            .distinct()
        )
        orders = Order.objects.in_bulk({o for o, _ in pairs})
        sources = Source.objects.in_bulk({s for _, s in pairs})
        for order_id, source_id in sorted(set(pairs)):
            try:
                shipment_create(order=orders[order_id], source=sources[source_id], user=request.user)
                done += 1
            except OrderError as exc:
                errors.append(str(exc))
        _report(request, done, errors, "Shipments created")

    @admin.action(description="Cancel unshipped rows", permissions=["change"])
    def cancel_unshipped(self, request, queryset):
        ids = list(
            OrderRow.objects.filter(
                order__in=queryset,
                status__in=[RowStatus.ALLOCATED, *WAITING],
            ).values_list("pk", flat=True)
        )
        try:
            row_cancel(row_ids=ids, user=request.user)
        except OrderError as exc:
            messages.error(request, str(exc))
            return
        _report(request, len(ids), [], "Rows cancelled")


class RowEventInline(admin.TabularInline):
    model = RowEvent
    fields = ("created_at", "from_status", "to_status", "quantity", "source", "user", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class MoveSourceForm(forms.Form):
    source = forms.ModelChoiceField(queryset=Source.objects.filter(is_active=True))


@admin.register(OrderRow)
class OrderRowAdmin(admin.ModelAdmin):
    """All rows across orders: the merchant's queue, oldest first."""

    list_display = (
        "order_link",
        "line_no",
        "product",
        "status",
        "quantity",
        "source",
        "queue_at",
        "waiting_days",
        "promise_date",
    )
    list_filter = ("status", WaitedFilter, ("product", admin.RelatedOnlyFieldListFilter), "source")
    search_fields = ("order__number", "order__email", "product__sku")
    list_select_related = ("order", "product", "source")
    ordering = ("queue_at", "order_id", "line_no", "pk")
    fields = (
        "order",
        "line_no",
        "product",
        "status",
        "quantity",
        "source",
        "unit_price",
        "queue_at",
        "promise_date",
        "split_from",
        "shipment",
    )
    readonly_fields = fields
    inlines = (RowEventInline,)
    actions = ("ship_rows", "cancel_rows", "release_rows", "move_rows")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="order", ordering="order__number")
    def order_link(self, row):
        return format_html('<a href="../order/{}/change/">{}</a>', row.order_id, row.order.number)

    @admin.display(description="waiting (days)")
    def waiting_days(self, row):
        if not row.is_waiting:
            return "—"
        return (timezone.now() - row.queue_at).days

    @admin.action(description="Ship selected allocated rows", permissions=["change"])
    def ship_rows(self, request, queryset):
        # Read the selection once: shipping changes the rows the (filtered) queryset matches.
        selected = list(queryset.select_related("order", "source"))
        groups = defaultdict(list)
        for row in selected:
            if row.status == RowStatus.ALLOCATED:
                groups[(row.order, row.source)].append(row.pk)
        done, errors = 0, []
        for (order, source), ids in groups.items():
            try:
                shipment_create(order=order, source=source, row_ids=ids, user=request.user)
                done += len(ids)
            except OrderError as exc:
                errors.append(str(exc))
        skipped = len(selected) - sum(len(ids) for ids in groups.values())
        if skipped:
            errors.append(f"{skipped} selected row(s) were not allocated and were not shipped.")
        _report(request, done, errors, "Rows shipped")

    @admin.action(description="Cancel selected rows", permissions=["change"])
    def cancel_rows(self, request, queryset):
        try:
            moved = row_cancel(row_ids=list(queryset.values_list("pk", flat=True)), user=request.user)
        except OrderError as exc:
            messages.error(request, str(exc))
            return
        _report(request, len(moved), [], "Rows cancelled")

    @admin.action(description="Release selected allocated rows back to the queue", permissions=["change"])
    def release_rows(self, request, queryset):
        done, errors = 0, []
        for pk in queryset.values_list("pk", flat=True):
            try:
                row_release(row_id=pk, user=request.user)
                done += 1
            except OrderError as exc:
                errors.append(str(exc))
        _report(request, done, errors, "Rows released")

    @admin.action(description="Move selected allocated rows to another source", permissions=["change"])
    def move_rows(self, request, queryset):
        form = MoveSourceForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            done, errors = 0, []
            for pk in queryset.values_list("pk", flat=True):
                try:
                    row_change_source(row_id=pk, source=form.cleaned_data["source"], user=request.user)
                    done += 1
                except OrderError as exc:
                    errors.append(str(exc))
            _report(request, done, errors, "Rows moved")
            return redirect(request.get_full_path())
        return render(
            request,
            "admin/orders/orderrow/move_source.html",
            {
                **self.admin_site.each_context(request),
                "title": "Move rows to another source",
                "rows": queryset.select_related("order", "product", "source"),
                "form": form,
                "opts": self.model._meta,
                "action": "move_rows",
            },
        )


@admin.register(CustomerTier)
class CustomerTierAdmin(admin.ModelAdmin):
    """Customers served first when stock returns (snapshotted on their rows at checkout)."""

    list_display = ("user", "priority")
    search_fields = ("user__username", "user__email")
    autocomplete_fields = ("user",)
    list_select_related = ("user",)
