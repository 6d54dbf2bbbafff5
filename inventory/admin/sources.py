"""Sources, and the stock-per-source inline of the product admin."""

from django.contrib import admin
from django.utils.html import format_html

from ..models import Source, Stock
from .common import MOVE_STOCK_PERMISSION, stock_page_url


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
