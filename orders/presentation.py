"""How a customer reads an order row: the one place its status is worded for them.

Every customer page and email goes through rows_for_customer. In silent mode
(catalog.availability.backorders_silent: backorders "allow", without "notify") a
backordered row reads as being prepared, with its date; the customer never sees the
word backorder. Merchant pages and emails use the row's real status.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from catalog.availability import backorders_silent
from catalog.models import GlobalSettings
from catalog.selectors import global_settings_get, product_policy

from .models import OrderRow, RowStatus

PREPARING = _("Preparing")


@dataclass(frozen=True)
class CustomerRow:
    row: OrderRow
    status: str  # the status as the customer reads it
    css: str  # the page's status modifier (status--<css>)
    waiting_text: str  # where a waiting row stands, for the "ships from" column


def rows_for_customer(
    rows: Iterable[OrderRow], *, defaults: GlobalSettings | None = None
) -> list[CustomerRow]:
    """The rows as a customer reads them, in the given order.

    Reads the global settings once, and only when a row is backordered (pass ``defaults``
    when the caller has them). Rows need their product loaded.
    """
    rows = list(rows)
    backordered = [r for r in rows if r.status == RowStatus.BACKORDERED]
    silent: set[int] = set()
    if backordered:
        defaults = defaults if defaults is not None else global_settings_get()
        silent = {
            r.product_id
            for r in backordered
            if backorders_silent(product_policy(product=r.product, defaults=defaults))
        }
    found = []
    for row in rows:
        if row.status == RowStatus.BACKORDERED and row.product_id in silent:
            found.append(CustomerRow(row, PREPARING, "preparing", ""))
        elif row.status == RowStatus.BACKORDERED:
            found.append(CustomerRow(row, RowStatus(row.status).label, row.status, _("Waiting for stock")))
        elif row.status == RowStatus.PREORDERED:
            found.append(CustomerRow(row, RowStatus(row.status).label, row.status, _("Waiting for release")))
        else:
            found.append(CustomerRow(row, RowStatus(row.status).label, row.status, ""))
    return found
