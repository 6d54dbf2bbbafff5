"""Every write the orders business does. Import services from here."""

from .checkout import MAX_LINE_QUANTITY, CartLine, Customer, checkout_place_order
from .rows import (
    Move,
    row_cancel,
    row_change_source,
    row_release,
    rows_transition,
    shipment_create,
    tracking_clean,
)

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
    "tracking_clean",
]

from .allocation import (  # noqa: E402
    BATCH_SIZE,
    AllocationResult,
    allocation_preview,
    backorders_allocate,
    plan_allocation,
    preorders_release,
)

__all__ += [
    "BATCH_SIZE",
    "AllocationResult",
    "allocation_preview",
    "backorders_allocate",
    "plan_allocation",
    "preorders_release",
]

from .promises import promises_refresh  # noqa: E402

__all__ += ["promises_refresh"]

from .returns import (  # noqa: E402
    return_approve,
    return_lock,
    return_receive,
    return_refunded,
    return_reject,
    return_request,
    return_write_off,
)

__all__ += [
    "return_approve",
    "return_lock",
    "return_receive",
    "return_refunded",
    "return_reject",
    "return_request",
    "return_write_off",
]

from .notes import order_note_add  # noqa: E402

__all__ += ["order_note_add"]

from .tracking import shipment_tracking_change  # noqa: E402

__all__ += ["shipment_tracking_change"]

from .summary import row_status_summary_refresh  # noqa: E402

__all__ += ["row_status_summary_refresh"]

from .replenishment import purchase_orders_from_suggestions  # noqa: E402

__all__ += ["purchase_orders_from_suggestions"]
