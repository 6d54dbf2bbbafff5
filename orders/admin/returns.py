"""Merchant admin for returns: the list (filter by status, search by order, email, SKU) and
actions that call orders.services.returns; billing's refund action is composed in by
backoffice. Each action needs orders.change_returnrequest."""

from django import forms
from django.contrib import admin, messages
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from inventory.models import Source

from ..exceptions import OrderError
from ..models import ReturnEvent, ReturnRequest
from ..services import return_approve, return_receive, return_reject, return_write_off


class ReturnEventInline(admin.TabularInline):
    model = ReturnEvent
    fields = ("created_at", "from_status", "to_status", "quantity", "user", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class RejectForm(forms.Form):
    reason = forms.CharField(max_length=500, help_text="The customer is told this.")


class ReceiveForm(forms.Form):
    source = forms.ModelChoiceField(
        queryset=Source.objects.filter(is_active=True).order_by("priority", "code"),
        help_text="Where the units go back on the shelf (waiting rows get them first).",
    )


class WriteOffForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False, help_text="Optional; the customer is told this.")


def report(request, done: int, errors: list[str], what: str) -> None:
    if done:
        messages.success(request, f"{what}: {done}.")
    for error in errors:
        messages.error(request, error)


def each_return(request, queryset, service, what: str, **kwargs) -> None:
    """Call ``service`` on each selected return; a refused one is named, the rest go on."""
    done, errors = 0, []
    for ret in queryset.select_related("row__order").order_by("pk"):
        try:
            service(return_id=ret.pk, user=request.user, **kwargs)
            done += 1
        except OrderError as exc:
            errors.append(f"Order {ret.row.order.number}, return {ret.pk}: {exc}")
    report(request, done, errors, what)


def ask(model_admin, request, queryset, *, form, action: str, title: str, button: str):
    """The intermediate page of an action that needs an answer (a reason, a source)."""
    return render(
        request,
        "admin/orders/returnrequest/action.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": title,
            "returns": queryset.select_related("row__order", "row__product"),
            "form": form,
            "opts": model_admin.model._meta,
            "action": action,
            "button": button,
        },
    )


@admin.register(ReturnRequest)
class ReturnRequestAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "order_link",
        "product",
        "quantity",
        "status",
        "reason_short",
        "source",
    )
    list_filter = ("status", "created_at", "source")
    search_fields = ("row__order__number", "row__order__email", "row__product__sku")
    list_select_related = ("row__order", "row__product", "source")
    date_hierarchy = "created_at"
    fields = ("row", "quantity", "row_quantity", "reason", "status", "source", "requested_by", "created_at")
    readonly_fields = fields
    inlines = (ReturnEventInline,)
    actions = ("approve", "reject", "receive", "write_off")

    def has_add_permission(self, request):
        return False  # customers ask from their account

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="order", ordering="row__order__number")
    def order_link(self, ret):
        url = reverse("admin:orders_order_change", args=[ret.row.order_id], current_app=self.admin_site.name)
        return format_html('<a href="{}">{}</a>', url, ret.row.order.number)

    @admin.display(description="product", ordering="row__product__sku")
    def product(self, ret):
        return f"{ret.row.product.name} ({ret.row.product.sku})"

    @admin.display(description="reason")
    def reason_short(self, ret):
        return Truncator(ret.reason).chars(60)

    @admin.action(description="Approve selected returns", permissions=["change"])
    def approve(self, request, queryset):
        each_return(request, queryset, return_approve, "Returns approved")

    @admin.action(description="Reject selected returns (asks why)", permissions=["change"])
    def reject(self, request, queryset):
        return self._answered(request, queryset, RejectForm, return_reject, "Returns rejected", "Reject")

    @admin.action(description="Receive selected returns into a source (restock)", permissions=["change"])
    def receive(self, request, queryset):
        return self._answered(request, queryset, ReceiveForm, return_receive, "Returns received", "Receive")

    @admin.action(description="Accept selected returns without restock (write off)", permissions=["change"])
    def write_off(self, request, queryset):
        return self._answered(
            request, queryset, WriteOffForm, return_write_off, "Returns written off", "Write off"
        )

    def _answered(self, request, queryset, form_class, service, what: str, button: str):
        """An action whose service needs an answer: ask on a page, then call it with the
        form's fields (named as the service's arguments) on each selected return."""
        form = form_class(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            each_return(request, queryset, service, what, **form.cleaned_data)
            return None
        action = request.POST.get("action", "")
        return ask(
            self, request, queryset, form=form, action=action, title=f"{button} returns", button=button
        )
