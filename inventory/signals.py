"""Events inventory announces; higher apps react (inventory imports none of them)."""

from django.dispatch import Signal

# Sent after commit when free stock of a product may have grown (receipt, count up,
# return, released allocation). Arguments: product_ids (list[int]).
stock_freed = Signal()

# Sent after commit when what is expected to arrive for products changed (inbound
# supply created, moved, received or cancelled). Arguments: product_ids (list[int]).
supply_changed = Signal()

# Sent INSIDE the transaction that sent a purchase order (unlike the two above), so the
# supplier's email is written to the outbox with it, or not at all. Arguments:
# purchase_order, lines (its PurchaseOrderLine rows, products and sources loaded).
purchase_order_sent = Signal()
