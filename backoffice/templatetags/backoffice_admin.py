from django import template

from orders.selectors import row_counts_by_status

register = template.Library()


@register.inclusion_tag("admin/orders/rows_by_status.html")
def order_rows_by_status():
    return {"counts": row_counts_by_status()}
