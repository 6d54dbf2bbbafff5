"""Merchant admin for orders and their rows. Every action calls a service."""

from collections import defaultdict

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html
from import_export.admin import ExportMixin

from catalog.models import Product
from catalog.resources import SafeCSV
from inventory.models import Source

from ..exceptions import InvalidTracking, OrderError
from ..models import WAITING, CustomerTier, Order, OrderNote, OrderRow, RowEvent, RowStatus, Shipment
from ..selectors import age_buckets, aged_bucket, rows_waiting_in
from ..services import (
    order_note_add,
    row_cancel,
    row_change_source,
    row_release,
    shipment_create,
    shipment_tracking_change,
    tracking_clean,
)
from .exports import ROW_COLUMNS, OrderResource, OrderRowResource, rows_summary, waiting_days
from .scale import AutocompleteFilter, LargeTablePaginator

SEARCH_HELP = "Exact order number, customer email or SKU (not case-sensitive)."


def exact_search(term: str) -> tuple[list[int], object]:
    """What a search term names, not case-sensitive: the products whose SKU it is (the
    catalogue is small), else the orders whose number or email it is (a subquery served by two
    indexes, orders 0007). A SKU is not also an order number ("R-…") or an email."""
    products = list(Product.objects.filter(sku__iexact=term.strip()).values_list("pk", flat=True))
    orders = Order.objects.filter(Q(number__iexact=term.strip()) | Q(email__iexact=term.strip()))
    return products, orders.values("pk")


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
    fields = ("source", "shipped_at", "shipped_by", "carrier", "tracking")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_fields(self, request, obj=None):
        # orders.change_shipment: a link to correct a parcel's tracking (shipment_tracking_view)
        if self.has_change_permission(request, obj):
            return (*self.fields, "correct_tracking")
        return self.fields

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="correct")
    def correct_tracking(self, shipment):
        url = reverse(
            "admin:orders_order_shipment_tracking",
            args=[shipment.order_id, shipment.pk],
            current_app=self.admin_site.name,
        )
        return format_html('<a href="{}">Correct tracking</a>', url)

    @admin.display(description="tracking")
    def tracking(self, shipment):
        if shipment.tracking_url:
            return format_html(
                '<a href="{}" rel="noopener" target="_blank">{}</a>',
                shipment.tracking_url,
                shipment.tracking_number,
            )
        return shipment.tracking_number or "—"


ADD_NOTE = "orders.add_ordernote"
CHANGE_SHIPMENT = "orders.change_shipment"


class OrderNoteForm(forms.Form):
    text = forms.CharField(
        label="New note", widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), max_length=5000
    )


class ShipmentTrackingForm(forms.Form):
    """One parcel of the ship action: which order and source, and (optionally) its tracking."""

    order_id = forms.IntegerField(widget=forms.HiddenInput)
    source_id = forms.IntegerField(widget=forms.HiddenInput)
    carrier = forms.ChoiceField(required=False)
    tracking_number = forms.CharField(required=False, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        carriers = settings.SHIPPING_CARRIERS
        self.fields["carrier"].choices = [("", "— none —"), *((k, c["name"]) for k, c in carriers.items())]

    def clean(self):
        data = super().clean()
        try:
            data["carrier"], data["tracking_number"] = tracking_clean(
                carrier=data.get("carrier", ""), tracking_number=data.get("tracking_number", "")
            )
        except InvalidTracking as exc:
            self.add_error(exc.field, str(exc))
        return data


ShipmentTrackingFormSet = forms.formset_factory(ShipmentTrackingForm, extra=0)


class TrackingCorrectionForm(forms.Form):
    """A shipped parcel's corrected carrier and tracking number (shipment_tracking_change checks them)."""

    carrier = forms.ChoiceField()
    tracking_number = forms.CharField(max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["carrier"].choices = [(k, c["name"]) for k, c in settings.SHIPPING_CARRIERS.items()]


def ship_with_tracking(model_admin, request, groups: dict, *, action: str, what: str = "Shipments created"):
    """The ship actions' intermediate page: one parcel per (order, source), each with an
    optional carrier and tracking number; on "apply", one shipment per parcel. ``groups``
    maps (order, source) to the row ids to ship (None: all allocated there)."""
    by_key = {(order.pk, source.pk): (order, source, ids) for (order, source), ids in groups.items()}
    if "apply" in request.POST:
        formset = ShipmentTrackingFormSet(request.POST, prefix="ship")
        if formset.is_valid():
            done, errors = 0, []
            for data in formset.cleaned_data:
                found = by_key.get((data["order_id"], data["source_id"]))
                if found is None:
                    errors.append(f"Order {data['order_id']}: nothing left to ship from that source.")
                    continue
                order, source, ids = found
                try:
                    shipment_create(
                        order=order,
                        source=source,
                        row_ids=ids,
                        user=request.user,
                        carrier=data["carrier"],
                        tracking_number=data["tracking_number"],
                    )
                    done += len(ids) if ids else 1  # rows when rows were chosen, else shipments
                except OrderError as exc:
                    errors.append(str(exc))
            _report(request, done, errors, what)
            return None
    else:
        formset = ShipmentTrackingFormSet(
            prefix="ship", initial=[{"order_id": o, "source_id": s} for o, s in by_key]
        )
    parcels = [(form, *_parcel(by_key, form)) for form in formset]
    return render(
        request,
        "admin/orders/ship.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": "Ship: carrier and tracking number (optional)",
            "formset": formset,
            "parcels": parcels,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "opts": model_admin.model._meta,
            "action": action,
        },
    )


def _parcel(by_key: dict, form) -> tuple:
    try:
        return by_key[(int(form["order_id"].value()), int(form["source_id"].value()))]
    except (KeyError, TypeError, ValueError):
        return (None, None, None)


def _report(request, done: int, errors: list[str], what: str) -> None:
    if done:
        messages.success(request, f"{what}: {done}.")
    for error in errors:
        messages.error(request, error)


@admin.register(Order)
class OrderAdmin(ExportMixin, admin.ModelAdmin):
    list_display = ("number", "placed_at", "full_name", "email", "status_display", "rows_summary")
    list_filter = (HasBackorderedRows, HasPreorderedRows, "rows__status", "placed_at")
    # Exact matches through indexes (get_search_results): a substring search reads every order.
    search_fields = ("number", "email", "rows__product__sku")
    search_help_text = SEARCH_HELP
    paginator = LargeTablePaginator
    show_full_result_count = False
    resource_classes = [OrderResource]  # "Export": the list's columns as CSV
    export_formats = [SafeCSV]
    skip_export_form = True  # one format, every column: the button downloads the list
    readonly_fields = ("number", "user", "placed_at", "status_display")
    fields = ("number", "status_display", "placed_at", "user", "email", "full_name", "address")
    inlines = (OrderRowInline, ShipmentInline)
    actions = ("ship_allocated", "cancel_unshipped")
    change_form_template = "admin/orders/order_change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("rows")

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        products, orders = exact_search(search_term)
        if products:
            orders = OrderRow.objects.filter(product_id__in=products).values("order_id")
        return queryset.filter(pk__in=orders), False

    def has_add_permission(self, request):
        return False  # orders come from checkout

    def has_delete_permission(self, request, obj=None):
        return False  # an order is a record of money and stock: its rows are cancelled, not deleted

    # -- staff notes: a journal on the order page, added through a small form of its own, so
    # staff who may only view orders (and add notes) can keep it --

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "<path:object_id>/notes/add/",
                self.admin_site.admin_view(self.note_add_view),
                name=f"{opts.app_label}_{opts.model_name}_note_add",
            ),
            path(
                "<path:object_id>/shipments/<int:shipment_id>/tracking/",
                self.admin_site.admin_view(self.shipment_tracking_view),
                name=f"{opts.app_label}_{opts.model_name}_shipment_tracking",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        extra_context["notes"] = OrderNote.objects.filter(order_id=unquote(object_id)).select_related(
            "author"
        )
        extra_context["can_add_note"] = request.user.has_perm(ADD_NOTE)
        extra_context["note_form"] = OrderNoteForm()
        return super().change_view(request, object_id, form_url, extra_context)

    def note_add_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        order = get_object_or_404(Order, pk=unquote(object_id))
        if not (request.user.has_perm(ADD_NOTE) and self.has_view_permission(request, order)):
            raise PermissionDenied
        form = OrderNoteForm(request.POST)
        if form.is_valid():
            try:
                order_note_add(order=order, text=form.cleaned_data["text"], author=request.user)
            except OrderError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"Note added to order {order.number}.")
        else:
            messages.error(request, f"Order {order.number}: a note needs some text; nothing was added.")
        return redirect(
            reverse("admin:orders_order_change", args=[order.pk], current_app=self.admin_site.name)
        )

    def shipment_tracking_view(self, request, object_id, shipment_id):
        """Correct a shipped parcel's carrier and tracking number (orders.change_shipment)."""
        if not request.user.has_perm(CHANGE_SHIPMENT):
            raise PermissionDenied
        shipment = get_object_or_404(
            Shipment.objects.select_related("order", "source"), pk=shipment_id, order_id=unquote(object_id)
        )
        order = shipment.order
        if not self.has_view_permission(request, order):
            raise PermissionDenied
        change_url = reverse("admin:orders_order_change", args=[order.pk], current_app=self.admin_site.name)
        if request.method == "POST":
            form = TrackingCorrectionForm(request.POST)
            if form.is_valid():
                try:
                    changed = shipment_tracking_change(
                        shipment=shipment,
                        carrier=form.cleaned_data["carrier"],
                        tracking_number=form.cleaned_data["tracking_number"],
                        user=request.user,
                    )
                except InvalidTracking as exc:
                    form.add_error(exc.field, str(exc))
                except OrderError as exc:
                    form.add_error(None, str(exc))
                else:
                    messages.success(
                        request,
                        f"Shipment {changed.pk} of order {order.number} now has {changed.carrier_name} "
                        f"{changed.tracking_number}; the customer is emailed the new tracking link.",
                    )
                    return redirect(change_url)
        else:
            form = TrackingCorrectionForm(
                initial={"carrier": shipment.carrier, "tracking_number": shipment.tracking_number}
            )
        return render(
            request,
            "admin/orders/shipment_tracking.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Correct the tracking of shipment {shipment.pk} (order {order.number})",
                "opts": self.model._meta,
                "original": order,
                "shipment": shipment,
                "form": form,
                "change_url": change_url,
            },
        )

    @admin.display(description="status")
    def status_display(self, order):
        return order.get_status_display()

    @admin.display(description="rows")
    def rows_summary(self, order):
        return rows_summary(order)

    @admin.action(description="Ship allocated rows (one shipment per source)", permissions=["change"])
    def ship_allocated(self, request, queryset):
        pairs = (
            OrderRow.objects.filter(order__in=queryset, status=RowStatus.ALLOCATED)
            .values_list("order_id", "source_id")
            .distinct()
        )
        orders = Order.objects.in_bulk({o for o, _ in pairs})
        sources = Source.objects.in_bulk({s for _, s in pairs})
        groups = {(orders[o], sources[s]): None for o, s in sorted(set(pairs))}
        if not groups:
            messages.error(request, "Nothing allocated to ship in the selected orders.")
            return None
        return ship_with_tracking(self, request, groups, action="ship_allocated")

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
class OrderRowAdmin(ExportMixin, admin.ModelAdmin):
    """All rows across orders: the merchant's queue, oldest first."""

    list_display = ("order_link", *ROW_COLUMNS[1:])
    list_filter = ("status", WaitedFilter, ("product", AutocompleteFilter), "source")
    # Exact matches through indexes (get_search_results): a substring search reads every row.
    search_fields = ("order__number", "order__email", "product__sku")
    search_help_text = SEARCH_HELP
    list_select_related = ("order", "product", "source")
    ordering = ("queue_at", "order_id", "line_no", "pk")  # index row_admin_queue
    paginator = LargeTablePaginator
    show_full_result_count = False
    resource_classes = [OrderRowResource]  # "Export": the list's columns as CSV
    export_formats = [SafeCSV]
    skip_export_form = True  # one format, every column: the button downloads the list
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

    @property
    def media(self):
        return super().media + AutocompleteFilter.filter_media(
            OrderRow._meta.get_field("product"), self.admin_site
        )

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        products, orders = exact_search(search_term)
        matching = {"product_id__in": products} if products else {"order_id__in": orders}
        return queryset.filter(**matching), False

    @admin.display(description="order", ordering="order__number")
    def order_link(self, row):
        return format_html('<a href="../order/{}/change/">{}</a>', row.order_id, row.order.number)

    @admin.display(description="waiting (days)")
    def waiting_days(self, row):
        return waiting_days(row)

    @admin.action(description="Ship selected allocated rows", permissions=["change"])
    def ship_rows(self, request, queryset):
        # Read the selection once: shipping changes the rows the (filtered) queryset matches.
        selected = list(queryset.select_related("order", "source"))
        groups = defaultdict(list)
        for row in selected:
            if row.status == RowStatus.ALLOCATED:
                groups[(row.order, row.source)].append(row.pk)
        skipped = len(selected) - sum(len(ids) for ids in groups.values())
        if skipped:
            messages.error(request, f"{skipped} selected row(s) were not allocated and are not shipped.")
        if not groups:
            return None
        return ship_with_tracking(self, request, dict(groups), action="ship_rows", what="Rows shipped")

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
