from django.contrib import admin, messages
from django.utils.text import Truncator

from .models import OutboxMessage, Subscription
from .outbox import outbox_retry


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
