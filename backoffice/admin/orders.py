"""The order admin as the merchant sees it: orders' own (rows, shipments, actions, staff
notes) plus billing's payment panel and refund page and notifications' emails for the order.

Composed here, not in billing: orders may not import billing (billing is above it), and the
Order page is orders' registration that more than one app above it adds to; backoffice, above
them all, is the one place that assembles it (as with the product admin), so no domain app
re-registers another app's model.
"""

from django.contrib import admin

from billing.admin import OrderPaymentMixin
from notifications.admin import OrderEmailsMixin
from orders.admin.orders import OrderAdmin as OrdersOrderAdmin
from orders.models import Order

admin.site.unregister(Order)


@admin.register(Order)
class OrderAdmin(OrderEmailsMixin, OrderPaymentMixin, OrdersOrderAdmin):
    # billing's payment panel, then orders' staff notes and notifications' emails
    change_form_template = "admin/backoffice/order_change_form.html"
