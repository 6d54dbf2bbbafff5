"""Merchant admin for billing's own models: the payment ledger and the provider payments.

Read-only lists (amounts and states are written by services only); the money actions call
billing's services and need ``billing.settle_payments`` on top of the view permission.
The payment panel on the order page is composed in backoffice (see ``OrderPaymentMixin``),
which sits above both orders and billing.
"""

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from orders.exceptions import OrderError
from orders.models import OrderRow, RowStatus

from .exceptions import AmountNotOrders, BillingError
from .models import EntryKind, EntryState, LedgerEntry, LedgerLine, OrderTotals, Payment
from .money import money_format
from .selectors import RowPayment, authorizations_expiring, rows_payment_state
from .services import entry_retry, entry_settle, pay_link_create, return_refund, rows_refund

SETTLE = "billing.settle_payments"
VIEW_LEDGER = "billing.view_ledgerentry"


class MoneyFilter(admin.SimpleListFilter):
    title = "money"
    parameter_name = "money"

    def lookups(self, request, model_admin):
        return [
            ("awaiting_payment", "Awaiting payment (pay link due)"),
            ("expiring", "Authorization expiring soon"),
            ("capture_failed", "Capture failed"),
            ("refunded", "Refunds"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "awaiting_payment":
            return queryset.filter(state=EntryState.AWAITING_PAYMENT)
        if value == "expiring":
            return queryset.filter(pk__in=authorizations_expiring().values("pk"))
        if value == "capture_failed":
            return queryset.filter(kind=EntryKind.CAPTURE, state=EntryState.FAILED)
        if value == "refunded":
            return queryset.filter(kind=EntryKind.REFUND)
        return queryset


class LedgerLineInline(admin.TabularInline):
    model = LedgerLine
    fields = ("row", "amount")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _amount(entry) -> str:
    return money_format(entry.amount, entry.currency)


def _report(request, done: int, what: str, errors: list[str]) -> None:
    if done:
        messages.success(request, f"{what}: {done}.")
    for error in errors:
        messages.error(request, error)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    """Every authorization, capture, refund and release, newest first."""

    list_display = (
        "created_at",
        "order_link",
        "kind",
        "state",
        "amount_display",
        "drawn",
        "shipment",
        "settled_at",
        "error",
    )
    list_filter = (MoneyFilter, "kind", "state")
    search_fields = ("order__number",)
    list_select_related = ("order",)
    ordering = ("-created_at", "-pk")
    date_hierarchy = "created_at"
    fields = (
        "order",
        "kind",
        "state",
        "amount",
        "currency",
        "drawn",
        "parent",
        "payment",
        "shipment",
        "covers_shipping",
        "idempotency_key",
        "provider_reference",
        "error",
        "attempts",
        "created_at",
        "settled_at",
    )
    readonly_fields = fields
    inlines = (LedgerLineInline,)
    actions = ("capture_now", "retry_failed", "send_pay_link")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_settle_permission(self, request) -> bool:
        return request.user.has_perm(SETTLE)

    @admin.display(description="order", ordering="order__number")
    def order_link(self, entry):
        url = reverse("admin:orders_order_change", args=[entry.order_id], current_app=self.admin_site.name)
        return format_html('<a href="{}">{}</a>', url, entry.order.number)

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, entry):
        return _amount(entry)

    @admin.action(description="Capture now (pending shipment captures)", permissions=["settle"])
    def capture_now(self, request, queryset):
        done, errors = 0, []
        for entry in queryset.order_by("pk"):
            if entry.kind != EntryKind.CAPTURE or entry.state != EntryState.PENDING:
                errors.append(
                    f"Order {entry.order.number}: {entry} is not a pending capture"
                    + (" (send a pay link)." if entry.state == EntryState.AWAITING_PAYMENT else ".")
                )
                continue
            result = entry_settle(entry_id=entry.pk)
            if result.state == EntryState.SUCCEEDED:
                done += 1
            else:
                errors.append(f"Order {entry.order.number}: capture of {_amount(entry)} is {result.state}.")
        _report(request, done, "Captured", errors)

    @admin.action(description="Retry failed captures, refunds and releases", permissions=["settle"])
    def retry_failed(self, request, queryset):
        done, errors = 0, []
        for entry in queryset.order_by("pk"):
            if entry.state != EntryState.FAILED:
                errors.append(f"Order {entry.order.number}: {entry} has not failed; nothing to retry.")
                continue
            entry_retry(entry_id=entry.pk)
            done += 1
        _report(request, done, "Sent again", errors)

    @admin.action(description="Send a pay link (captures awaiting payment)", permissions=["settle"])
    def send_pay_link(self, request, queryset):
        done, errors = 0, []
        for entry in queryset.order_by("pk"):
            if entry.state != EntryState.AWAITING_PAYMENT:
                errors.append(f"Order {entry.order.number}: {entry} is not awaiting payment.")
                continue
            try:
                pay_link_create(entry_id=entry.pk)
            except BillingError as exc:
                errors.append(str(exc))
                continue
            done += 1
        _report(request, done, "Pay links ready", errors)


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    """The provider's payments (django-payments): no card data, only status and amounts."""

    list_display = (
        "created",
        "order_link",
        "purpose",
        "status",
        "total_display",
        "captured_amount",
        "variant",
    )
    list_filter = ("status", "purpose", "variant")
    search_fields = ("order__number", "billing_email", "transaction_id")
    list_select_related = ("order",)
    date_hierarchy = "created"
    fields = (
        "order",
        "purpose",
        "entry",
        "variant",
        "status",
        "fraud_status",
        "currency",
        "total",
        "delivery",
        "tax",
        "captured_amount",
        "transaction_id",
        "description",
        "billing_email",
        "message",
        "created",
        "modified",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="order", ordering="order__number")
    def order_link(self, payment):
        url = reverse("admin:orders_order_change", args=[payment.order_id], current_app=self.admin_site.name)
        return format_html('<a href="{}">{}</a>', url, payment.order.number)

    @admin.display(description="total", ordering="total")
    def total_display(self, payment):
        return money_format(payment.total, payment.currency)


# -- the order page's payment panel (composed into the Order admin by backoffice) ------------


class RefundRowsForm(forms.Form):
    """Cancelled rows of one order to refund; the amount, if typed, must be their value."""

    rows = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, label="Cancelled rows")
    amount = forms.CharField(
        required=False, help_text="Optional: the amount you expect to refund (checked against the rows)."
    )

    def __init__(self, *args, choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rows"].choices = choices

    def clean_rows(self):
        return [int(pk) for pk in self.cleaned_data["rows"]]

    def clean_amount(self):
        raw = self.cleaned_data["amount"].strip()
        if not raw:
            return None
        try:
            return Decimal(raw)
        except InvalidOperation:
            raise forms.ValidationError(f"{raw!r} is not an amount.") from None


class OrderPaymentMixin:
    """For an Order ModelAdmin: a read-only payment panel (state, totals, ledger rows, each
    row's money state) and a page to refund selected cancelled rows (rows_refund)."""

    change_form_template = "admin/billing/order_change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        order = self.get_object(request, unquote(object_id))
        if order is not None and request.user.has_perm(VIEW_LEDGER):
            extra_context["payment"] = self._panel_context(order)
            extra_context["can_settle"] = request.user.has_perm(SETTLE)
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "<path:object_id>/refund/",
                self.admin_site.admin_view(self.refund_rows_view),
                name=f"{opts.app_label}_{opts.model_name}_refund",
            ),
            *super().get_urls(),
        ]

    def _panel_context(self, order) -> dict:
        totals = OrderTotals.objects.filter(pk=order.pk).first()
        if totals is None:
            return {"totals": None}
        entries = list(
            LedgerEntry.objects.filter(order_id=order.pk).select_related("shipment").prefetch_related("lines")
        )
        states = rows_payment_state(order_id=order.pk)
        labels = dict(RowPayment.choices)
        rows = list(
            OrderRow.objects.filter(order_id=order.pk).select_related("product").order_by("line_no", "pk")
        )
        cur = totals.currency
        fmt = lambda amount: money_format(amount, cur)  # noqa: E731
        refunded = {line.row_id for e in entries if e.kind == EntryKind.REFUND for line in e.lines.all()}
        refundable = any(r.status == RowStatus.CANCELLED and r.pk not in refunded for r in rows)
        return {
            "totals": totals,
            "state": _order_money_state(entries),
            "figures": [
                ("Subtotal", fmt(totals.subtotal)),
                ("Shipping", fmt(totals.shipping)),
                ("Tax" + (" (included)" if totals.prices_include_tax else ""), fmt(totals.tax)),
                ("Total", fmt(totals.total)),
            ],
            "settlement": totals.get_settlement_display(),
            "pay_by": totals.pay_by,
            "entries": [
                {
                    "entry": e,
                    "amount": fmt(e.amount),
                    "rows": ", ".join(f"row {line.row_id}: {fmt(line.amount)}" for line in e.lines.all()),
                }
                for e in entries
            ],
            "rows": [
                {
                    "row": r,
                    "value": fmt(totals.row_value(r).gross),
                    "money": labels.get(states.get(r.pk), ""),
                }
                for r in rows
            ],
            "refund_url": (
                reverse(
                    f"admin:{order._meta.app_label}_{order._meta.model_name}_refund",
                    args=[order.pk],
                    current_app=self.admin_site.name,
                )
                if refundable
                else ""
            ),
        }

    def refund_rows_view(self, request, object_id):
        if not request.user.has_perm(SETTLE):
            raise PermissionDenied
        order = get_object_or_404(self.model, pk=unquote(object_id))
        totals = get_object_or_404(OrderTotals, pk=order.pk)
        refunded = set(
            LedgerLine.objects.filter(row__order=order, entry__kind=EntryKind.REFUND).values_list(
                "row_id", flat=True
            )
        )
        cancelled = (
            OrderRow.objects.filter(order=order, status=RowStatus.CANCELLED)
            .select_related("product")
            .order_by("line_no", "pk")
        )
        choices = [
            (
                str(r.pk),
                f"row {r.pk} (line {r.line_no}): {r.quantity} × {r.product.sku}, "
                f"{money_format(totals.row_value(r).gross, totals.currency)}"
                + (" — refunded" if r.pk in refunded else ""),
            )
            for r in cancelled
        ]
        form = RefundRowsForm(request.POST or None, choices=choices)
        change_url = reverse(
            f"admin:{order._meta.app_label}_{order._meta.model_name}_change",
            args=[order.pk],
            current_app=self.admin_site.name,
        )
        if request.method == "POST" and form.is_valid():
            row_ids, amount = form.cleaned_data["rows"], form.cleaned_data["amount"]
            try:
                written = rows_refund(order_id=order.pk, row_ids=row_ids, amount=amount)
            except AmountNotOrders as exc:
                worth = sum(
                    (totals.row_value(r).gross for r in cancelled if r.pk in row_ids), start=Decimal(0)
                )
                worth_text = money_format(worth, totals.currency)
                messages.error(request, f"{exc} Rows {row_ids} are worth {worth_text}; nothing was refunded.")
            except BillingError as exc:
                messages.error(request, f"{exc} Nothing was refunded.")
            else:
                total = sum((e.amount for e in written), start=Decimal("0"))
                messages.success(
                    request,
                    f"Refund of {money_format(total, totals.currency)} on its way for order {order.number}."
                    if written
                    else f"Nothing to refund: rows {row_ids} of order {order.number} are refunded already.",
                )
                return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Refund cancelled rows of order {order.number}",
            "opts": self.model._meta,
            "original": order,
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/billing/refund_rows.html", context)


def _order_money_state(entries) -> str:
    """One line for the panel's header: what the order's money is doing now."""
    if any(e.state == EntryState.AWAITING_PAYMENT for e in entries):
        return "Pay link due for a shipment"
    if any(e.state == EntryState.FAILED for e in entries):
        return "A provider call failed (retry it in the ledger)"
    if any(e.state in (EntryState.PENDING, EntryState.UNKNOWN) for e in entries):
        return "Being settled"
    checkout = [
        e
        for e in entries
        if e.parent_id is None
        and e.shipment_id is None  # a pay link's capture has no parent either
        and e.state == EntryState.SUCCEEDED
        and e.kind in (EntryKind.AUTHORIZE, EntryKind.CAPTURE)
        and not e.idempotency_key.startswith("duplicate:")
    ]
    if not checkout:
        return "Awaiting payment"
    if checkout[0].kind == EntryKind.CAPTURE:
        return "Paid at checkout"
    return "Authorized; charged per shipment"


# -- refunds of returns (composed into orders' ReturnRequest admin by backoffice) ------------


class RefundReturnForm(forms.Form):
    include_shipping = forms.BooleanField(
        required=False,
        label="Also refund the order's shipping",
        help_text="Once per order: with several returns of one order selected, on the first.",
    )


class ReturnRefundMixin:
    """For the ReturnRequest admin: refund received or written-off returns through the
    ledger (return_refund); needs billing.settle_payments. The page shows each return's
    amount (its units at the row's price) before anything is written."""

    def has_settle_permission(self, request) -> bool:
        return request.user.has_perm(SETTLE)

    @admin.action(description="Refund selected returns (received or written off)", permissions=["settle"])
    def refund(self, request, queryset):
        returns = list(queryset.select_related("row__order__totals", "row__product").order_by("pk"))
        form = RefundReturnForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            for ret in returns:
                totals = getattr(ret.row.order, "totals", None)
                if totals is not None:
                    worth = (totals.unit(ret.row.unit_price) * ret.quantity).gross
                    ret.amount = money_format(worth, totals.currency)
            return TemplateResponse(
                request,
                "admin/orders/returnrequest/action.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Refund returns",
                    "returns": returns,
                    "form": form,
                    "opts": self.model._meta,
                    "action": "refund",
                    "button": "Refund",
                },
            )
        done, errors, shipping_for = [], [], set()
        for ret in returns:
            order = ret.row.order
            with_shipping = form.cleaned_data["include_shipping"] and order.pk not in shipping_for
            try:
                written = return_refund(return_id=ret.pk, include_shipping=with_shipping, user=request.user)
            except (BillingError, OrderError) as exc:
                errors.append(f"Order {order.number}, return {ret.pk}: {exc} Nothing was refunded.")
                continue
            shipping_for.add(order.pk)
            if not written:
                errors.append(f"Order {order.number}, return {ret.pk} was refunded already.")
            done += written
        if done:
            total = sum((e.amount for e in done), start=Decimal("0"))
            messages.success(request, f"Refunds on their way: {money_format(total, done[0].currency)}.")
        for error in errors:
            messages.error(request, error)
        return None
