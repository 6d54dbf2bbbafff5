# Catalog's Product is registered here, not in catalog: its availability column and stock
# inline read orders and inventory, which sit above catalog.
from . import products  # noqa: F401
