"""The product admin: catalog's fields and effective settings, plus availability and stock.

Registered here, not in catalog, because the availability column (orders.selectors)
and the stock inline (inventory) come from apps above catalog.
"""

from django.contrib import admin
from django.utils.html import format_html

from catalog.admin import ProductAdminBase, describe_effective
from catalog.availability import Availability, PreOrder
from catalog.models import Product
from inventory.admin import StockInline

from ..selectors import availability_for_many


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


@admin.register(Product)
class ProductAdmin(ProductAdminBase):
    list_display = ("sku", "name", "price", "is_active", "backorders_effective", "availability")
    list_display_links = ("sku", "name")
    inlines = (StockInline,)

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
