"""Reads of the catalog: a product's effective backorder policy."""

from dataclasses import dataclass

from .models import POLICY_FIELD_NAMES, GlobalSettings, Product

PRODUCT = "product"
GLOBAL = "global"


@dataclass(frozen=True)
class EffectivePolicy:
    backorders: str
    backorder_limit: int | None
    max_backorder_per_order: int | None
    safety_stock: int
    low_stock_threshold: int
    lead_time_days: int
    partial_allocation: str
    # For each setting: PRODUCT when the product overrides it, GLOBAL when inherited.
    origins: dict[str, str]

    def origin(self, name: str) -> str:
        return self.origins[name]


def global_settings_get() -> GlobalSettings:
    return GlobalSettings.get_solo()


def product_policy(*, product: Product, defaults: GlobalSettings | None = None) -> EffectivePolicy:
    """The one place a product's effective backorder settings are resolved.

    Pass ``defaults`` when resolving many products so the global row is read once.
    """
    defaults = defaults if defaults is not None else global_settings_get()
    values: dict[str, object] = {}
    origins: dict[str, str] = {}
    for name in POLICY_FIELD_NAMES:
        if getattr(product, f"use_global_{name}"):
            values[name], origins[name] = getattr(defaults, name), GLOBAL
        else:
            values[name], origins[name] = getattr(product, name), PRODUCT
    return EffectivePolicy(**values, origins=origins)


def products_with_effective(queryset, *, name: str, value):
    """The set-based form of product_policy for one setting: products whose value in
    force (their own, or the global one they inherit) equals ``value``."""
    overridden = queryset.filter(**{f"use_global_{name}": False, name: value})
    if getattr(global_settings_get(), name) == value:
        return overridden | queryset.filter(**{f"use_global_{name}": True})
    return overridden
