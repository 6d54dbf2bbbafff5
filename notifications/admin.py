from uuid import uuid4

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.text import Truncator

from .after_sale import outbox_resend
from .exceptions import NotResendable
from .models import OutboxMessage, Subscription
from .outbox import outbox_retry

VIEW_EMAILS = "notifications.view_outboxmessage"
RESEND = "notifications.resend_outboxmessage"


class OrderEmailsMixin:
    """For an Order ModelAdmin: the order's communication log (every outbox message written
    for it: kind, recipient, when, state) and a resend button on sent ones (outbox_resend:
    a new message; the sent one is left as it was). Composed by backoffice."""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        if request.user.has_perm(VIEW_EMAILS):
            extra_context["emails"] = list(
                OutboxMessage.objects.filter(order_id=unquote(object_id)).order_by("created_at", "pk")
            )
            extra_context["can_resend"] = request.user.has_perm(RESEND)
            # Made of this page: both clicks of a double click carry the same nonce, one copy.
            extra_context["resend_nonce"] = uuid4().hex
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "<path:object_id>/emails/<int:message_id>/resend/",
                self.admin_site.admin_view(self.email_resend_view),
                name=f"{opts.app_label}_{opts.model_name}_email_resend",
            ),
            *super().get_urls(),
        ]

    def email_resend_view(self, request, object_id, message_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm(RESEND):
            raise PermissionDenied
        order = get_object_or_404(self.model, pk=unquote(object_id))
        message = get_object_or_404(OutboxMessage, pk=message_id, order=order)
        try:
            copy, new = outbox_resend(
                message_id=message.pk, nonce=request.POST.get("nonce", ""), user=request.user
            )
        except NotResendable as exc:
            messages.error(request, str(exc))
        else:
            if new:
                messages.success(request, f"The {copy.kind} email is queued again to {copy.to_email}.")
            else:
                messages.warning(
                    request, f"The {copy.kind} email was already queued again from this page; not sent twice."
                )
        change = f"admin:{order._meta.app_label}_{order._meta.model_name}_change"
        return redirect(reverse(change, args=[order.pk], current_app=self.admin_site.name) + "#order-emails")


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "kind",
        "to_email",
        "subject",
        "status",
        "attempts",
        "next_attempt_at",
        "error",
    )
    list_filter = ("status", "kind", "created_at")
    search_fields = ("key", "to_email", "subject")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]
    actions = ("retry",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="last error")
    def error(self, message):
        return Truncator(message.last_error).chars(80)

    @admin.action(description="Retry selected failed messages", permissions=["change"])
    def retry(self, request, queryset):
        count = outbox_retry(message_ids=list(queryset.values_list("pk", flat=True)))
        messages.success(request, f"{count} failed message(s) queued again.")


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("created_at", "product", "email", "user", "notified_at", "unsubscribed_at")
    list_filter = ("notified_at", "unsubscribed_at")
    search_fields = ("email", "product__sku", "product__name")
    list_select_related = ("product", "user")
    readonly_fields = ("product", "email", "user", "created_at", "notified_at", "unsubscribed_at")

    def has_add_permission(self, request):
        return False
