from decimal import Decimal
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from solo.models import SingletonModel


class Backorders(models.TextChoices):
    NO = "no", "No backorders"
    ALLOW = "allow", "Allow qty below 0"
    ALLOW_NOTIFY = "allow_notify", "Allow qty below 0 and notify customer"


class PartialAllocation(models.TextChoices):
    SPLIT = "split", "Split the row: ship what arrived"
    WAIT = "wait", "Wait until the whole row can be covered"


class Sourcing(models.TextChoices):
    """Which active sources serve an order's in-stock lines and a restocked row."""

    PRIORITY = "priority", _("Source priority: lowest priority number first, splitting as needed")
    FEWEST_SHIPMENTS = (
        "fewest_shipments",
        _("Fewest shipments: one source that covers it all when there is one, else priority"),
    )


class PolicyFields(models.Model):
    """The backorder settings a product may override; the global record holds defaults."""

    backorders = models.CharField(max_length=16, choices=Backorders.choices, default=Backorders.NO)
    backorder_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Most units waiting on backorder at once (running total). Empty: unlimited.",
    )
    max_backorder_per_order = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Most units one order row may backorder. Empty: unlimited.",
    )
    safety_stock = models.PositiveIntegerField(default=0, help_text="Free units held back from sale.")
    low_stock_threshold = models.PositiveIntegerField(
        default=1, help_text="Alert the merchant when free stock falls to or below this."
    )
    lead_time_days = models.PositiveIntegerField(
        default=14, help_text="Promise date when no inbound supply covers a row."
    )
    partial_allocation = models.CharField(
        max_length=8, choices=PartialAllocation.choices, default=PartialAllocation.SPLIT
    )

    class Meta:
        abstract = True


POLICY_FIELD_NAMES = (
    "backorders",
    "backorder_limit",
    "max_backorder_per_order",
    "safety_stock",
    "low_stock_threshold",
    "lead_time_days",
    "partial_allocation",
)


class GlobalSettings(SingletonModel, PolicyFields):
    """The shop-wide defaults (Magento's "Config Settings")."""

    # Shop-wide only (not a product override): how the storefront words a limit, not the limit.
    allowance_notice_threshold = models.PositiveIntegerField(
        "remaining-allowance notice at or below",
        default=5,
        help_text='Show customers "Only N more can be backordered" (or pre-ordered) when N, what '
        "a backorder or pre-order limit still allows, is at most this. 0: never.",
    )
    # Shop-wide only: one rule for every product, so an order's lines can share a source.
    sourcing = models.CharField(
        _("sourcing strategy"),
        max_length=16,
        choices=Sourcing.choices,
        default=Sourcing.PRIORITY,
        help_text=_(
            "How checkout and restock allocation pick the sources of in-stock units. Fewest "
            "shipments serves all of an order's in-stock lines (or a whole waiting row) from the "
            "first source by priority that has them all, and falls back to priority otherwise."
        ),
    )

    # Shop-wide only: replenishment's average daily demand is the units ordered over this many
    # days (inventory.replenishment). Here rather than in the environment: a merchant tunes it
    # (a season, a promotion) as they tune lead time and safety stock, without a deploy.
    demand_window_days = models.PositiveIntegerField(
        "demand window (days)",
        default=28,
        validators=[MinValueValidator(1)],
        help_text="Replenishment: average daily demand is the units ordered over this many days.",
    )

    class Meta:
        verbose_name = "global backorder settings"
        constraints = [
            models.CheckConstraint(condition=Q(demand_window_days__gte=1), name="global_demand_window_gte_1"),
        ]

    def __str__(self) -> str:
        return "Global backorder settings"


def _use_global(name: str) -> models.BooleanField:
    return models.BooleanField(f"use global {name}", default=True)


class Category(models.Model):
    """A shelf of the storefront. Two levels: a top-level category and its subcategories."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    # PROTECT: deleting a parent would otherwise delete its subcategories with it.
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        limit_choices_to={"parent__isnull": True},
        help_text="Empty for a top-level category. Only top-level categories can be parents (two levels).",
    )
    position = models.PositiveIntegerField(default=0, help_text="Lower comes first among its siblings.")

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["position", "name", "pk"]

    def __str__(self) -> str:
        return f"{self.parent.name} › {self.name}" if self.parent_id else self.name

    def get_absolute_url(self) -> str:
        return reverse(settings.CUSTOMER_URL_NAMES["category"], kwargs={"slug": self.slug})

    def clean(self) -> None:
        # The two-level rule: a parent must be top-level, and a category with
        # subcategories cannot itself move under another one.
        if self.parent_id is None:
            return
        if self.pk is not None and self.parent_id == self.pk:
            raise ValidationError({"parent": "A category cannot be its own parent."})
        if self.parent.parent_id is not None:
            raise ValidationError(
                {"parent": f"“{self.parent.name}” is a subcategory; categories have two levels only."}
            )
        if self.pk is not None and self.children.exists():
            raise ValidationError(
                {"parent": f"“{self.name}” has subcategories, so it must stay a top-level category."}
            )


class Product(PolicyFields):
    sku = models.CharField("SKU", max_length=64, unique=True)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    description = models.TextField(blank=True)
    is_active = models.BooleanField("active", default=True)
    # SET_NULL: removing a category leaves its products on sale, uncategorised.
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="products"
    )

    # Each policy value is used only when its "use global" flag is off (Magento's
    # "Use Config Settings"); a flag is needed because an empty limit means "unlimited".
    use_global_backorders = _use_global("backorders")
    use_global_backorder_limit = _use_global("backorder limit")
    use_global_max_backorder_per_order = _use_global("max backorder per order")
    use_global_safety_stock = _use_global("safety stock")
    use_global_low_stock_threshold = _use_global("low-stock threshold")
    use_global_lead_time_days = _use_global("lead time")
    use_global_partial_allocation = _use_global("partial allocation")

    preorder_enabled = models.BooleanField("pre-order enabled", default=False)
    release_date = models.DateField(null=True, blank=True)
    preorder_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Most units waiting on pre-order at once (running total). Empty: unlimited.",
    )
    backorder_label = models.CharField(
        max_length=80, blank=True, help_text='Not shown when backorders are "Allow qty below 0" (silent).'
    )
    backorder_note = models.CharField(
        max_length=200,
        blank=True,
        help_text='May use {days}, e.g. "ships in ~{days} days". Not shown when backorders are silent.',
    )
    preorder_label = models.CharField(max_length=80, blank=True)
    preorder_note = models.CharField(max_length=200, blank=True)
    expected_restock_date = models.DateField("manual expected-restock date", null=True, blank=True)
    # Offered where this product cannot ship now; when none is chosen (or none is in
    # stock), orders.selectors.alternatives_for picks from the same category.
    alternatives = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="alternative_to",
        help_text="Offered instead when this product cannot ship now. Empty: in-stock products of "
        "the same category at the nearest price.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_gte_0"),
            models.CheckConstraint(
                condition=Q(preorder_enabled=False) | Q(release_date__isnull=False),
                name="product_preorder_has_release_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    def get_absolute_url(self) -> str:
        return reverse(settings.CUSTOMER_URL_NAMES["product"], kwargs={"slug": self.slug})


class DiscountKind(models.TextChoices):
    PERCENT = "percent", "Percent off"
    AMOUNT = "amount", "Amount off"


class DiscountFor(models.TextChoices):
    """Which units a rule discounts: those that wait, by why they wait."""

    BACKORDER = "backorder", "Backordered units"
    PREORDER = "preorder", "Pre-ordered units"
    BOTH = "both", "Backordered and pre-ordered units"


class DiscountScope(models.TextChoices):
    ALL = "all", "All products"
    CATEGORY = "category", "A category (and its subcategories)"
    PRODUCTS = "products", "Chosen products"


class DiscountRule(models.Model):
    """A merchant's discount on units that wait (catalog.discounts applies it)."""

    name = models.CharField(max_length=100, help_text="For the merchant; customers read the discount itself.")
    is_active = models.BooleanField("active", default=True)
    kind = models.CharField(max_length=8, choices=DiscountKind.choices, default=DiscountKind.PERCENT)
    value = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="Percent (10 = 10 %) or an amount off each unit, in the shop's currency.",
    )
    applies_to = models.CharField(
        "applies to", max_length=10, choices=DiscountFor.choices, default=DiscountFor.BOTH
    )
    scope = models.CharField(max_length=10, choices=DiscountScope.choices, default=DiscountScope.ALL)
    category = models.ForeignKey(
        "catalog.Category",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="discount_rules",
        help_text='For the scope "a category".',
    )
    products = models.ManyToManyField(
        Product, blank=True, related_name="discount_rules", help_text='For the scope "chosen products".'
    )
    starts_on = models.DateField("active from", null=True, blank=True, help_text="Empty: from now.")
    ends_on = models.DateField("active to", null=True, blank=True, help_text="Inclusive. Empty: no end.")
    priority = models.PositiveSmallIntegerField(
        default=10,
        help_text="Rules apply in ascending priority (0 first), each to the price the one before left.",
    )
    stop_further = models.BooleanField(
        "stop further rules", default=False, help_text="Once this rule applies, no rule after it does."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["priority", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(value__gt=0),
                name="discount_value_gt_0",
                violation_error_message="The value must be more than 0.",
            ),
            models.CheckConstraint(
                condition=~Q(kind=DiscountKind.PERCENT) | Q(value__lte=100),
                name="discount_percent_lte_100",
                violation_error_message="A percent off is at most 100.",
            ),
            models.CheckConstraint(
                condition=~Q(scope=DiscountScope.CATEGORY) | Q(category__isnull=False),
                name="discount_category_scope_has_category",
                violation_error_message='Choose the category for the scope "a category".',
            ),
            models.CheckConstraint(
                condition=Q(starts_on__isnull=True)
                | Q(ends_on__isnull=True)
                | Q(ends_on__gte=F("starts_on")),
                name="discount_ends_after_start",
                violation_error_message='"Active to" cannot be before "active from".',
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ProductImage(models.Model):
    """A picture of a product. Resized once, on upload (catalog.images), to the widths the
    pages use; ``renditions`` lists the widths made, which the pages offer in ``srcset``."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    image = models.ImageField(upload_to="products/%Y/%m/", width_field="width", height_field="height")
    width = models.PositiveIntegerField(editable=False, default=0)
    height = models.PositiveIntegerField(editable=False, default=0)
    alt = models.CharField(
        "alt text",
        max_length=200,
        help_text="What the picture shows, for people who cannot see it (read aloud by screen readers).",
    )
    position = models.PositiveIntegerField(
        default=0, help_text="The first picture is the product's main one."
    )
    renditions = models.JSONField(default=list, editable=False, help_text="Widths made from the upload.")

    class Meta:
        ordering = ["position", "pk"]
        constraints = [models.CheckConstraint(condition=~Q(alt=""), name="productimage_alt_required")]

    def __str__(self) -> str:
        return self.alt

    def rendition_name(self, width: int) -> str:
        path = PurePosixPath(self.image.name)
        return str(path.with_name(f"{path.stem}-{width}w.jpg"))

    @property
    def srcset(self) -> str:
        return ", ".join(f"{self.image.storage.url(self.rendition_name(w))} {w}w" for w in self.renditions)

    def src(self, width: int) -> str:
        """The narrowest rendition at least ``width`` wide (else the widest): the ``src``
        for browsers without ``srcset``."""
        chosen = next((w for w in self.renditions if w >= width), self.renditions[-1])
        return self.image.storage.url(self.rendition_name(chosen))

    @property
    def card_src(self) -> str:
        return self.src(320)

    @property
    def page_src(self) -> str:
        return self.src(640)
