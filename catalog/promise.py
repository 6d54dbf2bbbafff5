"""The promise rule, pure: by when waiting units are expected to be covered.

Walk the queue over the supply timeline: free stock now, then inbound supply by
expected date, then the product's manual expected date or its lead time.
orders.services.promises applies it to stored rows; Availability uses it for
units a customer is about to order.
"""

import datetime as dt
import itertools
from dataclasses import dataclass
from enum import StrEnum

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


class Basis(StrEnum):
    """What a promise date rests on."""

    STOCK = "stock"  # free stock now
    INBOUND = "inbound"  # open inbound supply
    FALLBACK = "fallback"  # known supply runs out first: the expected-restock date or the lead time


@dataclass(frozen=True)
class Promise:
    date: dt.date
    basis: Basis
    # The inbound entries counted on, in timeline order up to the one covering the last unit,
    # as given: (expected date, units[, key]).
    supply: tuple[tuple, ...] = ()


def promise_plan(
    *,
    demands: list[int],
    stock_now: int,
    inbound: list[tuple],
    today: dt.date,
    fallbacks: list[dt.date],
) -> list[Promise]:
    """Pure: for each demand in queue order, the date its last unit is covered and what
    covers it (its fallback date when known supply runs out first).

    ``inbound`` holds (expected date, units) pairs, optionally with a third item, a key
    (such as the supply's id) that is handed back in ``Promise.supply``.
    """
    # Below safety stock (stock_now < 0) allocation refills the shortfall first, so supply
    # reaches the queue only after it: the deficit stays in the running total.
    timeline = [(today, stock_now)] + sorted(inbound, key=lambda entry: entry[:2])
    cumulative = list(itertools.accumulate(entry[1] for entry in timeline))
    promises, needed, step = [], 0, 0
    for demand, fallback in zip(demands, fallbacks, strict=True):
        needed += demand
        while step < len(timeline) and cumulative[step] < needed:
            step += 1
        if step == len(timeline):
            promises.append(Promise(fallback, Basis.FALLBACK))
        elif step == 0:
            promises.append(Promise(today, Basis.STOCK))
        else:
            date = max(timeline[step][0], today)
            promises.append(Promise(date, Basis.INBOUND, tuple(timeline[1 : step + 1])))
    return promises


def promise_walk(
    *,
    demands: list[int],
    stock_now: int,
    inbound: list[tuple],
    today: dt.date,
    fallbacks: list[dt.date],
) -> list[dt.date]:
    """The dates of promise_plan alone."""
    plan = promise_plan(
        demands=demands, stock_now=stock_now, inbound=inbound, today=today, fallbacks=fallbacks
    )
    return [promise.date for promise in plan]
