"""The promise rule, pure: by when waiting units are expected to be covered.

Walk the queue over the supply timeline: free stock now, then inbound supply by
expected date, then the product's manual expected date or its lead time.
orders.services.promises applies it to stored rows; Availability uses it for
units a customer is about to order.
"""

import datetime as dt
import itertools

from .models import Product
from .selectors import EffectivePolicy


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
