"""Returns as the merchant sees them: orders' list and steps plus billing's refund action.
Composed here, as the Order page is: orders may not import billing."""

from django.contrib import admin

from billing.admin import ReturnRefundMixin
from orders.admin.returns import ReturnRequestAdmin as OrdersReturnRequestAdmin
from orders.models import ReturnRequest

admin.site.unregister(ReturnRequest)


@admin.register(ReturnRequest)
class ReturnRequestAdmin(ReturnRefundMixin, OrdersReturnRequestAdmin):
    actions = (*OrdersReturnRequestAdmin.actions, "refund")
