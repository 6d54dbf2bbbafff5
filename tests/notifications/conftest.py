"""Fixtures only the notifications tests use.

``invariants`` checks what must hold after any race or crash: counters agree with rows
and the ledger, no unit is given twice, the queue order is kept. The real Celery
processes (``celery_workers``) and the broker fixtures are in tests/conftest.py.
"""

from collections import defaultdict
from contextlib import contextmanager

import pytest
from django.db.models import Sum

from inventory.models import Stock
from inventory.selectors import stock_drift
from inventory.signals import stock_freed
from notifications import receivers
from orders.models import WAITING, OrderRow, RowEvent, RowStatus

from .smtp import SmtpSink


@pytest.fixture
def sink():
    """A real SMTP server, listening, that keeps what it receives."""
    with SmtpSink() as server:
        yield server


@pytest.fixture
def no_allocation_trigger():
    """Disconnect the stock_freed -> allocate_product receiver: a "lost trigger"."""

    @contextmanager
    def disconnected():
        stock_freed.disconnect(dispatch_uid="allocate_freed_stock")
        try:
            yield
        finally:
            stock_freed.connect(receivers.allocate_freed_stock, dispatch_uid="allocate_freed_stock")

    yield disconnected
    stock_freed.connect(receivers.allocate_freed_stock, dispatch_uid="allocate_freed_stock")


# -- Invariants after races and crashes. --


def _origin(row: OrderRow) -> int:
    # A split keeps the waiting part in the original row; the moved part links to it.
    return row.split_from_id or row.pk


def queue_key(row: OrderRow) -> tuple:
    return (-row.queue_tier, row.queue_at, row.order_id, row.line_no)


def units_by_origin(product_id: int, status: str = RowStatus.ALLOCATED) -> dict[int, int]:
    """Units in ``status`` per customer line (original row id), splits summed."""
    units: dict[int, int] = defaultdict(int)
    for row in OrderRow.objects.filter(product_id=product_id, status=status):
        units[_origin(row)] += row.quantity
    return dict(units)


def check_invariants() -> None:
    """Everything that must hold whatever raced or crashed (the whole database)."""
    # Counters agree with the rows at each source, within on hand.
    rows_at_source = {
        (r["source_id"], r["product_id"]): r["units"]
        for r in OrderRow.objects.filter(status=RowStatus.ALLOCATED)
        .values("source_id", "product_id")
        .annotate(units=Sum("quantity"))
    }
    for stock in Stock.objects.all():
        key = (stock.source_id, stock.product_id)
        assert 0 <= stock.allocated <= stock.on_hand, f"stock {key}: {stock.allocated}/{stock.on_hand}"
        assert stock.allocated == rows_at_source.pop(key, 0), f"stock {key} counter != its rows"
    assert rows_at_source == {}, f"allocated rows without a stock row: {rows_at_source}"

    # No unit given twice: every customer line still adds up to what was ordered.
    placed = defaultdict(int)
    for event in RowEvent.objects.filter(from_status="").select_related("row"):
        placed[_origin(event.row)] += event.quantity
    now = defaultdict(int)
    for row in OrderRow.objects.all():
        now[_origin(row)] += row.quantity
    assert dict(now) == dict(placed), "a line's rows no longer add up to what was ordered"

    # Queue order: no backordered row is ahead of a row that was served from a restock
    # (pre-ordered rows of an unreleased product are not in the queue yet).
    restocked = RowEvent.objects.filter(from_status__in=WAITING, to_status=RowStatus.ALLOCATED)
    served = defaultdict(list)
    for event in restocked.select_related("row"):
        served[event.row.product_id].append(queue_key(event.row))
    for product_id, keys in served.items():
        backordered = OrderRow.objects.filter(product_id=product_id, status=RowStatus.BACKORDERED)
        waiting = [queue_key(row) for row in backordered]
        if waiting:
            assert max(keys) <= min(waiting), f"product {product_id}: a later row was served first"

    # The ledger reconciles with the counters.
    assert stock_drift() == []


@pytest.fixture
def invariants():
    return check_invariants
