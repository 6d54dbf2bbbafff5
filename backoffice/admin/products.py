"""The product admin: catalog's fields and effective settings, plus availability and stock.

Registered in backoffice, not in catalog, because the availability column (orders.selectors)
and the stock inline (inventory) come from apps above catalog.
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import MaxValueValidator
from django.db.models import Count, Sum
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from import_export.admin import ImportExportMixin
from import_export.forms import ExportForm

from catalog.admin import ProductAdminBase, ProductImageInline, describe_effective
from catalog.availability import Availability, PreOrder, is_preorder
from catalog.models import POLICY_FIELD_NAMES, Product, Sourcing
from catalog.resources import USE_GLOBAL, ProductResource, SafeCSV, SafeXLSX
from catalog.selectors import global_settings_get, product_policy
from catalog.services import products_set_policy
from inventory.admin import StockInline
from inventory.models import Source, Stock
from inventory.selectors import stocks_in_priority
from orders.models import WAITING, OrderRow
from orders.selectors import availability_for_many
from orders.services import allocation_preview, backorders_allocate

# Allocating and previewing allocations change (or show what would change) order rows.
ALLOCATE_PERMISSION = "orders.change_orderrow"
PREVIEW_ROW_LIMIT = 500  # waiting rows walked by the preview page


def salable_text(avail: Availability) -> str:
    """The numbers behind the badge: free, waiting, and what a new order can get."""
    figures = avail.figures
    waiting = figures.waiting_backorder + figures.waiting_preorder
    kind = "pre-order" if isinstance(avail, PreOrder) else "backorder"
    headroom = avail.headroom
    salable = f"{avail.stock_salable}"
    if headroom is None:
        salable += f" + unlimited {kind}"
    elif headroom:
        salable += f" + {headroom} {kind}"
    return f"free {figures.free} · waiting {waiting} · salable {salable}"


class RestockPreviewForm(forms.Form):
    source = forms.ModelChoiceField(
        queryset=Source.objects.filter(is_active=True).order_by("priority", "code"),
        empty_label=None,
        help_text="Where the units would arrive.",
    )
    units = forms.IntegerField(min_value=1, help_text="Units the restock would bring.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        maximum = settings.RESTOCK_MAX_QUANTITY  # read per form: tests may change it
        units = self.fields["units"]
        units.max_value = maximum
        units.validators.append(MaxValueValidator(maximum))
        units.widget.attrs["max"] = maximum


class SetPolicyForm(forms.Form):
    """The bulk action's choice: one setting, and "use global" or the products' own value."""

    setting = forms.ChoiceField(
        choices=[(name, Product._meta.get_field(name).verbose_name) for name in POLICY_FIELD_NAMES]
    )
    value = forms.CharField(
        required=False,
        help_text=f"The products' own value, or “{USE_GLOBAL}” to use the global setting. "
        "Empty for a limit: unlimited.",
    )

    def clean(self):
        data = super().clean()
        name, text = data.get("setting"), (data.get("value") or "").strip()
        if name is None:
            return data
        data["use_global"] = text.lower() == USE_GLOBAL
        data["value"] = None if data["use_global"] or not text else text
        return data


@admin.register(Product)
class ProductAdmin(ImportExportMixin, ProductAdminBase):
    list_display = ("sku", "name", "price", "is_active", "backorders_effective", "availability")
    list_display_links = ("sku", "name")
    inlines = (StockInline, ProductImageInline)
    # Import and export (django-import-export): catalog.resources.ProductResource, by SKU.
    resource_classes = [ProductResource]
    import_formats = [SafeCSV, SafeXLSX]
    export_formats = [SafeCSV, SafeXLSX]
    export_form_class = ExportForm  # every column: the file is made to be edited and imported back
    # Import needs change permission (IMPORT_EXPORT_IMPORT_PERMISSION_CODE); a new SKU also
    # needs add permission (ProductResource).

    def get_import_data_kwargs(self, **kwargs):
        # The confirmed import is all or nothing too: a row that fails validation now (the
        # data moved since the preview) rolls every row back.
        return {**super().get_import_data_kwargs(**kwargs), "rollback_on_validation_errors": True}

    def process_result(self, result, request):
        """After the confirm step: a result with errors was rolled back whole; say so, and which
        row and field, instead of the library's "Import finished" message."""
        if not (result.has_errors() or result.has_validation_errors()):
            return super().process_result(result, request)
        for row in result.invalid_rows:
            for field, errors in row.error_dict.items():
                self.message_user(request, f"Row {row.number}, {field}: {' '.join(errors)}", messages.ERROR)
        for number, errors in result.row_errors():
            for error in errors:
                self.message_user(request, f"Row {number}: {error.error}", messages.ERROR)
        for error in result.base_errors:
            self.message_user(request, str(error.error), messages.ERROR)
        self.message_user(
            request, "Nothing was imported: correct the file and import it again.", messages.ERROR
        )
        return redirect(reverse("admin:catalog_product_import"))

    def get_changelist_instance(self, request):
        """Availability for the whole page at once (a constant number of queries)."""
        changelist = super().get_changelist_instance(request)
        products = list(changelist.result_list)
        found = availability_for_many(products=products)
        for product in products:
            product._admin_availability = found[product.pk]
        return changelist

    @admin.display(description="backorders")
    def backorders_effective(self, product):
        return describe_effective(product._admin_availability.policy, "backorders")

    @admin.display(description="availability")
    def availability(self, product):
        avail = product._admin_availability
        badge, label = avail.badge()
        return format_html(
            '<strong class="availability availability-{}">{}</strong><br><small>{}</small>',
            badge.value,
            label,
            salable_text(avail),
        )

    # -- allocation: "Allocate now" and the restock preview ----------------------------

    actions = ("allocate_now", "set_backorder_setting")

    @admin.action(description="Set one backorder setting on the selected products", permissions=["change"])
    def set_backorder_setting(self, request, queryset):
        form = SetPolicyForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            name = form.cleaned_data["setting"]
            ids = list(queryset.values_list("pk", flat=True))
            try:
                changed = products_set_policy(
                    product_ids=ids,
                    name=name,
                    value=form.cleaned_data["value"],
                    use_global=form.cleaned_data["use_global"],
                )
            except ValidationError as exc:
                for message in exc.message_dict.get(name, exc.messages):
                    form.add_error("value", message)
            else:
                label = Product._meta.get_field(name).verbose_name
                shown = USE_GLOBAL if form.cleaned_data["use_global"] else form.cleaned_data["value"]
                shown = "unlimited" if shown is None else shown
                self.message_user(
                    request, f"Set {label} to {shown} on {changed} product(s).", messages.SUCCESS
                )
                return redirect(request.get_full_path())
        return render(
            request,
            "admin/catalog/product/set_policy.html",
            {
                **self.admin_site.each_context(request),
                "title": "Set one backorder setting",
                "products": queryset.order_by("sku"),
                "form": form,
                "opts": self.opts,
                "action": "set_backorder_setting",
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    def has_allocate_permission(self, request) -> bool:
        return request.user.has_perm(ALLOCATE_PERMISSION)

    def get_list_display(self, request):
        if self.has_allocate_permission(request):
            return (*self.list_display, "restock_preview_link")
        return self.list_display

    @admin.display(description="restock")
    def restock_preview_link(self, product):
        return format_html(
            '<a href="{}">Restock preview</a>',
            reverse("admin:catalog_product_restock_preview", args=[product.pk]),
        )

    @admin.action(description="Allocate now: give free stock to waiting rows", permissions=["allocate"])
    def allocate_now(self, request, queryset):
        served, idle = [], []
        for product in queryset.order_by("sku"):
            result = backorders_allocate(product_id=product.pk)
            (served if result.units else idle).append((product, result))
        if served:
            rows = sum(result.rows for _, result in served)
            units = sum(result.units for _, result in served)
            detail = "; ".join(f"{p.sku}: {r.units} unit(s) to {r.rows} row(s)" for p, r in served[:10])
            more = f"; and {len(served) - 10} more product(s)" if len(served) > 10 else ""
            self.message_user(
                request,
                f"Allocated {units} unit(s) to {rows} waiting row(s) of {len(served)} product(s) "
                f"({detail}{more}).",
                messages.SUCCESS,
            )
        if idle:
            skus = ", ".join(p.sku for p, _ in idle[:10]) + (" …" if len(idle) > 10 else "")
            self.message_user(
                request,
                f"Nothing to allocate for {skus}: no waiting rows, or no free stock beyond safety stock.",
                messages.INFO,
            )

    def get_urls(self):
        view = self.admin_site.admin_view(self.restock_preview_view)
        return [
            path("<path:object_id>/restock-preview/", view, name="catalog_product_restock_preview"),
            *super().get_urls(),
        ]

    def restock_preview_view(self, request, object_id):
        """Dry run of allocation_preview: which waiting rows a restock would serve. Writes nothing."""
        if not self.has_allocate_permission(request):
            raise PermissionDenied
        product = self.get_object(request, unquote(object_id))
        if product is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        bound = "units" in request.GET or "source" in request.GET
        form = RestockPreviewForm(request.GET if bound else None)
        today = timezone.localdate()
        defaults = global_settings_get()
        stocks = list(Stock.objects.filter(product=product).select_related("source"))
        waiting = OrderRow.objects.filter(product=product, status__in=WAITING).aggregate(
            rows=Count("pk"), units=Sum("quantity")
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Restock preview: {product.sku}",
            "product": product,
            "form": form,
            "stocks": stocks,
            "free": sum(s.free for s in stocks_in_priority(stocks)),
            "waiting_rows": waiting["rows"],
            "waiting_units": waiting["units"] or 0,
            "policy": product_policy(product=product, defaults=defaults),
            "sourcing": Sourcing(defaults.sourcing),
            "preorder_waiting": is_preorder(product, today),
            "has_view_permission": self.has_view_permission(request, product),
            "row_limit": PREVIEW_ROW_LIMIT,
        }
        if form.is_valid():
            source, units = form.cleaned_data["source"], form.cleaned_data["units"]
            lines, units_left = allocation_preview(
                product_id=product.pk, source_id=source.pk, units=units, today=today, limit=PREVIEW_ROW_LIMIT
            )
            context.update(self._preview_rows(request, lines, units_left, source=source, units=units))
        return TemplateResponse(request, "admin/catalog/product/restock_preview.html", context)

    def _preview_rows(self, request, lines, units_left: int, *, source, units: int) -> dict:
        """Number the rows in queue order (the preview serves the queue from its head)."""
        sources = Source.objects.in_bulk({line.source_id for line in lines})
        can_see_orders = request.user.has_perm("orders.view_order") or request.user.has_perm(
            "orders.change_order"
        )
        positions: dict[int, int] = {}
        rows = []
        for line in lines:
            position = positions.setdefault(line.row.pk, len(positions) + 1)
            rows.append(
                {
                    "position": position,
                    "row": line.row,
                    "order_url": reverse("admin:orders_order_change", args=[line.row.order_id])
                    if can_see_orders
                    else "",
                    "quantity": line.quantity,
                    "source": sources.get(line.source_id),
                    "whole": line.whole,
                }
            )
        given = sum(line.quantity for line in lines)
        return {
            "preview": rows,
            "preview_source": source,
            "preview_units": units,
            "rows_served": len(positions),
            "units_to_rows": given,
            "units_left": units_left,
            "limited": len(positions) >= PREVIEW_ROW_LIMIT and units_left > 0,
        }
