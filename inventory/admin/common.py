"""Helpers shared by the inventory admin pages."""

from urllib.parse import urlencode

from django.contrib import admin
from django.urls import reverse

from catalog.models import Product

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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that only services write (counters, the ledger): look, never add, change or delete."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ProductSourceColumns:
    """The SKU, product and source columns of rows that belong to a (source, product)."""

    @admin.display(description="SKU", ordering="product__sku")
    def sku(self, obj):
        return obj.product.sku

    @admin.display(description="product", ordering="product__name")
    def product_name(self, obj):
        return obj.product.name

    @admin.display(description="source", ordering="source__priority")
    def source_code(self, obj):
        return obj.source.code


def product_autocomplete(model_admin, request) -> tuple[str, ...]:
    """``autocomplete_fields`` for a "product" field: search by SKU when the user may see
    products, a plain list otherwise."""
    site = model_admin.admin_site
    if site.is_registered(Product):
        product_admin = site.get_model_admin(Product)
        if product_admin.search_fields and product_admin.has_view_permission(request):
            return ("product",)
    return ()
