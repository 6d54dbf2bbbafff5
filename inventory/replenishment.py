"""The replenishment rule, pure: what to buy of a product, and whether it is below its reorder point.

    reorder point = average daily demand over the window × lead time + safety stock
    need          = waiting + reorder point − free − inbound
    suggestion    = need, never below 0, raised to the minimum order quantity and
                    rounded up to whole packs

The numbers come in (orders.selectors.replenishment_suggestions gathers them in a few
set-based queries); a decision with every number behind it goes out. The admin page,
the draft purchase orders, the nightly reorder-point email and simulate_shop all ask
this function; none re-derives it.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from math import ceil


@dataclass(frozen=True)
class ReplenishmentFigures:
    """What the rule needs for one product, as counted now."""

    demand: int  # units ordered in the window (cancelled rows left out)
    window_days: int
    waiting: int  # units of backordered and pre-ordered rows
    free: int  # on hand − allocated, over active sources
    inbound: int  # open inbound supply (sent purchase orders, transfers), active sources
    safety_stock: int
    lead_time_days: int
    min_order_qty: int = 1
    pack_size: int = 1


@dataclass(frozen=True)
class Replenishment:
    figures: ReplenishmentFigures
    daily_demand: Decimal  # for display, two places; the reorder point uses the exact value
    reorder_point: int
    need: int  # may be negative: that many units above the reorder point
    quantity: int  # what to order: 0, or at least the minimum, in whole packs

    @property
    def below_reorder_point(self) -> bool:
        """Free + inbound − waiting has fallen below the reorder point (the same test as need > 0,
        so the nightly alert and the page never disagree)."""
        return self.need > 0


def replenishment(figures: ReplenishmentFigures) -> Replenishment:
    """The one replenishment rule. Raises ValueError on figures no caller should pass."""
    if figures.window_days < 1:
        raise ValueError(f"The demand window must be at least 1 day, not {figures.window_days}.")
    if figures.min_order_qty < 1 or figures.pack_size < 1:
        raise ValueError(
            f"Minimum order quantity and pack size must be at least 1 "
            f"(got {figures.min_order_qty} and {figures.pack_size})."
        )
    daily = Fraction(max(0, figures.demand), figures.window_days)
    # Whole units: a fraction of a unit of expected demand still needs a unit on the shelf.
    reorder_point = ceil(daily * max(0, figures.lead_time_days)) + max(0, figures.safety_stock)
    need = figures.waiting + reorder_point - figures.free - figures.inbound
    quantity = 0
    if need > 0:
        quantity = max(need, figures.min_order_qty)
        quantity = -(-quantity // figures.pack_size) * figures.pack_size  # whole packs, integer maths
    return Replenishment(
        figures=figures,
        daily_demand=(Decimal(daily.numerator) / Decimal(daily.denominator)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        ),
        reorder_point=reorder_point,
        need=need,
        quantity=quantity,
    )
