"""Events orders announces; notifications reacts (orders imports nothing above it).

Sent inside the transaction that made the change, so a receiver can write its
outbox rows atomically with it: if the change rolls back, so do its emails.
"""

from django.dispatch import Signal

order_placed = Signal()  # order, decisions (one availability Decision per line, in line order), rows
rows_allocated = Signal()  # rows: rows that just received restocked units (now allocated)
shipment_created = Signal()  # shipment, rows (now shipped)
# shipment (its corrected carrier and tracking number), was_carrier, was_tracking_number (before),
# note: the OrderNote recording the change (one per change)
shipment_tracking_changed = Signal()
preorders_released = Signal()  # rows: pre-ordered rows now waiting as backorders after release
promises_slipped = Signal()  # slips: [Slip(row_id, was, now)] rows whose promise moved later
rows_cancelled = Signal()  # rows: rows just cancelled (the queue behind them moved up)
return_moved = Signal()  # return_request, event: a return was asked for or took a step (ReturnEvent)
