"""Draft purchase orders from replenishment suggestions: the admin page's one action.

Here, in orders, because the suggestions are (orders.selectors.replenishment_suggestions:
demand and waiting units come from order rows); the purchase orders themselves are
inventory's (purchase_order_create_draft), one per preferred supplier.
"""

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from inventory.models import PurchaseOrder
from inventory.services.purchasing import DraftLine, purchase_order_create_draft

from ..exceptions import ReplenishmentRefused
from ..selectors import replenishment_suggestions


def purchase_orders_from_suggestions(
    *, product_ids: Iterable[int], user=None, now=None
) -> list[PurchaseOrder]:
    """One draft purchase order per preferred supplier, a line per product for the quantity the
    rule suggests now (recomputed here, not taken from the page), delivered to the product's
    source. All or nothing: a product with no preferred supplier, nothing to order or nowhere
    to receive it refuses the whole action, naming each one."""
    product_ids = sorted(set(product_ids))
    now = now or timezone.now()
    suggestions = replenishment_suggestions(product_ids=product_ids, now=now)
    problems = []
    found = {s.product.pk for s in suggestions}
    if missing := [pk for pk in product_ids if pk not in found]:
        problems += [(f"#{pk}", "not an active product") for pk in missing]
    by_supplier: dict[int, list] = {}
    for s in suggestions:
        figures = s.decision.figures
        if s.terms is None:
            problems.append((s.product.sku, "no preferred supplier"))
        elif not s.decision.quantity:
            problems.append(
                (
                    s.product.sku,
                    f"nothing to order now (free {figures.free}, inbound {figures.inbound}, "
                    f"waiting {figures.waiting}, reorder point {s.decision.reorder_point})",
                )
            )
        elif s.source is None:
            problems.append((s.product.sku, "no active source to receive it"))
        else:
            by_supplier.setdefault(s.terms.supplier_id, []).append(s)
    if problems:
        raise ReplenishmentRefused(problems)
    with transaction.atomic():
        return [
            purchase_order_create_draft(
                supplier=group[0].supplier,
                lines=[
                    DraftLine(product=s.product, quantity=s.decision.quantity, source=s.source) for s in group
                ],
                user=user,
            )
            for group in sorted(by_supplier.values(), key=lambda g: (g[0].supplier.name, g[0].supplier.pk))
        ]
