"""Reads of the catalog: a product's effective backorder policy; the category tree."""

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import NOT_PROVIDED, Case, F, Q, Subquery, Value, When
from django.db.models.functions import Coalesce

from .models import POLICY_FIELD_NAMES, Category, DiscountRule, DiscountScope, GlobalSettings, Product

if TYPE_CHECKING:
    from .discounts import Rule

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
    # Shop-wide only (GlobalSettings): "Only N more can be backordered" shows at N <= this.
    allowance_notice_threshold: int = 5

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
    return EffectivePolicy(
        **values, origins=origins, allowance_notice_threshold=defaults.allowance_notice_threshold
    )


def effective_setting(name: str) -> Case:
    """The set-based form of product_policy for one setting: a query expression giving
    each product's value in force (its own, or the global one it inherits)."""
    field = Product._meta.get_field(name)
    inherited = Subquery(GlobalSettings.objects.values(name)[:1])
    default = GlobalSettings._meta.get_field(name).default
    if default is not NOT_PROVIDED and default is not None:
        inherited = Coalesce(inherited, Value(default))  # before the settings row exists
    return Case(
        When(**{f"use_global_{name}": True}, then=inherited), default=F(name), output_field=field.clone()
    )


def products_with_effective(queryset, *, name: str, value):
    """Products whose value in force for setting ``name`` equals ``value``."""
    return queryset.alias(effective=effective_setting(name)).filter(effective=value)


def discount_rules_active(*, today: dt.date) -> list["Rule"]:
    """The discount rules in force on ``today``, as catalog.discounts reads them.

    One query, plus one for the chosen products and one for subcategories when such
    rules exist.
    """
    from .discounts import Rule  # catalog.discounts imports availability, which imports us

    rules = list(
        DiscountRule.objects.filter(
            Q(starts_on__isnull=True) | Q(starts_on__lte=today),
            Q(ends_on__isnull=True) | Q(ends_on__gte=today),
            is_active=True,
        )
    )
    chosen: dict[int, set[int]] = {}
    if ids := [r.pk for r in rules if r.scope == DiscountScope.PRODUCTS]:
        through = DiscountRule.products.through.objects.filter(discountrule_id__in=ids)
        for rule_id, product_id in through.values_list("discountrule_id", "product_id"):
            chosen.setdefault(rule_id, set()).add(product_id)
    covered: dict[int, set[int]] = {}
    if top := {r.category_id for r in rules if r.scope == DiscountScope.CATEGORY}:
        covered = {pk: {pk} for pk in top}
        for pk, parent in Category.objects.filter(parent_id__in=top).values_list("pk", "parent_id"):
            covered[parent].add(pk)
    return [
        Rule(
            pk=r.pk,
            name=r.name,
            kind=r.kind,
            value=r.value,
            applies_to=r.applies_to,
            priority=r.priority,
            stop=r.stop_further,
            starts_on=r.starts_on,
            ends_on=r.ends_on,
            scope=r.scope,
            category_ids=frozenset(covered.get(r.category_id, ())),
            product_ids=frozenset(chosen.get(r.pk, ())),
        )
        for r in rules
    ]


def categories_tree() -> list[Category]:
    """Top-level categories, each with ``.subcategories`` (a list), in position order: one query."""
    categories = list(Category.objects.all())
    by_parent: dict[int | None, list[Category]] = {}
    for category in categories:
        by_parent.setdefault(category.parent_id, []).append(category)
    for category in categories:
        category.subcategories = by_parent.get(category.pk, [])
    return by_parent.get(None, [])


def category_products(*, category: Category):
    """The active products of a category and of its subcategories."""
    return Product.objects.filter(Q(category=category) | Q(category__parent=category), is_active=True)


def category_trail(category: Category | None) -> list[Category]:
    """The breadcrumb trail down to ``category``: [parent, category], or [category].

    Read ``category`` with ``select_related("parent")`` (or a product with
    ``select_related("category__parent")``) and this costs no query.
    """
    if category is None:
        return []
    return [category.parent, category] if category.parent_id else [category]
