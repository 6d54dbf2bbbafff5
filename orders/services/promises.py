"""Promise dates: by when each waiting row is expected to be allocated.

Walk the queue in allocation order over the supply timeline: free stock now,
then open inbound supply by expected date, then the product's manual expected
date or its lead time. Pre-ordered rows are never promised before release.
"""

import datetime as dt
import itertools
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from catalog.availability import is_preorder
from catalog.models import Product
from catalog.selectors import EffectivePolicy, product_policy
from inventory.selectors import free_stock_by_product, inbound_open_by_product

from ..models import QUEUE_ORDER, OrderRow, RowStatus
from ..signals import promises_slipped

PROMISE_BATCH = 1000


def fallback_date(
    *, product: Product, policy: EffectivePolicy, today: dt.date, since: dt.date | None = None
) -> dt.date:
    """Beyond known supply: the merchant's expected-restock date, else the lead time.

    The lead time counts from when the row started waiting (``since``); once that
    date has passed with nothing in sight, it rolls on by whole lead times, so a
    promise moves once per period rather than a day every day.
    """
    manual = product.expected_restock_date
    if manual and manual >= today:
        return manual
    lead = max(1, policy.lead_time_days)
    start = since or today
    periods = max(0, -(-(today - start).days // lead))  # ceil: the first period end >= today
    return start + dt.timedelta(days=lead * max(1, periods))


def promise_walk(
    *,
    demands: list[int],
    stock_now: int,
    inbound: list[tuple[dt.date, int]],
    today: dt.date,
    fallbacks: list[dt.date],
) -> list[dt.date]:
    """Pure: for each demand in queue order, the date its last unit is covered
    (its fallback date when known supply runs out first)."""
    timeline = [(today, max(0, stock_now))] + sorted(inbound)
    cumulative = list(itertools.accumulate(quantity for _, quantity in timeline))
    dates, needed, step = [], 0, 0
    for demand, fallback in zip(demands, fallbacks, strict=True):
        needed += demand
        while step < len(timeline) and cumulative[step] < needed:
            step += 1
        dates.append(max(timeline[step][0], today) if step < len(timeline) else fallback)
    return dates


@dataclass(frozen=True)
class Slip:
    row_id: int
    was: dt.date
    now: dt.date


def promises_refresh(*, product_id: int, today: dt.date | None = None) -> list[Slip]:
    """Recompute every waiting row's promise for a product; returns the rows that slipped.

    Customers whose promise moved later are told (promises_slipped, in this
    transaction); earlier moves are simply saved.
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        product = Product.objects.get(pk=product_id)
        policy = product_policy(product=product)
        stock_now = free_stock_by_product(product_ids=[product_id]).get(product_id, 0) - policy.safety_stock
        inbound = inbound_open_by_product(product_ids=[product_id]).get(product_id, [])
        rows = list(
            OrderRow.objects.filter(
                product_id=product_id, status__in=[RowStatus.BACKORDERED, RowStatus.PREORDERED]
            )
            .order_by(*QUEUE_ORDER)
            .only("pk", "quantity", "status", "promise_date", "queue_at")
        )
        dates = promise_walk(
            demands=[r.quantity for r in rows],
            stock_now=stock_now,
            inbound=inbound,
            today=today,
            fallbacks=[
                fallback_date(
                    product=product, policy=policy, today=today, since=timezone.localdate(r.queue_at)
                )
                for r in rows
            ],
        )
        release = product.release_date if is_preorder(product, today) else None
        changed, slips = [], []
        for row, date in zip(rows, dates, strict=True):
            if row.status == RowStatus.PREORDERED and release:
                date = max(date, release)
            if row.promise_date != date:
                if row.promise_date is not None and date > row.promise_date:
                    slips.append(Slip(row_id=row.pk, was=row.promise_date, now=date))
                row.promise_date = date
                changed.append(row)
        OrderRow.objects.bulk_update(changed, ["promise_date"], batch_size=PROMISE_BATCH)
        if slips:
            promises_slipped.send(sender=OrderRow, slips=slips)
    return slips


def promise_for_new_units(
    *, availability, inbound: list[tuple[dt.date, int]], quantity: int, ahead: int = 0
) -> dt.date:
    """The promise for ``quantity`` units joining the end of the queue now, behind
    everything already waiting and ``ahead`` more units (e.g. this order's own stock)."""
    product, policy, figures, today = (
        availability.product,
        availability.policy,
        availability.figures,
        availability.today,
    )
    waiting = figures.waiting_backorder + figures.waiting_preorder
    date = promise_walk(
        demands=[waiting + ahead, quantity],
        stock_now=figures.free - policy.safety_stock,
        inbound=inbound,
        today=today,
        fallbacks=[today, fallback_date(product=product, policy=policy, today=today)],
    )[1]
    if is_preorder(product, today):
        date = max(date, product.release_date)
    return date
