"""Promise dates: by when each waiting row is expected to be allocated.

Walk the queue in allocation order over the supply timeline: free stock now,
then open inbound supply by expected date, then the product's manual expected
date or its lead time. Pre-ordered rows are never promised before release.
"""

import dataclasses
import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from catalog.availability import is_preorder
from catalog.models import Product
from catalog.promise import Promise, fallback_date, promise_plan
from catalog.selectors import product_policy
from inventory.selectors import free_stock_by_product, inbound_open_by_product

from ..models import QUEUE_ORDER, WAITING, OrderRow, RowStatus
from ..signals import promises_slipped

PROMISE_BATCH = 1000


@dataclass(frozen=True)
class Slip:
    row_id: int
    was: dt.date
    now: dt.date


def _queue_promises(*, product_id: int, today: dt.date) -> list[tuple[OrderRow, Promise]]:
    """Each waiting row of the product in queue order with its promise and what it rests on
    (``Promise.supply`` holds (expected date, units, supply id) entries)."""
    product = Product.objects.get(pk=product_id)
    policy = product_policy(product=product)
    stock_now = free_stock_by_product(product_ids=[product_id]).get(product_id, 0) - policy.safety_stock
    inbound = inbound_open_by_product(product_ids=[product_id], with_ids=True).get(product_id, [])
    rows = list(
        OrderRow.objects.filter(product_id=product_id, status__in=WAITING)
        .order_by(*QUEUE_ORDER)
        .only("pk", "quantity", "status", "promise_date", "queue_at")
    )
    plan = promise_plan(
        demands=[r.quantity for r in rows],
        stock_now=stock_now,
        inbound=inbound,
        today=today,
        fallbacks=[
            fallback_date(product=product, policy=policy, today=today, since=timezone.localdate(r.queue_at))
            for r in rows
        ],
    )
    release = product.release_date if is_preorder(product, today) else None
    found = []
    for row, promise in zip(rows, plan, strict=True):
        if row.status == RowStatus.PREORDERED and release and release > promise.date:
            promise = dataclasses.replace(promise, date=release)
        found.append((row, promise))
    return found


def promises_explain(*, product_id: int, today: dt.date | None = None) -> dict[int, Promise]:
    """Read only: each waiting row's promise as the walk sees it now, by row id, with its
    basis (free stock, which inbound supply, or the fallback date)."""
    today = today or timezone.localdate()
    return {row.pk: promise for row, promise in _queue_promises(product_id=product_id, today=today)}


def promises_refresh(*, product_id: int, today: dt.date | None = None) -> list[Slip]:
    """Recompute every waiting row's promise for a product; returns the rows that slipped.

    Customers whose promise moved later are told (promises_slipped, in this
    transaction); earlier moves are simply saved.
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        changed, slips = [], []
        for row, promise in _queue_promises(product_id=product_id, today=today):
            date = promise.date
            if row.promise_date != date:
                if row.promise_date is not None and date > row.promise_date:
                    slips.append(Slip(row_id=row.pk, was=row.promise_date, now=date))
                row.promise_date = date
                changed.append(row)
        OrderRow.objects.bulk_update(changed, ["promise_date"], batch_size=PROMISE_BATCH)
        if slips:
            promises_slipped.send(sender=OrderRow, slips=slips)
    return slips
