from django.conf import settings
from django.db import models
from django.db.models import F, IntegerField, Q, Subquery, Sum
from django.db.models.expressions import CombinedExpression

from catalog.models import Product


class Source(models.Model):
    """A place that holds stock: warehouse, shop floor, supplier drop-ship."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=120)
    priority = models.PositiveIntegerField(default=10, help_text="Lower ships first.")
    is_active = models.BooleanField("active", default=True)

    class Meta:
        ordering = ["priority", "code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


def free_units() -> CombinedExpression:
    """A stock row's free units in SQL: on hand less allocated (``Stock.free`` in Python)."""
    return F("on_hand") - F("allocated")


class StockQuerySet(models.QuerySet):
    """The one definition of free stock in SQL: free units summed over active sources."""

    def at_active_sources(self) -> "StockQuerySet":
        """Stock at active sources: the only stock that is sold or allocated."""
        return self.filter(source__is_active=True)

    def free_by_product(self) -> "StockQuerySet":
        """Free units over active sources, one ``{"product_id", "free"}`` row per product."""
        return self.at_active_sources().values("product_id").annotate(free=Sum(free_units()))

    def free_of(self, product) -> Subquery:
        """Free units of ``product`` (e.g. ``OuterRef("pk")``) as a subquery to annotate
        products with; NULL when it has no stock at an active source."""
        return Subquery(
            self.filter(product=product).free_by_product().values("free"), output_field=IntegerField()
        )


class Stock(models.Model):
    """Units of one product at one source. Changed only by inventory.services."""

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="stocks")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stocks")
    on_hand = models.IntegerField(default=0)
    allocated = models.IntegerField(default=0)

    objects = StockQuerySet.as_manager()

    class Meta:
        ordering = ["product_id", "source__priority", "source_id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "product"], name="stock_unique_source_product"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_gte_0"),
            models.CheckConstraint(condition=Q(allocated__gte=0), name="stock_allocated_gte_0"),
            models.CheckConstraint(
                condition=Q(allocated__lte=F("on_hand")), name="stock_allocated_lte_on_hand"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product.sku} @ {self.source.code}"

    @property
    def free(self) -> int:
        """Free units of this row (``free_units()`` in SQL); they count only at an active source."""
        return self.on_hand - self.allocated


class MovementKind(models.TextChoices):
    RECEIPT = "receipt", "Receipt"
    SHIPMENT = "shipment", "Shipment"
    ADJUSTMENT = "adjustment", "Adjustment"
    COUNT = "count", "Count correction"
    RETURN = "return", "Return"


class StockMovement(models.Model):
    """Append-only ledger: every change of on hand is one row here."""

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="movements")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=16, choices=MovementKind.choices)
    quantity = models.IntegerField(help_text="Change of on hand: positive in, negative out.")
    reason = models.CharField(max_length=255, blank=True)
    reference = models.CharField(max_length=100, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["product", "source"], name="movement_product_source")]
        constraints = [
            models.CheckConstraint(condition=~Q(quantity=0), name="movement_quantity_not_0"),
            # A supplier's reference is received once per source and product.
            models.UniqueConstraint(
                fields=["source", "product", "reference"],
                condition=Q(kind="receipt"),
                name="movement_receipt_once_per_reference",
            ),
            models.CheckConstraint(
                condition=~Q(kind="receipt") | (Q(quantity__gt=0) & ~Q(reference="")),
                name="movement_receipt_positive_with_reference",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.quantity:+d} {self.product_id}@{self.source_id}"


class RestockImport(models.Model):
    """A restock file seen by the scheduled import: its content hash is applied once."""

    class Status(models.TextChoices):
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Failed"

    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=8, choices=Status.choices)
    lines = models.PositiveIntegerField(default=0)
    report = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # The same content is applied at most once, whatever its file name.
            models.UniqueConstraint(
                fields=["sha256"], condition=Q(status="applied"), name="restock_import_applied_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"


class InboundStatus(models.TextChoices):
    OPEN = "open", "Open"
    RECEIVED = "received", "Received"
    CANCELLED = "cancelled", "Cancelled"


class InboundSupply(models.Model):
    """Units expected at a source on a date: a purchase order or transfer not yet received."""

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="inbound")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="inbound")
    quantity = models.PositiveIntegerField()
    expected_date = models.DateField(db_index=True)
    reference = models.CharField(max_length=100, help_text="Becomes the receipt's reference.")
    status = models.CharField(max_length=10, choices=InboundStatus.choices, default=InboundStatus.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["expected_date", "pk"]
        verbose_name_plural = "inbound supply"
        indexes = [models.Index(fields=["product", "status", "expected_date"], name="inbound_open_by_date")]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="inbound_quantity_gt_0"),
            models.UniqueConstraint(
                fields=["source", "product", "reference"], name="inbound_once_per_reference"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product.sku} to {self.source.code} on {self.expected_date}"


# -- Purchasing: suppliers, their terms per product, purchase orders -----------------------


def default_currency() -> str:
    return settings.BILLING_CURRENCY


class Supplier(models.Model):
    name = models.CharField(max_length=200, unique=True)
    email = models.EmailField(help_text="Purchase orders are emailed here.")
    lead_time_days = models.PositiveIntegerField(
        "default lead time (days)", default=14, help_text="Used where a product's terms name none."
    )
    currency = models.CharField(max_length=3, default=default_currency, help_text="ISO 4217, e.g. EUR.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SupplierProduct(models.Model):
    """What one supplier sells one product for, and how: a product may have several, one preferred."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="terms")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="supplier_terms")
    supplier_sku = models.CharField("supplier SKU", max_length=64, blank=True)
    cost_price = models.DecimalField(max_digits=10, decimal_places=2)
    lead_time_days = models.PositiveIntegerField(
        "lead time (days)", null=True, blank=True, help_text="Empty: the supplier's default."
    )
    min_order_qty = models.PositiveIntegerField("minimum order quantity", default=1)
    pack_size = models.PositiveIntegerField(default=1, help_text="Ordered in multiples of this.")
    is_preferred = models.BooleanField("preferred", default=False)

    class Meta:
        ordering = ["product_id", "-is_preferred", "supplier__name"]
        verbose_name = "supplier terms"
        verbose_name_plural = "supplier terms"
        constraints = [
            models.UniqueConstraint(fields=["supplier", "product"], name="supplier_product_unique"),
            models.UniqueConstraint(
                fields=["product"], condition=Q(is_preferred=True), name="supplier_product_one_preferred"
            ),
            models.CheckConstraint(condition=Q(cost_price__gte=0), name="supplier_product_cost_gte_0"),
            models.CheckConstraint(condition=Q(min_order_qty__gte=1), name="supplier_product_moq_gte_1"),
            models.CheckConstraint(condition=Q(pack_size__gte=1), name="supplier_product_pack_gte_1"),
        ]

    def __str__(self) -> str:
        return f"{self.product.sku} from {self.supplier.name}"

    @property
    def effective_lead_time_days(self) -> int:
        if self.lead_time_days is not None:
            return self.lead_time_days
        return self.supplier.lead_time_days


class PurchaseOrderStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SENT = "sent", "Sent"
    PARTLY_RECEIVED = "partly_received", "Partly received"
    RECEIVED = "received", "Received"
    CANCELLED = "cancelled", "Cancelled"
    # The supplier will not deliver the rest of a partly received order.
    CLOSED_SHORT = "closed_short", "Closed short"


# The only moves purchase_order_move makes; receiving moves along sent → partly → received.
# An order with nothing received is cancelled, not closed short: one way per case.
PURCHASE_ORDER_MOVES: dict[str, frozenset[str]] = {
    PurchaseOrderStatus.DRAFT: frozenset({PurchaseOrderStatus.SENT, PurchaseOrderStatus.CANCELLED}),
    PurchaseOrderStatus.SENT: frozenset(
        {PurchaseOrderStatus.PARTLY_RECEIVED, PurchaseOrderStatus.RECEIVED, PurchaseOrderStatus.CANCELLED}
    ),
    PurchaseOrderStatus.PARTLY_RECEIVED: frozenset(
        {PurchaseOrderStatus.RECEIVED, PurchaseOrderStatus.CLOSED_SHORT}
    ),
    PurchaseOrderStatus.RECEIVED: frozenset(),
    PurchaseOrderStatus.CANCELLED: frozenset(),
    PurchaseOrderStatus.CLOSED_SHORT: frozenset(),
}
PURCHASE_ORDER_RECEIVABLE = (PurchaseOrderStatus.SENT, PurchaseOrderStatus.PARTLY_RECEIVED)


class PurchaseOrder(models.Model):
    """Units bought from one supplier. Every status move goes through purchase_order_move."""

    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="purchase_orders")
    # Given right after the insert (PO-00042 from the id), in the same transaction.
    number = models.CharField(max_length=20, blank=True, editable=False)
    status = models.CharField(
        max_length=16, choices=PurchaseOrderStatus.choices, default=PurchaseOrderStatus.DRAFT, editable=False
    )
    currency = models.CharField(max_length=3, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    received_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "created_at"], name="purchase_order_status")]
        constraints = [
            models.UniqueConstraint(
                fields=["number"], condition=~Q(number=""), name="purchase_order_number_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"PO (unsaved {self.pk})"


class PurchaseOrderEvent(models.Model):
    """Every status move of a purchase order: from, to, who, when, and why where a person said
    (closing short keeps the reason and the units not delivered per line)."""

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, choices=PurchaseOrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=PurchaseOrderStatus.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status or 'new'} → {self.to_status}"


class PurchaseOrderLine(models.Model):
    """One product ordered for one source. Sending the order makes it inbound supply (``inbound``);
    receipts referenced by the line raise ``received_quantity`` and lower what is still inbound."""

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveIntegerField()
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="purchase_lines")
    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, related_name="purchase_lines", help_text="Where it is received."
    )
    quantity = models.PositiveIntegerField()
    received_quantity = models.PositiveIntegerField(default=0, editable=False)
    unit_cost = models.DecimalField(max_digits=10, decimal_places=2)
    expected_date = models.DateField()
    inbound = models.OneToOneField(
        InboundSupply,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="purchase_line",
        editable=False,
    )

    class Meta:
        ordering = ["purchase_order_id", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["purchase_order", "line_no"], name="purchase_line_unique_no"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="purchase_line_quantity_gt_0"),
            models.CheckConstraint(
                condition=Q(received_quantity__lte=F("quantity")), name="purchase_line_received_lte_quantity"
            ),
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="purchase_line_cost_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.quantity} × {self.product.sku}"

    @property
    def reference(self) -> str:
        """The line's name on receipts and inbound supply: <PO number>/<line no>."""
        return f"{self.purchase_order.number}/{self.line_no}"

    @property
    def outstanding(self) -> int:
        return self.quantity - self.received_quantity
