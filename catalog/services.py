"""Every write catalog's business does to products outside the product form."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .models import POLICY_FIELD_NAMES, Product
from .signals import products_settings_changed


def products_set_policy(
    *, product_ids: Iterable[int], name: str, value: object = None, use_global: bool
) -> int:
    """Set one backorder setting on many products at once: either "use global" (the product's
    own value is kept, unused) or the product's own ``value`` (validated as the product form
    would; None is "unlimited" for a limit). One UPDATE; returns how many products changed.
    Raises ValidationError naming the setting when the value is not allowed."""
    if name not in POLICY_FIELD_NAMES:
        raise ValidationError({name: f"{name!r} is not a backorder setting."})
    ids = sorted(set(product_ids))
    updates: dict[str, object] = {f"use_global_{name}": use_global, "updated_at": timezone.now()}
    if not use_global:
        field = Product._meta.get_field(name)
        try:
            updates[name] = field.clean(value, None)
        except ValidationError as exc:
            raise ValidationError({name: exc.messages}) from exc
    with transaction.atomic():
        changed = Product.objects.filter(pk__in=ids).update(**updates)
        products_settings_changed.send(sender=Product, product_ids=ids)
    return changed
