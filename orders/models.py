from urllib.parse import quote

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.discounts import Discount
from catalog.models import Product
from inventory.models import Source


class RowStatus(models.TextChoices):
    ALLOCATED = "allocated", _("Allocated")
    BACKORDERED = "backordered", _("Backordered")
    PREORDERED = "preordered", _("Pre-ordered")
    SHIPPED = "shipped", _("Shipped")
    CANCELLED = "cancelled", _("Cancelled")


# The only moves a row may make (DESIGN.md); orders.services.rows_transition enforces it
# (and lets an allocated row move to another source, staying allocated).
ALLOWED_MOVES: dict[str, frozenset[str]] = {
    RowStatus.PREORDERED: frozenset({RowStatus.BACKORDERED, RowStatus.ALLOCATED, RowStatus.CANCELLED}),
    RowStatus.BACKORDERED: frozenset({RowStatus.ALLOCATED, RowStatus.CANCELLED}),
    RowStatus.ALLOCATED: frozenset({RowStatus.SHIPPED, RowStatus.CANCELLED, RowStatus.BACKORDERED}),
    RowStatus.SHIPPED: frozenset(),
    RowStatus.CANCELLED: frozenset(),
}
WAITING = (RowStatus.BACKORDERED, RowStatus.PREORDERED)
AT_SOURCE = (RowStatus.ALLOCATED, RowStatus.SHIPPED)


class OrderStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PARTIALLY_SHIPPED = "partially_shipped", _("Partially shipped")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


def order_status_from_rows(statuses: set[str]) -> str:
    """An order's status is derived from its rows, never stored."""
    live = statuses - {RowStatus.CANCELLED}
    if not live:
        return OrderStatus.CANCELLED
    if live == {RowStatus.SHIPPED}:
        return OrderStatus.COMPLETED
    if RowStatus.SHIPPED in live:
        return OrderStatus.PARTIALLY_SHIPPED
    return OrderStatus.OPEN


class Order(models.Model):
    number = models.CharField(max_length=20, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
    )
    email = models.EmailField()
    full_name = models.CharField(max_length=150)
    address = models.TextField()
    placed_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The language the customer shopped in: the order's emails are written in it.
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE)

    class Meta:
        ordering = ["-placed_at", "-pk"]
        indexes = [
            # The admin's exact (case-insensitive) search by order number and email.
            models.Index(Upper("number"), name="order_number_upper"),
            models.Index(Upper("email"), name="order_email_upper"),
            # The order changelist's ordering, newest first.
            models.Index(fields=["-placed_at", "-id"], name="order_newest_first"),
        ]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse(settings.CUSTOMER_URL_NAMES["order"], kwargs={"number": self.number})

    @property
    def status(self) -> str:
        return order_status_from_rows({row.status for row in self.rows.all()})

    def get_status_display(self) -> str:
        return OrderStatus(self.status).label


class Shipment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments")
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="shipments")
    shipped_at = models.DateTimeField(default=timezone.now)
    shipped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A key of settings.SHIPPING_CARRIERS (name and tracking-URL pattern); both optional.
    carrier = models.CharField(max_length=30, blank=True)
    tracking_number = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-shipped_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(tracking_number="") | ~Q(carrier=""), name="shipment_tracking_has_carrier"
            ),
        ]

    def __str__(self) -> str:
        return f"Shipment {self.pk} of {self.order.number} from {self.source.code}"

    @property
    def carrier_name(self) -> str:
        return settings.SHIPPING_CARRIERS.get(self.carrier, {}).get("name", self.carrier)

    @property
    def tracking_url(self) -> str:
        """The carrier's tracking page for this parcel ("" without a number or a pattern)."""
        pattern = settings.SHIPPING_CARRIERS.get(self.carrier, {}).get("url", "")
        if not (pattern and self.tracking_number):
            return ""
        return pattern.format(number=quote(self.tracking_number, safe=""))


class OrderRow(models.Model):
    """Units of one product in one status; a row whose units part ways is split."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="rows")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_rows")
    status = models.CharField(max_length=16, choices=RowStatus.choices)
    quantity = models.PositiveIntegerField()
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.PROTECT, related_name="order_rows"
    )
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    # A discount on units that waited at checkout (catalog.discounts), snapshotted with
    # the price: the list price before it and its rules (Discount.snapshot). Both empty
    # when the row was sold at the list price. Splits keep all three.
    list_price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    discount = models.JSONField(null=True, blank=True)
    # Queue position: the customer's tier (higher first), the order's time, then the
    # customer's line; splits keep all three.
    queue_tier = models.PositiveSmallIntegerField(default=0)
    queue_at = models.DateTimeField()
    line_no = models.PositiveIntegerField()
    split_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="splits"
    )
    shipment = models.ForeignKey(
        Shipment, null=True, blank=True, on_delete=models.PROTECT, related_name="rows"
    )
    promise_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["order_id", "line_no", "pk"]
        indexes = [
            models.Index(
                fields=["product", "status", "-queue_tier", "queue_at", "order", "line_no", "id"],
                name="row_fifo_queue",
            ),
            # The restock queue (allocation, pre-order release): waiting rows of a product in
            # queue order (QUEUE_ORDER), so a batch reads its 1,000 rows off the index in
            # order and stops; row_fifo_queue has the status before the queue keys, so a read
            # of both waiting statuses had to sort every waiting row of the product.
            models.Index(
                fields=["product", "-queue_tier", "queue_at", "order", "line_no", "id"],
                condition=Q(status__in=WAITING),
                name="row_waiting_queue",
            ),
            models.Index(fields=["status", "queue_at"], name="row_status_age"),
            # The order-row changelist's ordering: any page of a million rows is an index walk.
            models.Index(fields=["queue_at", "order", "line_no", "id"], name="row_admin_queue"),
            # Waiting units of a product (availability: product pages, cart, checkout) and the
            # dashboard's aggregates over waiting rows read this index alone (index-only): a
            # product's sum reads its own waiting rows' entries, not the table.
            models.Index(
                fields=["product", "status"],
                include=["quantity", "queue_at", "promise_date"],
                condition=Q(status__in=WAITING),
                name="row_waiting_units",
            ),
            # promises at risk (dashboard): waiting rows by promise date
            models.Index(
                fields=["promise_date"],
                condition=Q(status__in=WAITING),
                name="row_waiting_promise",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="row_quantity_gt_0"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="row_unit_price_gte_0"),
            models.CheckConstraint(
                condition=Q(list_price__isnull=True, discount__isnull=True)
                | Q(list_price__isnull=False, discount__isnull=False, list_price__gte=F("unit_price")),
                name="row_discount_below_list_price",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=AT_SOURCE) | Q(source__isnull=False),
                name="row_at_source_has_source",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=WAITING) | Q(source__isnull=True),
                name="row_waiting_has_no_source",
            ),
            models.CheckConstraint(
                condition=~Q(status=RowStatus.SHIPPED) | Q(shipment__isnull=False),
                name="row_shipped_has_shipment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order.number} #{self.line_no}: {self.quantity} × {self.product.sku} ({self.status})"

    @property
    def is_waiting(self) -> bool:
        return self.status in WAITING

    @property
    def line_total(self):
        return self.unit_price * self.quantity

    @property
    def discount_applied(self):
        """The snapshotted catalog.discounts.Discount, or None (sold at the list price)."""
        return Discount.from_snapshot(self.discount, list_price=self.list_price, unit_price=self.unit_price)


class RowStatusSummary(models.Model):
    """Rows and units per status as of ``computed_at``: the job refresh_row_status_summary
    recounts them from the rows (a snapshot replaced whole, never a running counter), so the
    admin's "rows by status" does not scan every order row on each page view."""

    status = models.CharField(max_length=16, choices=RowStatus.choices, primary_key=True)
    rows = models.PositiveBigIntegerField()
    units = models.PositiveBigIntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "row status summary"

    def __str__(self) -> str:
        return f"{self.status}: {self.rows} rows as of {self.computed_at:%Y-%m-%d %H:%M}"


QUEUE_ORDER = ("-queue_tier", "queue_at", "order_id", "line_no", "pk")


class CustomerTier(models.Model):
    """An optional priority tier: higher tiers are served first when stock returns."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tier")
    priority = models.PositiveSmallIntegerField(
        default=1, help_text="0 is everyone's default; higher tiers are served first."
    )

    def __str__(self) -> str:
        return f"{self.user} (tier {self.priority})"


class RowEvent(models.Model):
    """Every status move of a row: from, to, how many units, who, when, why."""

    row = models.ForeignKey(OrderRow, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, choices=RowStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=RowStatus.choices)
    quantity = models.PositiveIntegerField()
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status or 'new'} → {self.to_status} ({self.quantity})"


class OrderNote(models.Model):
    """A staff note on an order: who wrote what, when. Append-only (a journal, not a field)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [models.CheckConstraint(condition=~Q(text=""), name="note_text_not_empty")]

    def __str__(self) -> str:
        return f"note on {self.order_id} by {self.author_id}"


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    RECEIVED = "received", _("Received")
    WRITTEN_OFF = "written_off", _("Accepted without restock")
    REFUNDED = "refunded", _("Refunded")


# orders.services.returns moves a return only along these (billing refunds it).
RETURN_MOVES: dict[str, frozenset[str]] = {
    ReturnStatus.REQUESTED: frozenset({ReturnStatus.APPROVED, ReturnStatus.REJECTED}),
    ReturnStatus.APPROVED: frozenset({ReturnStatus.RECEIVED, ReturnStatus.WRITTEN_OFF}),
    ReturnStatus.RECEIVED: frozenset({ReturnStatus.REFUNDED}),
    ReturnStatus.WRITTEN_OFF: frozenset({ReturnStatus.REFUNDED}),
    ReturnStatus.REFUNDED: frozenset(),
    ReturnStatus.REJECTED: frozenset(),
}
# What a return holds of its row's shipped units (a rejected one gives them back).
RETURN_HOLDS = (
    ReturnStatus.REQUESTED,
    ReturnStatus.APPROVED,
    ReturnStatus.RECEIVED,
    ReturnStatus.WRITTEN_OFF,
    ReturnStatus.REFUNDED,
)


class ReturnRequest(models.Model):
    """Shipped units of one row the customer sends back. ``row_quantity`` is the row's shipped
    quantity when asked (a shipped row never changes); the sum over a row's returns is checked
    under the row's lock (orders.services.returns), each return's own bound by the database."""

    row = models.ForeignKey(OrderRow, on_delete=models.PROTECT, related_name="returns")
    quantity = models.PositiveIntegerField()
    row_quantity = models.PositiveIntegerField()
    reason = models.CharField(max_length=500)
    status = models.CharField(max_length=16, choices=ReturnStatus.choices, default=ReturnStatus.REQUESTED)
    # where the units went back on the shelf (received)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "created_at"], name="return_status_age")]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0) & Q(quantity__lte=F("row_quantity")),
                name="return_quantity_within_row",
            ),
            models.CheckConstraint(
                condition=~Q(status=ReturnStatus.RECEIVED) | Q(source__isnull=False),
                name="return_received_has_source",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="return_has_reason"),
        ]

    def __str__(self) -> str:
        return f"Return {self.pk}: {self.quantity} of row {self.row_id} ({self.status})"


class ReturnEvent(models.Model):
    """Every step of a return, on its row: from, to, who, when, why."""

    return_request = models.ForeignKey(ReturnRequest, on_delete=models.CASCADE, related_name="events")
    row = models.ForeignKey(OrderRow, on_delete=models.CASCADE, related_name="return_events")
    from_status = models.CharField(max_length=16, choices=ReturnStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=ReturnStatus.choices)
    quantity = models.PositiveIntegerField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"return {self.return_request_id}: {self.from_status or 'new'} → {self.to_status}"
