"""Inbound supply: created, changed, received and cancelled through its services."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from ..exceptions import InventoryError
from ..forms import InboundSupplyForm
from ..inbound_import import InboundLine, inbound_existing, inbound_import_apply, inbound_parse
from ..models import InboundStatus, InboundSupply, PurchaseOrderLine
from ..services import (
    inbound_cancel,
    inbound_create,
    inbound_receive,
    inbound_update,
)
from .common import ProductSourceColumns, product_autocomplete
from .uploads import PREVIEW_PAGE_SIZE, CsvImportMixin, references_text

# -- inbound supply ----------------------------------------------------------------------


class LateFilter(admin.SimpleListFilter):
    title = "late"
    parameter_name = "late"

    def lookups(self, request, model_admin):
        return [("yes", "Open and past its expected date")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(status=InboundStatus.OPEN, expected_date__lt=timezone.localdate())
        return queryset


@admin.register(InboundSupply)
class InboundSupplyAdmin(ProductSourceColumns, CsvImportMixin, admin.ModelAdmin):
    """Expected units per source and date. Saved, received and cancelled through the services;
    never deleted (cancel it instead), and the status only moves through the actions."""

    form = InboundSupplyForm
    list_display = (
        "expected_date",
        "sku",
        "product_name",
        "source_code",
        "quantity",
        "reference",
        "status_display",
    )
    list_display_links = ("expected_date", "sku")
    list_filter = ("status", LateFilter, "source", "expected_date")
    search_fields = ("product__sku", "reference")
    list_select_related = ("product", "source")
    date_hierarchy = "expected_date"
    ordering = ("expected_date", "pk")
    actions = ("receive_selected", "cancel_selected")
    add_fields = ("source", "product", "quantity", "expected_date", "reference")
    change_fields = (*add_fields, "status_display", "created_at", "updated_at")

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.change_fields

    def get_autocomplete_fields(self, request):
        return product_autocomplete(self, request)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        if obj.status != InboundStatus.OPEN or self._of_purchase_order(obj):
            return self.change_fields
        # What arrives and when may change; where, what and under which reference may not.
        return ("source", "product", "reference", "status_display", "created_at", "updated_at")

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="status", ordering="status")
    def status_display(self, supply):
        label = supply.get_status_display()
        if supply.status == InboundStatus.OPEN and supply.expected_date:
            late = (timezone.localdate() - supply.expected_date).days
            if late > 0:
                return format_html('{} <strong class="inbound-late">— late {} day(s)</strong>', label, late)
        return label

    # -- saving through the services ---------------------------------------------------

    def save_model(self, request, obj, form, change):
        if change:
            saved = inbound_update(supply=obj, quantity=obj.quantity, expected_date=obj.expected_date)
        else:
            saved = inbound_create(
                source=obj.source,
                product=obj.product,
                quantity=obj.quantity,
                expected_date=obj.expected_date,
                reference=obj.reference,
            )
        for name in ("pk", "status", "created_at", "updated_at"):
            setattr(obj, name, getattr(saved, name))
        obj._state.adding, obj._state.db = False, saved._state.db

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except InventoryError as exc:
            # The supply changed under the form (received or cancelled meanwhile): nothing saved.
            self.message_user(request, f"Nothing was saved: {exc}", messages.ERROR)
            return redirect(request.get_full_path())

    @staticmethod
    def _of_purchase_order(supply) -> bool:
        return PurchaseOrderLine.objects.filter(inbound=supply).exists()

    def _without_purchase_lines(self, request, queryset):
        """A purchase order's supply moves with its order (received or cancelled there), so its
        line's received units and the supply never disagree."""
        owned = list(queryset.filter(purchase_line__isnull=False).values_list("reference", flat=True))
        if owned:
            self.message_user(
                request,
                f"Left alone, they belong to purchase orders (receive or cancel them there): "
                f"{references_text(owned)}.",
                messages.WARNING,
            )
        return queryset.filter(purchase_line__isnull=True)

    # -- actions -------------------------------------------------------------------------

    @admin.action(description="Receive selected inbound supply", permissions=["change"])
    def receive_selected(self, request, queryset):
        queryset = self._without_purchase_lines(request, queryset)
        received, closed, already, refused = [], [], [], []
        for supply in queryset.select_related("source", "product").order_by("expected_date", "pk"):
            if supply.status == InboundStatus.RECEIVED:
                already.append(supply.reference)
                continue
            if supply.status == InboundStatus.CANCELLED:
                refused.append(supply.reference)
                continue
            try:
                result = inbound_receive(supply=supply, user=request.user)
            except InventoryError:  # cancelled meanwhile
                refused.append(supply.reference)
                continue
            (received if result.created else closed).append(supply)
        if received:
            units = sum(s.quantity for s in received)
            self.message_user(
                request,
                f"Received {len(received)} inbound supply line(s), {units} unit(s): "
                + references_text([s.reference for s in received])
                + ".",
                messages.SUCCESS,
            )
        if closed:
            self.message_user(
                request,
                "Marked received without adding units, their reference was already received at "
                "the source: " + references_text([s.reference for s in closed]) + ".",
                messages.WARNING,
            )
        if already:
            self.message_user(
                request, f"Already received, nothing added: {references_text(already)}.", messages.WARNING
            )
        if refused:
            self.message_user(
                request,
                f"Cancelled, not received: {references_text(refused)}. Use Receive stock for units "
                "that arrived anyway.",
                messages.ERROR,
            )

    @admin.action(description="Cancel selected inbound supply", permissions=["change"])
    def cancel_selected(self, request, queryset):
        queryset = self._without_purchase_lines(request, queryset)
        cancelled, received, already = [], [], []
        for supply in queryset.order_by("expected_date", "pk"):
            if supply.status == InboundStatus.CANCELLED:
                already.append(supply.reference)
                continue
            if supply.status == InboundStatus.RECEIVED:
                received.append(supply.reference)
                continue
            try:
                inbound_cancel(supply=supply)
            except InventoryError:  # received meanwhile
                received.append(supply.reference)
                continue
            cancelled.append(supply.reference)
        if cancelled:
            self.message_user(
                request,
                f"Cancelled {len(cancelled)} inbound supply line(s): {references_text(cancelled)}.",
                messages.SUCCESS,
            )
        if already:
            self.message_user(request, f"Already cancelled: {references_text(already)}.", messages.WARNING)
        if received:
            self.message_user(
                request,
                f"Already received, cannot be cancelled: {references_text(received)}.",
                messages.ERROR,
            )

    # -- CSV import: preview, then inbound_import_apply ----------------------------------

    import_kind = "import"
    import_url_name = "inventory_inboundsupply_import"
    import_columns = ("source", "sku", "quantity", "expected_date", "reference")
    import_example = (
        "source,sku,quantity,expected_date,reference\n"
        "main,KETTLE-1,120,2026-03-02,PO-2210\n"
        "main,TEAPOT-1,40,2026-03-16,PO-2211"
    )
    import_title = "Import inbound supply CSV"
    import_intro = (
        "Each line records units expected at a source on a date (YYYY-MM-DD). A line whose "
        "source, SKU and reference are already recorded is skipped, so importing a file twice "
        "adds nothing."
    )
    import_preview_template = "admin/inventory/inboundsupply/import_preview.html"
    import_parse = staticmethod(inbound_parse)

    def get_urls(self):
        return [*self.import_urls(), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_import": self.has_add_permission(request)}
        return super().changelist_view(request, extra_context=extra_context)

    def import_check_permission(self, request) -> None:
        if not self.has_add_permission(request):
            raise PermissionDenied

    def import_preview_context(self, request, lines: list[InboundLine]) -> dict:
        existing = inbound_existing(lines=lines)
        today = timezone.localdate()
        rows = [(line, existing.get(line.key)) for line in lines]
        new = [line for line, found in rows if found is None]
        return {
            "line_page": Paginator(rows, PREVIEW_PAGE_SIZE).get_page(request.GET.get("page")),
            "totals": {
                "lines": len(lines),
                "new": len(new),
                "skipped": len(lines) - len(new),
                "units": sum(line.quantity for line in new),
                "products": len({line.product.pk for line in lines}),
                "sources": len({line.source.pk for line in lines}),
                "first": min((line.expected_date for line in new), default=None),
                "last": max((line.expected_date for line in new), default=None),
                "late": sum(1 for line in new if line.expected_date < today),
            },
            "today": today,
        }

    def import_apply(self, request, lines: list[InboundLine], *, name: str) -> bool:
        try:
            result = inbound_import_apply(lines=lines)
        except (InventoryError, IntegrityError) as exc:
            reason = exc if isinstance(exc, InventoryError) else "another import added the same references"
            self.message_user(request, f"{name}: nothing was applied ({reason}). Try again.", messages.ERROR)
            return False
        if result.created:
            created = len(result.created)
            message = f"{name}: imported {created} inbound supply line(s), {result.units} unit(s)."
            if result.skipped:
                message += f" {len(result.skipped)} line(s) already recorded — skipped."
            self.message_user(request, message, messages.SUCCESS)
        else:
            self.message_user(
                request,
                f"{name}: every one of its {len(result.skipped)} line(s) was already recorded; "
                "nothing added.",
                messages.WARNING,
            )
        return True

    def import_done_url(self, request) -> str:
        return reverse("admin:inventory_inboundsupply_changelist")
