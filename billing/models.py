"""Totals snapshots, payments (django-payments) and the payment ledger."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from payments import PurchasedItem
from payments.models import BasePayment

from orders.models import Order, OrderRow, Shipment

from .money import Value, unit_value

MONEY = {"max_digits": 12, "decimal_places": 2}
# Sums are compared within half a cent rather than for equality: SQLite (the embedded
# default) does this arithmetic in floating point, where 0.10 + 0.20 is not 0.30. With
# PostgreSQL's numeric(12, 2) the two conditions are the same.
HALF_CENT = Decimal("0.005")


def _same_amount(field: str, expression) -> Q:
    return Q(**{f"{field}__gt": expression - HALF_CENT, f"{field}__lt": expression + HALF_CENT})


class Settlement(models.TextChoices):
    PER_SHIPMENT = "per_shipment", "Charge per shipment"
    AT_CHECKOUT = "at_checkout", "Charge at checkout"


class OrderTotals(models.Model):
    """An order's money, snapshotted in the checkout's transaction: settings changed later
    (rate, shipping, currency, settlement) never change a placed order."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, primary_key=True, related_name="totals")
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(**MONEY)
    shipping = models.DecimalField(**MONEY)
    shipping_tax = models.DecimalField(**MONEY)
    tax = models.DecimalField(**MONEY)
    total = models.DecimalField(**MONEY)
    tax_rate = models.DecimalField(max_digits=6, decimal_places=4)
    prices_include_tax = models.BooleanField()
    settlement = models.CharField(max_length=16, choices=Settlement.choices)
    pay_by = models.DateTimeField(help_text="Unpaid after this, the order expires.")

    class Meta:
        verbose_name_plural = "order totals"
        constraints = [
            models.CheckConstraint(
                condition=Q(subtotal__gte=0) & Q(shipping__gte=0) & Q(shipping_tax__gte=0) & Q(tax__gte=0),
                name="totals_amounts_gte_0",
            ),
            models.CheckConstraint(
                condition=(Q(prices_include_tax=True) & _same_amount("total", F("subtotal") + F("shipping")))
                | (
                    Q(prices_include_tax=False)
                    & _same_amount("total", F("subtotal") + F("shipping") + F("tax"))
                ),
                name="totals_add_up",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.total} {self.currency}"

    def unit(self, price: Decimal) -> Value:
        return unit_value(
            price, tax_rate=self.tax_rate, prices_include_tax=self.prices_include_tax, currency=self.currency
        )

    def row_value(self, row: OrderRow) -> Value:
        """What this row is worth to the customer (net, its share of tax, gross)."""
        return self.unit(row.unit_price) * row.quantity

    @property
    def shipping_gross(self) -> Decimal:
        return self.shipping if self.prices_include_tax else self.shipping + self.shipping_tax


class PaymentPurpose(models.TextChoices):
    CHECKOUT = "checkout", "Checkout"
    PAY_LINK = "pay_link", "Pay link for a shipment"


class Payment(BasePayment):
    """One attempt to pay with the provider (django-payments). No card data: the provider's
    page takes it; we keep its status, amounts and reference."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    purpose = models.CharField(max_length=16, choices=PaymentPurpose.choices, default=PaymentPurpose.CHECKOUT)
    # a pay link pays one shipment's capture that an expired authorization could not
    entry = models.ForeignKey(
        "LedgerEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="pay_links"
    )

    class Meta:
        ordering = ["-created", "-pk"]

    def _customer_url(self, name: str) -> str:
        from urllib.parse import urljoin

        names = settings.CUSTOMER_URL_NAMES
        path = reverse(names[name], kwargs={"token": self.token}) if name in names else None
        return urljoin(settings.SITE_URL, path or self.order.get_absolute_url())

    def get_success_url(self) -> str:
        return self._customer_url("payment_success")

    def get_failure_url(self) -> str:
        return self._customer_url("payment_failure")

    def get_purchased_items(self):
        if self.purpose != PaymentPurpose.CHECKOUT:
            yield PurchasedItem(
                name=f"{self.order.number}: shipment",
                quantity=1,
                price=self.total,
                currency=self.currency,
                sku="",
            )
            return
        totals = self.order.totals
        for row in self.order.rows.select_related("product"):
            yield PurchasedItem(
                name=row.product.name,
                quantity=row.quantity,
                price=totals.unit(row.unit_price).gross,
                currency=self.currency,
                sku=row.product.sku,
                tax_rate=totals.tax_rate,
            )


class EntryKind(models.TextChoices):
    AUTHORIZE = "authorize", "Authorize"
    CAPTURE = "capture", "Capture"
    REFUND = "refund", "Refund"
    RELEASE = "release", "Release"


class EntryState(models.TextChoices):
    PENDING = "pending", "Pending"  # intent written; a job calls the provider after commit
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"  # the provider said no; may be retried
    AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment (pay link)"  # no valid authorization
    UNKNOWN = "unknown", "Outcome unknown"  # crashed after calling a provider with no idempotency


# A return's refund (billing.services.return_refund) is keyed by the return: one per return.
RETURN_REFUND_KEY = "refund:return:"

OPEN_STATES = (EntryState.PENDING, EntryState.AWAITING_PAYMENT, EntryState.FAILED, EntryState.UNKNOWN)


class LedgerEntry(models.Model):
    """One authorization, capture, refund or release: amount, what it covers (the order, a
    shipment, rows: lines), the provider's reference and our idempotency key.

    ``drawn`` is what later entries took from this one (captures and releases from an
    authorization, refunds from a capture), raised in the same transaction as they are
    written, under the order's lock: the database then refuses a refund above its capture.
    """

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="ledger")
    kind = models.CharField(max_length=10, choices=EntryKind.choices)
    state = models.CharField(max_length=16, choices=EntryState.choices, default=EntryState.PENDING)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    drawn = models.DecimalField(**MONEY, default=Decimal("0"))
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )
    shipment = models.ForeignKey(
        Shipment, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger"
    )
    covers_shipping = models.BooleanField(default=False)
    idempotency_key = models.CharField(max_length=100, unique=True)
    provider_reference = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name_plural = "ledger entries"
        # The admin's money actions (capture now, retry, pay link, refund rows) need it on top
        # of viewing: a merchant may see the ledger without moving money.
        permissions = [("settle_payments", "Can capture, refund, retry and send pay links")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="entry_amount_gte_0"),
            models.CheckConstraint(
                condition=Q(drawn__gte=0) & Q(drawn__lt=F("amount") + HALF_CENT),
                name="entry_drawn_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=[EntryKind.AUTHORIZE, EntryKind.CAPTURE]) | Q(drawn=0),
                name="entry_only_authorize_capture_drawn",
            ),
            models.CheckConstraint(
                condition=~Q(kind=EntryKind.REFUND) | Q(parent__isnull=False), name="entry_refund_has_capture"
            ),
            models.CheckConstraint(
                condition=~Q(kind=EntryKind.RELEASE) | Q(parent__isnull=False),
                name="entry_release_has_authorization",
            ),
            models.UniqueConstraint(
                fields=["shipment"],
                condition=Q(kind=EntryKind.CAPTURE),
                name="entry_one_capture_per_shipment",
            ),
            models.UniqueConstraint(
                fields=["parent"],
                condition=Q(kind=EntryKind.RELEASE),
                name="entry_one_release_per_authorization",
            ),
        ]
        indexes = [models.Index(fields=["state", "kind"], name="entry_state_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency} ({self.state})"

    @property
    def available(self) -> Decimal:
        return self.amount - self.drawn


class LedgerLine(models.Model):
    """The part of an entry's amount that one order row accounts for."""

    entry = models.ForeignKey(LedgerEntry, on_delete=models.CASCADE, related_name="lines")
    row = models.ForeignKey(OrderRow, on_delete=models.PROTECT, related_name="ledger_lines")
    amount = models.DecimalField(**MONEY)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="line_amount_gte_0"),
            models.UniqueConstraint(fields=["entry", "row"], name="line_one_per_entry_row"),
        ]

    def __str__(self) -> str:
        return f"row {self.row_id}: {self.amount}"


class DummyGatewayCall(models.Model):
    """The dummy provider's own book (it stands in for the provider's side): each capture,
    refund or release it performed, by our idempotency key, so a retried call is answered
    from here instead of being performed twice, as a real provider's idempotency keys do."""

    key = models.CharField(max_length=100, unique=True)
    operation = models.CharField(max_length=10)
    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="+")
    amount = models.DecimalField(**MONEY)
    reference = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.operation} {self.amount} ({self.key})"


class MoneyWaitingSummary(models.Model):
    """What the waiting (backordered, pre-ordered) rows are worth to their customers, per
    currency, as of ``computed_at``: the job refresh_money_waiting_summary values them from
    the rows and replaces the snapshot whole (never a running counter), so the dashboard does
    not join every waiting row to its order's totals on each page view. A currency with
    nothing waiting has no row."""

    currency = models.CharField(max_length=3, primary_key=True)
    # A sum over every waiting order: wider than one order's MONEY.
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "money waiting summary"

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} as of {self.computed_at:%Y-%m-%d %H:%M}"
