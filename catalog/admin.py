"""Merchant admin for the catalog: the global settings page and the catalog half of the product admin.

The product admin itself is registered in backoffice/admin/products.py, because its
availability column and stock inline need apps above catalog; it builds on
ProductAdminBase below, which only needs what catalog knows.
"""

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html
from solo.admin import SingletonModelAdmin

from .images import product_image_renditions_make
from .models import (
    POLICY_FIELD_NAMES,
    Backorders,
    Category,
    DiscountRule,
    DiscountScope,
    GlobalSettings,
    Product,
    ProductImage,
)
from .selectors import GLOBAL, EffectivePolicy, product_policy, products_with_effective


@admin.register(GlobalSettings)
class GlobalSettingsAdmin(SingletonModelAdmin):
    fieldsets = (
        (
            "Backorders",
            {
                "fields": ("backorders", "backorder_limit", "max_backorder_per_order", "partial_allocation"),
                "description": "Defaults for every product that does not override them.",
            },
        ),
        ("Stock", {"fields": ("safety_stock", "low_stock_threshold", "lead_time_days")}),
        (
            "Purchasing",
            {
                "fields": ("demand_window_days",),
                "description": "Shop-wide: the replenishment suggestions' demand window.",
            },
        ),
        (
            "Sourcing",
            {
                "fields": ("sourcing",),
                "description": "Shop-wide: which sources serve checkouts and restocked rows.",
            },
        ),
        (
            "Storefront",
            {
                "fields": ("allowance_notice_threshold",),
                "description": "Shop-wide: products do not override these.",
            },
        ),
    )


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    """The storefront's category tree; the form refuses a third level (Category.clean)."""

    list_display = ("name", "parent", "position", "product_count")
    list_display_links = ("name",)
    list_editable = ("position",)
    list_filter = (("parent", admin.RelatedOnlyFieldListFilter),)
    list_select_related = ("parent",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    fields = ("name", "slug", "parent", "position")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_product_count=Count("products"))

    @admin.display(description="products", ordering="_product_count")
    def product_count(self, obj: Category) -> int:
        return obj._product_count


def format_policy_value(value: object) -> str:
    """A policy value as a merchant reads it: an empty limit is "unlimited"."""
    return "unlimited" if value is None else str(value)


def describe_effective(policy: EffectivePolicy, name: str) -> str:
    """The value in force and where it came from: "use global: allow (global)", "override: 5 (product)"."""
    value = format_policy_value(getattr(policy, name))
    origin = policy.origin(name)
    prefix = "use global" if origin == GLOBAL else "override"
    return f"{prefix}: {value} ({origin})"


def _effective_display(name: str):
    label = Product._meta.get_field(name).verbose_name

    @admin.display(description=f"effective {label}")
    def effective(self, obj):
        return describe_effective(self.effective_policy(obj), name)

    effective.__name__ = f"effective_{name}"
    return effective


class EffectiveBackordersFilter(admin.SimpleListFilter):
    """Products by the backorders value in force, inherited or overridden."""

    title = "backorders (effective)"
    parameter_name = "backorders_effective"

    def lookups(self, request, model_admin):
        return Backorders.choices

    def queryset(self, request, queryset):
        value = self.value()
        if value not in Backorders.values:
            return queryset
        return products_with_effective(queryset, name="backorders", value=value)


class OverridesFilter(admin.SimpleListFilter):
    title = "overrides global settings"
    parameter_name = "overrides"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        inherits_all = {f"use_global_{name}": True for name in POLICY_FIELD_NAMES}
        if self.value() == "yes":
            return queryset.exclude(**inherits_all)
        if self.value() == "no":
            return queryset.filter(**inherits_all)
        return queryset


def _setting_rows() -> tuple:
    rows: list = []
    for name in POLICY_FIELD_NAMES:
        rows.append((f"use_global_{name}", name))
        rows.append(f"effective_{name}")
    return tuple(rows)


class ProductImageInline(admin.TabularInline):
    """Pictures of the product; each upload is resized once when saved (ProductAdminBase.save_formset)."""

    model = ProductImage
    extra = 1
    fields = ("preview", "image", "alt", "position")
    readonly_fields = ("preview",)

    @admin.display(description="preview")
    def preview(self, obj: ProductImage) -> str:
        if not obj.pk or not obj.renditions:
            return "—"
        return format_html('<img src="{}" alt="" width="80">', obj.card_src)


class ProductAdminBase(admin.ModelAdmin):
    """Fields, fieldsets and effective-value lines of the product admin (not registered)."""

    search_fields = ("sku", "name")
    list_filter = (
        "is_active",
        "category",
        EffectiveBackordersFilter,
        OverridesFilter,
        "preorder_enabled",
        "release_date",
    )
    prepopulated_fields = {"slug": ("name",)}
    fieldsets = (
        (
            "Product",
            {"fields": ("sku", "name", "slug", "category", "price", "description", "is_active")},
        ),
        (
            "Backorder settings",
            {
                "fields": (*_setting_rows(), "expected_restock_date"),
                "description": (
                    "Each setting inherits the global default while its “use global” box is "
                    "ticked; untick it to use the value beside it. The line below each shows "
                    "the value in force and where it comes from."
                ),
            },
        ),
        ("Pre-order", {"fields": ("preorder_enabled", "release_date", "preorder_limit")}),
        (
            "Labels & notes",
            {"fields": ("backorder_label", "backorder_note", "preorder_label", "preorder_note")},
        ),
        (
            "Alternatives",
            {
                "fields": ("alternatives",),
                "description": "Offered where this product cannot ship now, those in stock at the time, "
                "nearest in price first (at most 4). None chosen, or none in stock: products of the "
                "same category.",
            },
        ),
    )
    autocomplete_fields = ("alternatives",)
    readonly_fields = tuple(f"effective_{name}" for name in POLICY_FIELD_NAMES)

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.model is ProductImage:
            for image_form in formset.forms:
                image = image_form.instance
                # New or replaced file only: an alt text or position change keeps the renditions.
                if (
                    image.pk
                    and "image" in image_form.changed_data
                    and image_form not in formset.deleted_forms
                ):
                    product_image_renditions_make(image=image)

    def effective_policy(self, obj: Product | None) -> EffectivePolicy:
        """The product's policy, resolved once per object (the add form shows a new product's)."""
        obj = obj if obj is not None else Product()
        cached = getattr(obj, "_admin_effective_policy", None)
        if cached is None:
            cached = product_policy(product=obj)
            obj._admin_effective_policy = cached
        return cached


for _name in POLICY_FIELD_NAMES:
    setattr(ProductAdminBase, f"effective_{_name}", _effective_display(_name))


class DiscountRuleForm(forms.ModelForm):
    class Meta:
        model = DiscountRule
        fields = (
            "name",
            "is_active",
            "kind",
            "value",
            "applies_to",
            "scope",
            "category",
            "products",
            "starts_on",
            "ends_on",
            "priority",
            "stop_further",
        )

    def clean(self):
        data = super().clean()
        if data.get("scope") == DiscountScope.PRODUCTS and not data.get("products"):
            self.add_error("products", 'Choose the products for the scope "chosen products".')
        return data


@admin.register(DiscountRule)
class DiscountRuleAdmin(admin.ModelAdmin):
    """Discounts on units that wait; catalog.discounts applies them (priority, stop)."""

    form = DiscountRuleForm
    list_display = (
        "name",
        "is_active",
        "kind",
        "value",
        "applies_to",
        "scope",
        "starts_on",
        "ends_on",
        "priority",
        "stop_further",
    )
    list_filter = ("is_active", "applies_to", "scope", "kind")
    list_editable = ("is_active", "priority")
    search_fields = ("name",)
    list_select_related = ("category",)
    autocomplete_fields = ("products",)
    fieldsets = (
        (None, {"fields": ("name", "is_active")}),
        (
            "Discount",
            {
                "fields": ("kind", "value", "applies_to"),
                "description": "Only units that wait (backordered or pre-ordered) are discounted; "
                "units from stock keep their price.",
            },
        ),
        ("Scope", {"fields": ("scope", "category", "products")}),
        ("When", {"fields": ("starts_on", "ends_on", "priority", "stop_further")}),
    )
