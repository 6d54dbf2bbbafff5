from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from catalog.models import Product
from orders.models import Order


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class OutboxMessage(models.Model):
    """An email to send, written in the transaction of the event that causes it.

    ``key`` is unique per (kind, object, recipient): the same event can never
    produce two messages. The sender claims rows so two workers never send one.
    """

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=40, db_index=True)
    to_email = models.EmailField()
    subject = models.CharField(max_length=255)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    # Files sent with it, written with it: [{"filename", "mimetype", "content"}], text content.
    attachments = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=8, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The order it is about, if any: the order page's communication log lists them.
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="emails", db_index=False
    )
    # A resend copies a sent message into a new one; this links the copy to what it copies.
    resent_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="resends"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [("resend_outboxmessage", "Can resend an email sent for an order")]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(status__in=["pending", "sending"]),
                name="outbox_due",
            ),
            models.Index(fields=["status"], condition=~Q(status="sent"), name="outbox_not_sent"),
            models.Index(
                fields=["order", "created_at"], condition=Q(order__isnull=False), name="outbox_order"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False), name="outbox_sent_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to_email} ({self.status})"

    @property
    def message_id(self) -> str:
        # Stable per outbox key, so a resend after a crash is recognisable downstream.
        domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(">").strip() or "restock.invalid"
        return f"<outbox-{self.pk}@{domain}>"


class Subscription(models.Model):
    """A "notify me when back in stock" request for one product and one address."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="subscriptions")
    email = models.EmailField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="subscriptions",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The language of the page the customer subscribed on: the alert is written in it.
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE)
    notified_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            # One live subscription per product and address (case-insensitive).
            models.UniqueConstraint(
                "product",
                models.functions.Lower("email"),
                condition=Q(notified_at__isnull=True, unsubscribed_at__isnull=True),
                name="subscription_one_waiting_per_address",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.product}"

    @property
    def is_waiting(self) -> bool:
        return self.notified_at is None and self.unsubscribed_at is None


class OrderPlacedNote(models.Model):
    """A placed order's emails, still to render: written in the checkout's transaction.

    Rendering the emails is slow, and row locks last until commit, so the checkout
    only records what the emails will say (its rows as placed, free stock after
    them); the send job renders the emails after commit. One note per order; it is
    deleted in the transaction that writes its outbox messages, whose keys are
    unique, so a note is rendered once and never lost.
    """

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="+")
    snapshot = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    # Low-stock alerts are about stock: written on the first render. The order's own emails
    # wait for its payment (the note is then deleted), or go with the note if it never comes.
    alerts_written = models.BooleanField(default=False)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"order placed: {self.order_id}"


class RefundNote(models.Model):
    """Refunds written together (one cancellation, one merchant refund), to tell the customer
    once all of them are settled: written in the refunds' transaction, rendered into one
    email by the send job and deleted in the transaction that writes it."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+")
    entries = models.ManyToManyField("billing.LedgerEntry", related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"refund: {self.order_id}"


class ReorderAlert(models.Model):
    """A product the merchants were told has fallen below its reorder point.

    One row per crossing: written with the email, deleted by the nightly check that finds
    the product back at or above its reorder point, so the next crossing is told again and
    the nights in between are not.
    """

    product = models.OneToOneField(Product, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"below reorder point: {self.product_id} since {self.created_at:%Y-%m-%d}"
