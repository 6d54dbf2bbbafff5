"""Merchant admin for inventory. Counters are read-only here: every change goes through
inventory.services, from the "Receive stock", "Adjust / count" and CSV upload pages, and
inbound supply is created, changed, received and cancelled through its services too."""

from . import inbound, purchasing, sources, stock  # noqa: F401  (registers the model admins)
from .sources import StockInline

__all__ = ["StockInline"]
