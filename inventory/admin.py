"""Merchant admin for inventory. Counters are read-only here: every change goes through
inventory.services, from the "Receive stock" and "Adjust / count" pages."""

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from catalog.models import Product

from .exceptions import InvalidQuantity, StockWouldGoNegative
from .forms import AdjustStockForm, ReceiveStockForm
from .models import Source, Stock, StockMovement
from .services import stock_adjust, stock_count, stock_receive

# The ledger's add permission guards every page that writes stock through a service.
MOVE_STOCK_PERMISSION = "inventory.add_stockmovement"


def stock_page_url(name: str, **params) -> str:
    """URL of a stock page ("receive", "adjust", "changelist", "ledger") with optional filters."""
    url = {
        "receive": "admin:inventory_stock_receive",
        "adjust": "admin:inventory_stock_adjust",
        "changelist": "admin:inventory_stock_changelist",
        "ledger": "admin:inventory_stockmovement_changelist",
    }[name]
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return reverse(url) + (f"?{query}" if query else "")


def titled(title: str):
    """A yes/no filter under its own title (two "active" filters would look alike)."""

    class Filter(admin.BooleanFieldListFilter):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.title = title

    return Filter


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "priority", "is_active")
    list_display_links = ("code", "name")
    list_editable = ("priority",)
    list_filter = ("is_active",)
    search_fields = ("code", "name")
    ordering = ("priority", "code")


class StockInline(admin.TabularInline):
    """Stock per source on the product page: counters only, changed through the stock pages."""

    model = Stock
    fields = ("source", "on_hand", "allocated", "free")
    readonly_fields = ("source", "on_hand", "allocated", "free", "stock_links")
    extra = 0
    can_delete = False
    verbose_name_plural = "stock per source"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("source")

    def get_fields(self, request, obj=None):
        if request.user.has_perm(MOVE_STOCK_PERMISSION):
            return (*self.fields, "stock_links")
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="")
    def stock_links(self, stock):
        params = {"source": stock.source_id, "product": stock.product_id}
        return format_html(
            '<a href="{}">Receive</a> · <a href="{}">Adjust / count</a> · <a href="{}">Ledger</a>',
            stock_page_url("receive", **params),
            stock_page_url("adjust", **params),
            stock_page_url("ledger", source__id__exact=stock.source_id, product__id__exact=stock.product_id),
        )


@admin.register(Stock)
class StockAdmin(admin.ModelAdmin):
    list_display = ("sku", "product_name", "source_code", "on_hand", "allocated", "free", "ledger_link")
    list_filter = (
        "source",
        ("source__is_active", titled("source active")),
        ("product__is_active", titled("product active")),
    )
    search_fields = ("product__sku", "product__name", "source__code", "source__name")
    list_select_related = ("product", "source")
    ordering = ("product__sku", "source__priority", "source__code")
    fields = ("product", "source", "on_hand", "allocated", "free")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="SKU", ordering="product__sku")
    def sku(self, stock):
        return stock.product.sku

    @admin.display(description="product", ordering="product__name")
    def product_name(self, stock):
        return stock.product.name

    @admin.display(description="source", ordering="source__priority")
    def source_code(self, stock):
        return stock.source.code

    @admin.display(description="free", ordering=F("on_hand") - F("allocated"))
    def free(self, stock):
        return stock.free

    @admin.display(description="ledger")
    def ledger_link(self, stock):
        return format_html(
            '<a href="{}">movements</a>',
            stock_page_url("ledger", source__id__exact=stock.source_id, product__id__exact=stock.product_id),
        )

    # -- pages that change stock through the services ------------------------------

    def get_urls(self):
        site = self.admin_site
        return [
            path("receive/", site.admin_view(self.receive_view), name="inventory_stock_receive"),
            path("adjust/", site.admin_view(self.adjust_view), name="inventory_stock_adjust"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_move_stock": request.user.has_perm(MOVE_STOCK_PERMISSION),
        }
        return super().changelist_view(request, extra_context=extra_context)

    def _check_move_permission(self, request) -> None:
        if not request.user.has_perm(MOVE_STOCK_PERMISSION):
            raise PermissionDenied

    def _form_kwargs(self, request) -> dict:
        """Bound to POST, or prefilled from ?source=&product=; product search when allowed."""
        kwargs: dict = {}
        if request.method == "POST":
            kwargs["data"] = request.POST
        else:
            kwargs["initial"] = {
                key: request.GET[key] for key in ("source", "product") if request.GET.get(key, "").isdigit()
            }
        if self.admin_site.is_registered(Product):
            product_admin = self.admin_site.get_model_admin(Product)
            if product_admin.search_fields and product_admin.has_view_permission(request):
                kwargs["admin_site"] = self.admin_site
        return kwargs

    def _after_save(self, request, form, *, page: str):
        """Back to the form for another entry, or to the product's stock when allowed."""
        source, product = form.cleaned_data["source"], form.cleaned_data["product"]
        if "_addanother" in request.POST or not self.has_view_permission(request):
            return redirect(stock_page_url(page, source=source.pk))
        return redirect(stock_page_url("changelist", product__id__exact=product.pk))

    def _render(self, request, form, *, title: str, template: str, submit: str):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "media": self.media + form.media,
            "submit_label": submit,
            "has_view_permission": self.has_view_permission(request),
        }
        return TemplateResponse(request, template, context)

    def receive_view(self, request):
        self._check_move_permission(request)
        form = ReceiveStockForm(**self._form_kwargs(request))
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                result = stock_receive(
                    source=data["source"],
                    product=data["product"],
                    quantity=data["quantity"],
                    reference=data["reference"],
                    user=request.user,
                )
            except InvalidQuantity as exc:
                form.add_service_error(exc)
            else:
                level = messages.SUCCESS if result.created else messages.WARNING
                self.message_user(request, result.message, level)
                return self._after_save(request, form, page="receive")
        return self._render(
            request,
            form,
            title="Receive stock",
            template="admin/inventory/stock/receive.html",
            submit="Receive",
        )

    def adjust_view(self, request):
        self._check_move_permission(request)
        form = AdjustStockForm(**self._form_kwargs(request))
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            source, product = data["source"], data["product"]
            where = f"{product.sku} at {source.code}"
            try:
                if data["mode"] == AdjustStockForm.COUNT:
                    movement = stock_count(
                        source=source,
                        product=product,
                        counted=data["quantity"],
                        reason=data["reason"],
                        user=request.user,
                    )
                else:
                    movement = stock_adjust(
                        source=source,
                        product=product,
                        change=data["quantity"],
                        reason=data["reason"],
                        user=request.user,
                    )
            except (InvalidQuantity, StockWouldGoNegative) as exc:
                form.add_service_error(exc)
            else:
                if movement is None:
                    message = f"Counted {data['quantity']} × {where}: matches on hand, nothing changed."
                else:
                    on_hand = Stock.objects.get(source=source, product=product).on_hand
                    message = (
                        f"{movement.get_kind_display()} of {movement.quantity:+d} × {where} "
                        f"({movement.reason}); on hand is now {on_hand}."
                    )
                self.message_user(request, message, messages.SUCCESS)
                return self._after_save(request, form, page="adjust")
        return self._render(
            request,
            form,
            title="Adjust or count stock",
            template="admin/inventory/stock/adjust.html",
            submit="Save",
        )


@admin.register(StockMovement)
class StockMovementAdmin(admin.ModelAdmin):
    """The ledger: append-only, so read-only here."""

    list_display = ("created_at", "kind", "sku", "source_code", "change", "reference", "reason", "user")
    list_filter = ("kind", "source", "created_at")
    date_hierarchy = "created_at"
    search_fields = ("product__sku", "product__name", "reference")
    list_select_related = ("product", "source", "user")
    fields = ("created_at", "kind", "product", "source", "quantity", "reference", "reason", "user")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="SKU", ordering="product__sku")
    def sku(self, movement):
        return movement.product.sku

    @admin.display(description="source", ordering="source__code")
    def source_code(self, movement):
        return movement.source.code

    @admin.display(description="quantity", ordering="quantity")
    def change(self, movement):
        return f"{movement.quantity:+d}"
