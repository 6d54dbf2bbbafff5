# Catalog's Product is registered here, not in catalog: its availability column and stock
# inline read orders and inventory, which sit above catalog. Orders' Order admin is
# re-registered here with billing's payment panel (both apps sit below backoffice).
from . import orders, products, returns  # noqa: F401
