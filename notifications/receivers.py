"""Reactions to what lower apps announce."""

import logging

from kombu.exceptions import OperationalError

from .tasks import allocate_product

log = logging.getLogger(__name__)


def allocate_freed_stock(sender, product_ids, **kwargs) -> None:
    """inventory.signals.stock_freed arrives after commit: queue one allocation per product."""
    for product_id in product_ids:
        try:
            allocate_product.delay(product_id)
        except OperationalError:
            # Broker down: the periodic sweep allocates it once the broker is back.
            log.warning("Broker unreachable; product %s left for the allocation sweep", product_id)
