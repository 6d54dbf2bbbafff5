"""Suppliers with their terms, and purchase orders: drafted with lines inline, sent, cancelled,
received and closed short through inventory.services.purchasing. Each model keeps its own
permissions: a clerk may see purchase orders without changing them, or send them without
receiving stock."""

import secrets

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F, Q
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import linebreaksbr
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..exceptions import InventoryError
from ..models import (
    PURCHASE_ORDER_MOVES,
    PURCHASE_ORDER_RECEIVABLE,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    Source,
    Supplier,
    SupplierProduct,
)
from ..selectors import purchase_lines_late
from ..services import (
    DraftLine,
    LineReceipt,
    purchase_order_cancel,
    purchase_order_check_lines,
    purchase_order_close_short,
    purchase_order_create_draft,
    purchase_order_receive_many,
    purchase_order_send,
    purchase_order_set_lines,
)
from ..services.purchasing import DELIVERY_MAX
from .common import MOVE_STOCK_PERMISSION, product_autocomplete

# -- suppliers -----------------------------------------------------------------------------


class SupplierProductInline(admin.TabularInline):
    """A supplier's terms per product (its own permissions: supplier terms)."""

    model = SupplierProduct
    fields = (
        "product",
        "supplier_sku",
        "cost_price",
        "lead_time_days",
        "min_order_qty",
        "pack_size",
        "is_preferred",
    )
    extra = 0

    def get_autocomplete_fields(self, request):
        return product_autocomplete(self, request)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "lead_time_days", "currency", "products")
    search_fields = ("name", "email")
    inlines = (SupplierProductInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(product_count=Count("terms"))

    @admin.display(description="products", ordering="product_count")
    def products(self, supplier):
        return supplier.product_count


# -- purchase orders -----------------------------------------------------------------------


def late_days(line: PurchaseOrderLine, today) -> int:
    """Days a line of a sent order is overdue with units still to come (0: not late)."""
    if line.purchase_order.status not in PURCHASE_ORDER_RECEIVABLE or not line.outstanding:
        return 0
    return max(0, (today - line.expected_date).days)


class LateOrdersFilter(admin.SimpleListFilter):
    title = "late"
    parameter_name = "late"

    def lookups(self, request, model_admin):
        return [("yes", "A line is past its expected date")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            late = purchase_lines_late(today=timezone.localdate())
            return queryset.filter(pk__in=late.values("purchase_order_id"))
        return queryset


class PurchaseOrderLineForm(forms.ModelForm):
    class Meta:
        model = PurchaseOrderLine
        fields = ("product", "source", "quantity", "unit_cost", "expected_date")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "unit_cost" in self.fields:
            self.fields["unit_cost"].required = False
            self.fields["unit_cost"].help_text = gettext_lazy("Empty: the supplier's cost price.")
            self.fields["expected_date"].required = False
            self.fields["expected_date"].help_text = gettext_lazy("Empty: today + the lead time.")
            self.fields["source"].queryset = Source.objects.filter(is_active=True)


class PurchaseOrderLineFormSet(forms.BaseInlineFormSet):
    def draft_lines(self) -> list[DraftLine]:
        return [
            DraftLine(
                product=form.cleaned_data["product"],
                quantity=form.cleaned_data["quantity"],
                source=form.cleaned_data["source"],
                unit_cost=form.cleaned_data.get("unit_cost"),
                expected_date=form.cleaned_data.get("expected_date"),
            )
            for form in self.forms
            if form.has_changed() or form.instance.pk
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]

    def clean(self):
        super().clean()
        if any(self.errors) or not self.instance.supplier_id:
            return
        try:
            purchase_order_check_lines(supplier=self.instance.supplier, lines=self.draft_lines())
        except InventoryError as exc:
            raise ValidationError(str(exc)) from exc


class PurchaseOrderLineInline(admin.TabularInline):
    """A draft's lines are edited here (saved through purchase_order_set_lines); a sent order's
    are read-only, with what was received and whether they are late."""

    model = PurchaseOrderLine
    form = PurchaseOrderLineForm
    formset = PurchaseOrderLineFormSet
    extra = 1
    draft_fields = ("product", "source", "quantity", "unit_cost", "expected_date")
    sent_fields = (
        "line_no",
        "product",
        "source",
        "quantity",
        "unit_cost",
        "expected_status",
        "received_quantity",
    )

    def get_autocomplete_fields(self, request):
        return product_autocomplete(self, request)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product", "source", "purchase_order")

    def _is_draft(self, obj) -> bool:
        return obj is None or obj.status == PurchaseOrderStatus.DRAFT

    def get_fields(self, request, obj=None):
        return self.draft_fields if self._is_draft(obj) else self.sent_fields

    def get_readonly_fields(self, request, obj=None):
        return () if self._is_draft(obj) else self.sent_fields

    def get_extra(self, request, obj=None, **kwargs):
        return self.extra if self._is_draft(obj) else 0

    def has_add_permission(self, request, obj=None):
        return self._is_draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._is_draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._is_draft(obj) and super().has_delete_permission(request, obj)

    @admin.display(description="expected")
    def expected_status(self, line):
        late = late_days(line, timezone.localdate())
        if late:
            return format_html(
                '{} <strong class="purchase-late">— {}</strong>',
                line.expected_date,
                _("late %(days)s day(s)") % {"days": late},
            )
        return line.expected_date


def closable_short(order: PurchaseOrder) -> bool:
    return PurchaseOrderStatus.CLOSED_SHORT in PURCHASE_ORDER_MOVES[order.status]


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(admin.ModelAdmin):
    list_display = ("number", "supplier", "status", "line_count", "late_lines", "created_at", "sent_at")
    list_filter = ("status", LateOrdersFilter, "supplier")
    search_fields = ("number", "supplier__name")
    list_select_related = ("supplier",)
    inlines = (PurchaseOrderLineInline,)
    actions = ("send_selected", "cancel_selected", "receive_selected")
    readonly_fields = (
        "number",
        "status",
        "currency",
        "created_by",
        "created_at",
        "sent_at",
        "received_at",
        "cancelled_at",
        "receive_link",
        "history",
    )

    def _order_fields(self, request, obj) -> tuple[str, ...]:
        # The close-short link only for those who may change the order.
        if closable_short(obj) and self.has_change_permission(request, obj):
            return (*self.readonly_fields, "close_short_link")
        return self.readonly_fields

    def get_fields(self, request, obj=None):
        return ("supplier",) if obj is None else ("supplier", *self._order_fields(request, obj))

    def get_readonly_fields(self, request, obj=None):
        # The supplier is chosen once: a draft's costs and dates come from its terms.
        return () if obj is None else (*self._order_fields(request, obj), "supplier")

    def get_queryset(self, request):
        late = Q(
            lines__expected_date__lt=timezone.localdate(),
            lines__received_quantity__lt=F("lines__quantity"),
            status__in=PURCHASE_ORDER_RECEIVABLE,
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                line_total=Count("lines", distinct=True),
                late_total=Count("lines", filter=late, distinct=True),
            )
        )

    def has_delete_permission(self, request, obj=None):
        return False  # cancel it instead: a sent order's history stays

    @admin.display(description="lines", ordering="line_total")
    def line_count(self, order):
        return order.line_total

    @admin.display(description="late lines", ordering="late_total")
    def late_lines(self, order):
        if order.late_total:
            return format_html('<strong class="purchase-late">{}</strong>', order.late_total)
        return 0

    @admin.display(description="receive")
    def receive_link(self, order):
        if order.status not in PURCHASE_ORDER_RECEIVABLE:
            return "—"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:inventory_purchaseorder_receive", args=[order.pk]),
            _("Receive a delivery"),
        )

    @admin.display(description="close short")
    def close_short_link(self, order):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:inventory_purchaseorder_close_short", args=[order.pk]),
            _("Close short: the rest will not come"),
        )

    @admin.display(description="history")
    def history(self, order):
        """Each move, who made it and why (a close short keeps its reason and what did not come)."""
        events = order.events.select_related("user")
        return format_html(
            "<ol>{}</ol>",
            format_html_join(
                "",
                "<li>{}: {} → {}{}{}</li>",
                (
                    (
                        timezone.localtime(event.created_at).strftime("%Y-%m-%d %H:%M"),
                        event.get_from_status_display() or "new",
                        event.get_to_status_display(),
                        f" ({event.user})" if event.user else "",
                        linebreaksbr(f"\n{event.note}") if event.note else "",
                    )
                    for event in events
                ),
            ),
        )

    # -- saving through the services -------------------------------------------------------

    def save_model(self, request, obj, form, change):
        if change:
            return  # nothing of the order itself is edited here; its lines are (save_formset)
        saved = purchase_order_create_draft(supplier=obj.supplier, lines=[], user=request.user)
        for name in ("pk", "number", "status", "currency", "created_by", "created_at", "updated_at"):
            setattr(obj, name, getattr(saved, name))
        obj._state.adding, obj._state.db = False, saved._state.db

    def save_formset(self, request, form, formset, change):
        order = form.instance
        if formset.model is PurchaseOrderLine and order.status == PurchaseOrderStatus.DRAFT:
            if not change or formset.has_changed():
                saved = purchase_order_set_lines(purchase_order=order, lines=formset.draft_lines())
                # What the change message (history) reads: the lines now on the draft.
                formset.new_objects, formset.changed_objects, formset.deleted_objects = saved, [], []
            return
        super().save_formset(request, form, formset, change)

    # -- actions -----------------------------------------------------------------------------

    def _each(self, request, queryset, service, done: str):
        moved = []
        for order in queryset.order_by("pk"):
            try:
                service(purchase_order=order, user=request.user)
            except InventoryError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            moved.append(order.number)
        if moved:
            self.message_user(request, done % {"numbers": ", ".join(moved)}, messages.SUCCESS)

    @admin.action(
        description=gettext_lazy("Send selected purchase orders to their suppliers"), permissions=["change"]
    )
    def send_selected(self, request, queryset):
        self._each(
            request,
            queryset,
            purchase_order_send,
            _("Sent %(numbers)s: emailed to the supplier, now inbound."),
        )

    @admin.action(description=gettext_lazy("Cancel selected purchase orders"), permissions=["change"])
    def cancel_selected(self, request, queryset):
        self._each(
            request,
            queryset,
            purchase_order_cancel,
            _("Cancelled %(numbers)s; their inbound supply is gone."),
        )

    @admin.action(
        description=gettext_lazy("Receive a delivery for the selected purchase order"),
        permissions=["receive"],
    )
    def receive_selected(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Select one purchase order to receive."), messages.WARNING)
            return None
        return redirect("admin:inventory_purchaseorder_receive", queryset.get().pk)

    def has_receive_permission(self, request, obj=None) -> bool:
        """Receiving changes the order and writes stock: both permissions."""
        return self.has_change_permission(request, obj) and request.user.has_perm(MOVE_STOCK_PERMISSION)

    # -- the receive page --------------------------------------------------------------------

    def get_urls(self):
        receive = path(
            "<int:pk>/receive/",
            self.admin_site.admin_view(self.receive_view),
            name="inventory_purchaseorder_receive",
        )
        close_short = path(
            "<int:pk>/close-short/",
            self.admin_site.admin_view(self.close_short_view),
            name="inventory_purchaseorder_close_short",
        )
        return [receive, close_short, *super().get_urls()]

    def receive_view(self, request, pk: int):
        order = get_object_or_404(PurchaseOrder.objects.select_related("supplier"), pk=pk)
        if not self.has_receive_permission(request, order):
            raise PermissionDenied
        lines = list(order.lines.select_related("product", "source").order_by("line_no"))
        for line in lines:
            line.purchase_order = order
        form = ReceiveDeliveryForm(request.POST or None, lines=lines)
        if request.method == "POST" and form.is_valid():
            receipts = [
                LineReceipt(
                    line=line, quantity=quantity, source=source, delivery=form.cleaned_data["delivery"]
                )
                for line, quantity, source in form.receipts()
            ]
            try:
                results = purchase_order_receive_many(receipts=receipts, user=request.user)
            except InventoryError as exc:
                form.add_error(None, str(exc))
            else:
                for result in results:
                    self.message_user(
                        request, result.message, messages.SUCCESS if result.created else messages.WARNING
                    )
                return redirect("admin:inventory_purchaseorder_change", order.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "has_view_permission": self.has_view_permission(request),
            "title": _("Receive a delivery for %(number)s") % {"number": order.number},
            "order": order,
            "form": form,
            "rows": form.rows(),
        }
        return TemplateResponse(request, "admin/inventory/purchaseorder/receive.html", context)

    # -- the close-short page ----------------------------------------------------------------

    def close_short_view(self, request, pk: int):
        order = get_object_or_404(PurchaseOrder.objects.select_related("supplier"), pk=pk)
        if not self.has_change_permission(request, order):
            raise PermissionDenied
        form = CloseShortForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                purchase_order_close_short(
                    purchase_order=order, user=request.user, reason=form.cleaned_data["reason"]
                )
            except InventoryError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    _("Closed %(number)s short; what was not delivered is no longer inbound.")
                    % {"number": order.number},
                    messages.SUCCESS,
                )
                return redirect("admin:inventory_purchaseorder_change", order.pk)
        lines = order.lines.select_related("product").order_by("line_no")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "has_view_permission": self.has_view_permission(request),
            "title": _("Close %(number)s short") % {"number": order.number},
            "order": order,
            "closable": closable_short(order),
            "form": form,
            "lines": [line for line in lines if line.outstanding],
        }
        return TemplateResponse(request, "admin/inventory/purchaseorder/close_short.html", context)


class CloseShortForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "What the supplier said. Kept in the order's history with the units not delivered."
        ),
    )


class ReceiveDeliveryForm(forms.Form):
    """Units that arrived per line of one order, and where; one delivery reference for all."""

    delivery = forms.CharField(
        label=gettext_lazy("delivery"),
        max_length=DELIVERY_MAX,
        help_text=gettext_lazy(
            "The supplier's delivery note. Each line's receipt is referenced <line>/<delivery>: "
            "the same delivery submitted twice adds once."
        ),
    )

    def __init__(self, *args, lines: list[PurchaseOrderLine], **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = [line for line in lines if line.outstanding]
        # A fresh reference per page: a double submit of this page receives once.
        self.fields["delivery"].initial = f"ADM-{secrets.token_hex(4)}"
        sources = Source.objects.filter(is_active=True)
        for line in self.lines:
            self.fields[f"quantity_{line.pk}"] = forms.IntegerField(
                label=f"{line.reference} {line.product.sku}",
                min_value=0,
                max_value=line.outstanding,
                required=False,
                initial=0,
                # in a table row: the label a screen reader reads for the input
                widget=forms.NumberInput(attrs={"aria-label": f"Units of {line.reference} that arrived now"}),
            )
            self.fields[f"source_{line.pk}"] = forms.ModelChoiceField(
                queryset=sources,
                initial=line.source_id,
                required=False,  # empty: the line's own
                widget=forms.Select(attrs={"aria-label": f"Where {line.reference} arrives"}),
            )

    def rows(self) -> list[tuple]:
        return [(line, self[f"quantity_{line.pk}"], self[f"source_{line.pk}"]) for line in self.lines]

    def receipts(self) -> list[tuple]:
        data = self.cleaned_data
        return [
            (line, data[f"quantity_{line.pk}"], data.get(f"source_{line.pk}"))
            for line in self.lines
            if data.get(f"quantity_{line.pk}")
        ]

    def clean(self):
        data = super().clean()
        if not self.errors and not self.receipts():
            raise ValidationError(_("Enter the units that arrived for at least one line."))
        return data
