"""Reactions to what lower apps announce. Thin: each calls one function."""

import logging

from kombu.exceptions import OperationalError

from . import events
from .tasks import allocate_product, notify_back_in_stock

log = logging.getLogger(__name__)


def allocate_freed_stock(sender, product_ids, **kwargs) -> None:
    """inventory.signals.stock_freed arrives after commit: queue the allocation, then the
    back-in-stock emails (they only count units the waiting rows are not entitled to)."""
    for product_id in product_ids:
        try:
            allocate_product.delay(product_id)
            notify_back_in_stock.delay(product_id)
        except OperationalError:
            # Broker down: the periodic sweep allocates it once the broker is back.
            log.warning("Broker unreachable; product %s left for the allocation sweep", product_id)


def order_placed(sender, order, **kwargs) -> None:
    events.notify_order_placed(order=order)


def rows_allocated(sender, rows, **kwargs) -> None:
    events.notify_rows_allocated(rows=rows)


def shipment_created(sender, shipment, rows, **kwargs) -> None:
    events.notify_shipped(shipment=shipment, rows=rows)


def preorders_released(sender, rows, **kwargs) -> None:
    events.notify_preorders_released(rows=rows)
