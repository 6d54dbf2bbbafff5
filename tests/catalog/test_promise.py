"""The pure promise rule: each waiting demand's date and what it rests on."""

import datetime as dt

from catalog.promise import Basis, Promise, promise_plan, promise_walk

TODAY = dt.date(2025, 3, 3)


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


def test_each_date_says_whether_stock_supply_or_the_fallback_covers_it():
    plan = promise_plan(
        demands=[2, 2, 3, 4],
        stock_now=2,
        inbound=[(days(9), 3, "PO-B"), (days(4), 2, "PO-A")],
        today=TODAY,
        fallbacks=[days(30)] * 4,
    )
    assert plan == [
        Promise(TODAY, Basis.STOCK),
        Promise(days(4), Basis.INBOUND, ((days(4), 2, "PO-A"),)),
        # its last unit comes with PO-B, and it counts on PO-A arriving first
        Promise(days(9), Basis.INBOUND, ((days(4), 2, "PO-A"), (days(9), 3, "PO-B"))),
        Promise(days(30), Basis.FALLBACK),
    ]


def test_supply_without_keys_gives_the_same_dates():
    keyed = promise_plan(
        demands=[1, 3],
        stock_now=0,
        inbound=[(days(5), 2, 1), (days(2), 2, 2)],
        today=TODAY,
        fallbacks=[days(9)] * 2,
    )
    plain = promise_walk(
        demands=[1, 3],
        stock_now=0,
        inbound=[(days(5), 2), (days(2), 2)],
        today=TODAY,
        fallbacks=[days(9)] * 2,
    )
    assert [p.date for p in keyed] == plain == [days(2), days(5)]


def test_stock_below_safety_stock_is_refilled_before_supply_reaches_the_queue():
    # 1 unit free with a safety stock of 3: stock_now is -2. Allocation gives waiting rows
    # only what exceeds the safety stock, so the first 2 units of the supply refill it.
    plan = promise_plan(
        demands=[3, 2], stock_now=-2, inbound=[(days(5), 5, "PO")], today=TODAY, fallbacks=[days(14)] * 2
    )
    assert [(p.date, p.basis) for p in plan] == [(days(5), Basis.INBOUND), (days(14), Basis.FALLBACK)]
