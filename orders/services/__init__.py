"""Every write the orders business does. Import services from here."""

from .checkout import MAX_LINE_QUANTITY, CartLine, Customer, checkout_place_order
from .rows import Move, row_cancel, row_change_source, row_release, rows_transition, shipment_create

__all__ = [
    "MAX_LINE_QUANTITY",
    "CartLine",
    "Customer",
    "Move",
    "checkout_place_order",
    "row_cancel",
    "row_change_source",
    "row_release",
    "rows_transition",
    "shipment_create",
]
