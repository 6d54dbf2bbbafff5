"""The one rule that picks the sources of in-stock units (the shop's sourcing strategy).

Pure: free units per source in, takes out. Checkout asks it for an order's in-stock
lines (one need per product) and restock allocation for each waiting row (one need),
so both follow the same strategy (GlobalSettings.sourcing).
"""

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence

from catalog.models import Sourcing

from .models import Stock

# (source id, {need key: free units there}), active sources only, in priority order.
FreeBySource = Sequence[tuple[int, Mapping[Hashable, int]]]


def sources_choose(
    *, needs: Mapping[Hashable, int], free: FreeBySource, strategy: str
) -> list[tuple[Hashable, int, int]]:
    """(key, source id, units) takes covering ``needs`` ({key: units}, e.g. product ids).

    ``priority``: each need takes from the sources in priority order, a take per source
    used. ``fewest_shipments``: the first source by priority that has every need whole
    serves them all (one shipment); when none has, priority as above. The caller makes
    sure the needs fit in the free units; what does not fit is left untaken. ``free`` is
    not changed.
    """
    needs = {key: units for key, units in needs.items() if units > 0}
    if strategy == Sourcing.FEWEST_SHIPMENTS:
        for source_id, units_free in free:
            if all(units_free.get(key, 0) >= units for key, units in needs.items()):
                return [(key, source_id, units) for key, units in needs.items()]
    takes = []
    for key, units in needs.items():
        for source_id, units_free in free:
            take = min(units_free.get(key, 0), units)
            if take > 0:
                takes.append((key, source_id, take))
                units -= take
                if not units:
                    break
    return takes


def free_by_source(stocks: Iterable[Stock]) -> list[tuple[int, dict[int, int]]]:
    """Loaded stock rows (in priority order, e.g. from stocks_in_priority) as ``free`` for
    sources_choose: per source, free units by product id."""
    free: dict[int, dict[int, int]] = defaultdict(dict)
    for stock in stocks:
        free[stock.source_id][stock.product_id] = stock.free
    return list(free.items())
