# The product admin lives here, not in catalog, because its availability column
# and stock inline need inventory and the waiting queue (apps above catalog).
from . import orders, products  # noqa: F401
