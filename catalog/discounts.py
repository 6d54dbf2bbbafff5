"""Discounts on units that wait (backordered, pre-ordered): decided here only.

Pure rules: the merchant's rules (as ``Rule`` snapshots, read by
catalog.selectors.discount_rules_active), the product and the availability decision
go in; the price of each part of the line comes out. Only the units that wait are
discounted: of 5 with 2 in stock, 2 are at the list price and 3 at the discounted one.
The checkout snapshots the result on the rows (orders.services.checkout), so a rule
changed later never changes a placed order.

Rules apply in ascending priority (then creation order), each to the price the one
before left; a rule marked "stop further rules" is the last to apply. A price never
goes below zero.
"""

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext

from .availability import Decision, backorders_silent
from .models import DiscountFor, DiscountKind, DiscountScope, Product

BACKORDER = DiscountFor.BACKORDER.value
PREORDER = DiscountFor.PREORDER.value
ZERO = Decimal("0")
# Discounted prices are prices: rounded to what Product.price stores.
PRICE_QUANTUM = Decimal(1).scaleb(-Product._meta.get_field("price").decimal_places)


@dataclass(frozen=True)
class Rule:
    """One merchant rule as the pure rule reads it (no database behind it)."""

    pk: int
    kind: str  # DiscountKind
    value: Decimal
    applies_to: str  # DiscountFor
    priority: int = 10
    stop: bool = False
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    scope: str = DiscountScope.ALL
    category_ids: frozenset[int] = frozenset()  # the category and its subcategories
    product_ids: frozenset[int] = frozenset()
    name: str = ""

    def covers(self, *, product_id: int, category_id: int | None, state: str, today: dt.date) -> bool:
        if self.applies_to not in (state, DiscountFor.BOTH):
            return False
        if (self.starts_on and today < self.starts_on) or (self.ends_on and today > self.ends_on):
            return False
        if self.scope == DiscountScope.CATEGORY:
            return category_id is not None and category_id in self.category_ids
        if self.scope == DiscountScope.PRODUCTS:
            return product_id in self.product_ids
        return True

    def apply(self, price: Decimal) -> Decimal:
        off = price * self.value / 100 if self.kind == DiscountKind.PERCENT else self.value
        return max(ZERO, (price - off).quantize(PRICE_QUANTUM, rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Discount:
    """A discounted unit price, the rules that made it and why (the state the units wait in)."""

    list_price: Decimal
    unit_price: Decimal
    state: str  # BACKORDER or PREORDER
    steps: tuple[tuple[int, str, Decimal], ...]  # (rule pk, kind, value), in the order applied

    def reason(self, money: Callable[[Decimal], str]) -> str:
        """ "10 % off while on pre-order" in the active language; ``money`` formats an amount
        (billing.money.money_format with the currency), which catalog cannot import."""
        parts = [
            gettext("%(percent)s %%") % {"percent": _number(value)}
            if kind == DiscountKind.PERCENT
            else money(value)
            for _, kind, value in self.steps
        ]
        off = " + ".join(parts)
        if self.state == PREORDER:
            return gettext("%(off)s off while on pre-order") % {"off": off}
        return gettext("%(off)s off while on backorder") % {"off": off}

    # -- the snapshot on an order row (OrderRow.discount) --------------------------------
    def snapshot(self) -> dict:
        return {
            "state": self.state,
            "steps": [{"rule": pk, "kind": kind, "value": str(value)} for pk, kind, value in self.steps],
        }

    @classmethod
    def from_snapshot(cls, data: dict | None, *, list_price: Decimal | None, unit_price: Decimal):
        if not data or list_price is None:
            return None
        steps = tuple((s["rule"], s["kind"], Decimal(s["value"])) for s in data.get("steps", ()))
        return cls(list_price=list_price, unit_price=unit_price, state=data["state"], steps=steps)


def _number(value: Decimal) -> str:
    """10.00 -> "10", 12.50 -> "12.5"."""
    return format(value.normalize(), "f")


def discount_for(*, product: Product, state: str, rules: Iterable[Rule], today: dt.date) -> Discount | None:
    """The discount on one unit of ``product`` waiting in ``state``, or None."""
    price = product.price
    steps = []
    for rule in sorted(rules, key=lambda r: (r.priority, r.pk)):
        if not rule.covers(product_id=product.pk, category_id=product.category_id, state=state, today=today):
            continue
        price = rule.apply(price)
        steps.append((rule.pk, rule.kind, rule.value))
        if rule.stop:
            break
    if not steps:
        return None
    return Discount(list_price=product.price, unit_price=price, state=state, steps=tuple(steps))


@dataclass(frozen=True)
class Part:
    """Units of a line at one unit price."""

    quantity: int
    unit_price: Decimal
    discount: Discount | None = None

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class LinePrice:
    """What a line costs, part by part: units from stock first, then those that wait."""

    parts: tuple[Part, ...]

    @property
    def total(self) -> Decimal:
        return sum((p.total for p in self.parts), ZERO)

    @property
    def discounted(self) -> bool:
        return any(p.discount for p in self.parts)

    @property
    def discount(self) -> Discount | None:
        """The discount of the waiting units, if any (a line waits in one state)."""
        return next((p.discount for p in self.parts if p.discount), None)

    def lines(self) -> list[tuple[Decimal, int]]:
        """(unit price, quantity) per part: what billing's totals rule takes."""
        return [(p.unit_price, p.quantity) for p in self.parts]


def _waiting_parts(decision: Decision, *, silent: bool):
    """(units, state, may a rule price them) of the units that wait. In silent mode
    (catalog.availability.backorders_silent) the customer is never told units are
    backordered, so no backorder rule applies: the one place that says so."""
    for quantity, state in ((decision.backordered, BACKORDER), (decision.preordered, PREORDER)):
        if quantity:
            yield quantity, state, not (silent and state == BACKORDER)


def line_price(
    *, product: Product, decision: Decision, silent: bool, rules: Iterable[Rule], today: dt.date
) -> LinePrice:
    """Price the units as ``decision`` serves them. A refused decision is priced at the list
    price (nothing is known to wait). In silent mode (catalog.availability.backorders_silent)
    the customer is never told units are backordered, so no backorder rule applies."""
    price = product.price
    if not decision.ok:
        return LinePrice((Part(decision.requested, price),))
    parts = []
    if decision.from_stock:
        parts.append(Part(decision.from_stock, price))
    for quantity, state, may_discount in _waiting_parts(decision, silent=silent):
        found = None
        if may_discount:
            found = discount_for(product=product, state=state, rules=rules, today=today)
        parts.append(Part(quantity, found.unit_price if found else price, found))
    return LinePrice(tuple(parts))


def discountable(availability, decision: Decision) -> bool:
    """Whether a rule could price any unit of ``decision``: units that wait and that the
    customer is told wait (line_price's rule, _waiting_parts)."""
    if not decision.ok:
        return False
    silent = backorders_silent(availability.policy)
    return any(may for _, _, may in _waiting_parts(decision, silent=silent))


def availability_line_price(availability, decision: Decision, rules: Iterable[Rule]) -> LinePrice:
    """line_price for a decision of ``availability`` (catalog.availability.Availability)."""
    return line_price(
        product=availability.product,
        decision=decision,
        silent=backorders_silent(availability.policy),
        rules=rules,
        today=availability.today,
    )
