"""Events orders announces; notifications reacts (orders imports nothing above it).

Sent inside the transaction that made the change, so a receiver can write its
outbox rows atomically with it.
"""

from django.dispatch import Signal

order_placed = Signal()  # order
rows_moved = Signal()  # rows (the rows now in their new status), user
shipment_created = Signal()  # shipment
rows_allocated = Signal()  # rows: the rows that just received units (status allocated)
preorders_released = Signal()  # rows: pre-ordered rows now waiting as backorders after release
