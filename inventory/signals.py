"""Events inventory announces; higher apps react (inventory imports none of them)."""

from django.dispatch import Signal

# Sent after commit when free stock of a product may have grown (receipt, count up,
# return, released allocation). Arguments: product_ids (list[int]).
stock_freed = Signal()
