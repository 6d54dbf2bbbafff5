"""Events billing announces; notifications (above it) reacts. Sent inside the transaction
that wrote them, so a receiver's outbox rows commit with them."""

from django.dispatch import Signal

order_paid = Signal()  # order_id, entry: the checkout's authorization or charge, recorded once
shipment_charged = Signal()  # entry: a shipment's capture intent (pending, or awaiting a pay link)
refunds_written = Signal()  # order_id, entries: refund intents (cancelled rows, shipping)
