"""Whether a quantity of a product may be bought, and why not: decided here only.

Pure rules: the effective policy, the product's pre-order fields and the stock
figures go in, a decision with its reason and numbers comes out. Orders gathers
the figures (orders.selectors.availability_for) and every caller asks through it.

Two readers: ``badge()`` is the true state (the admin's), ``customer_badge()``,
``limit_notice()`` and the decisions' reasons are what a customer reads. They differ
in silent mode (``allow``, Magento's "Allow Qty Below 0" without "Notify Customer"),
where the customer never sees the word backorder, only that the product is
available and when it ships.
"""

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from .models import Backorders, Product
from .promise import fallback_date, promise_walk
from .selectors import EffectivePolicy


def _day(day: dt.date) -> str:
    """A date as the customer's language writes it ("3 Dec 2026", "3. Dez 2026")."""
    return date_format(day)


class Outcome(StrEnum):
    IN_STOCK = "in_stock"
    PARTIAL = "partial"  # part from stock, the rest backordered
    BACKORDER = "backorder"
    PREORDER = "preorder"
    REFUSED = "refused"


class Badge(StrEnum):
    IN_STOCK = "in_stock"
    LOW_STOCK = "low_stock"
    BACKORDER = "backorder"
    PREORDER = "preorder"
    OUT_OF_STOCK = "out_of_stock"
    BACKORDERS_EXHAUSTED = "backorders_exhausted"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class StockFigures:
    free: int  # on hand - allocated, summed over active sources
    waiting_backorder: int = 0  # units on backordered rows
    waiting_preorder: int = 0  # units on pre-ordered rows
    inbound: tuple[tuple[dt.date, int], ...] = ()  # open inbound supply: (expected date, units)


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    requested: int
    from_stock: int
    backordered: int
    preordered: int
    reason: str
    free: int
    stock_salable: int  # what may come from stock now
    headroom: int | None  # more units that may wait; None = unlimited
    notify_customer: bool = False  # allow_notify: tell the customer what is backordered
    ships_by: dt.date | None = None  # promise date of the units that will wait

    @property
    def ok(self) -> bool:
        return self.outcome != Outcome.REFUSED

    @property
    def salable(self) -> int | None:
        """Everything a new order can get now; None = unlimited."""
        if self.headroom is None:
            return None
        return self.stock_salable + self.headroom


def backorders_silent(policy: EffectivePolicy) -> bool:
    """Backorder silently: customers are told a product is available and when it ships,
    never that it is backordered (the one test of silent mode, for products and rows)."""
    return policy.backorders == Backorders.ALLOW


@dataclass(frozen=True)
class Availability:
    """The policy object for one product in its current state."""

    product: Product
    policy: EffectivePolicy
    figures: StockFigures
    today: dt.date

    @property
    def stock_salable(self) -> int:
        # Waiting rows are served first, so a new order never jumps the queue.
        waiting = self.figures.waiting_backorder + self.figures.waiting_preorder
        return max(0, self.figures.free - self.policy.safety_stock - waiting)

    @property
    def headroom(self) -> int | None:
        return 0

    def decide(self, quantity: int) -> Decision:
        raise NotImplementedError

    @property
    def silent(self) -> bool:
        return backorders_silent(self.policy)

    def badge(self) -> tuple[Badge, str]:
        raise NotImplementedError

    def customer_badge(self) -> tuple[Badge, str]:
        """The badge the storefront shows (the true one unless a state words it otherwise)."""
        return self.badge()

    def limit_notice(self) -> str | None:
        """ "Only N more can be backordered / pre-ordered" when a running limit is close."""
        return None

    def _limit_close(self) -> int | None:
        """The remaining allowance when it is small enough to tell (1..threshold), else None."""
        headroom = self.headroom
        if headroom is None or not 0 < headroom <= self.policy.allowance_notice_threshold:
            return None
        return headroom

    # -- helpers shared by the states ------------------------------------------------
    def promise(self, *, waiting: int, ahead: int = 0) -> dt.date:
        """When ``waiting`` units joining the queue now, behind ``ahead`` more units of the
        same order taken from stock, are expected to be covered."""
        figures, today = self.figures, self.today
        date = promise_walk(
            demands=[figures.waiting_backorder + figures.waiting_preorder + ahead, waiting],
            stock_now=figures.free - self.policy.safety_stock,
            inbound=list(figures.inbound),
            today=today,
            fallbacks=[today, fallback_date(product=self.product, policy=self.policy, today=today)],
        )[1]
        if is_preorder(self.product, today):
            date = max(date, self.product.release_date)
        return date

    def _decision(self, outcome: Outcome, quantity: int, reason: str, **parts: int) -> Decision:
        waiting = parts.get("backordered", 0) + parts.get("preordered", 0)
        ships_by = self.promise(waiting=waiting, ahead=parts.get("from_stock", 0)) if waiting else None
        return Decision(
            outcome=outcome,
            requested=quantity,
            from_stock=parts.get("from_stock", 0),
            backordered=parts.get("backordered", 0),
            preordered=parts.get("preordered", 0),
            reason=reason,
            free=self.figures.free,
            stock_salable=self.stock_salable,
            headroom=self.headroom,
            notify_customer=(
                self.policy.backorders == Backorders.ALLOW_NOTIFY and parts.get("backordered", 0) > 0
            ),
            ships_by=ships_by,
        )

    def _refuse(self, quantity: int, reason: str) -> Decision:
        return self._decision(Outcome.REFUSED, quantity, reason)

    def _bad_quantity(self, quantity: int) -> Decision | None:
        if quantity < 1:
            return self._refuse(quantity, _("Quantity must be at least 1."))
        return None

    def _stock_badge(self) -> tuple[Badge, str] | None:
        n = self.stock_salable
        if n <= 0:
            return None
        if n <= self.policy.low_stock_threshold:
            return Badge.LOW_STOCK, _("Only %(n)s left") % {"n": n}
        return Badge.IN_STOCK, _("In stock")


class Unavailable(Availability):
    def decide(self, quantity: int) -> Decision:
        return self._refuse(quantity, _("%(product)s is not for sale.") % {"product": self.product.name})

    def badge(self) -> tuple[Badge, str]:
        return Badge.UNAVAILABLE, _("Not available")


class InStockOnly(Availability):
    """Backorders off: sell what is on the shelf, nothing more."""

    def decide(self, quantity: int) -> Decision:
        if bad := self._bad_quantity(quantity):
            return bad
        n = self.stock_salable
        if quantity <= n:
            return self._decision(Outcome.IN_STOCK, quantity, _("In stock."), from_stock=quantity)
        if n == 0:
            return self._refuse(quantity, _("%(product)s is out of stock.") % {"product": self.product.name})
        return self._refuse(
            quantity, _("Only %(n)s of %(product)s available.") % {"n": n, "product": self.product.name}
        )

    def badge(self) -> tuple[Badge, str]:
        return self._stock_badge() or (Badge.OUT_OF_STOCK, _("Out of stock"))


class Backorderable(Availability):
    """Backorders on: stock first, the rest waits within the limits."""

    @property
    def headroom(self) -> int | None:
        limit = self.policy.backorder_limit
        if limit is None:
            return None
        return max(0, limit - self.figures.waiting_backorder)

    def decide(self, quantity: int) -> Decision:
        if bad := self._bad_quantity(quantity):
            return bad
        from_stock = min(quantity, self.stock_salable)
        rest = quantity - from_stock
        if rest == 0:
            return self._decision(Outcome.IN_STOCK, quantity, _("In stock."), from_stock=quantity)
        per_order = self.policy.max_backorder_per_order
        if per_order is not None and rest > per_order:
            if self.silent:
                return self._refuse(
                    quantity,
                    _("%(product)s: at most %(n)s per order.")
                    % {"product": self.product.name, "n": from_stock + per_order},
                )
            return self._refuse(
                quantity,
                _(
                    "%(product)s: at most %(per_order)s per order can be backordered "
                    "(%(in_stock)s in stock now, so at most %(total)s in all)."
                )
                % {
                    "product": self.product.name,
                    "per_order": per_order,
                    "in_stock": from_stock,
                    "total": from_stock + per_order,
                },
            )
        headroom = self.headroom
        if headroom is not None and rest > headroom:
            if self.silent:
                if from_stock + headroom == 0:
                    return self._refuse(
                        quantity, _("%(product)s is out of stock.") % {"product": self.product.name}
                    )
                return self._refuse(
                    quantity,
                    _("Only %(n)s of %(product)s available.")
                    % {"n": from_stock + headroom, "product": self.product.name},
                )
            if headroom == 0:
                if from_stock:
                    reason = _("%(product)s is no longer taking backorders; only %(n)s in stock.") % {
                        "product": self.product.name,
                        "n": from_stock,
                    }
                else:
                    reason = _("%(product)s is no longer taking backorders.") % {"product": self.product.name}
                return self._refuse(quantity, reason)
            return self._refuse(
                quantity,
                _("Only %(n)s of %(product)s available (%(in_stock)s in stock, %(headroom)s on backorder).")
                % {
                    "n": from_stock + headroom,
                    "product": self.product.name,
                    "in_stock": from_stock,
                    "headroom": headroom,
                },
            )
        if from_stock:
            return self._decision(
                Outcome.PARTIAL,
                quantity,
                _("Available.")
                if self.silent
                else _("%(in_stock)s in stock now, %(rest)s will be backordered.")
                % {"in_stock": from_stock, "rest": rest},
                from_stock=from_stock,
                backordered=rest,
            )
        reason = _("Available.") if self.silent else _("%(rest)s will be backordered.") % {"rest": rest}
        return self._decision(Outcome.BACKORDER, quantity, reason, backordered=rest)

    def badge(self) -> tuple[Badge, str]:
        if found := self._stock_badge():
            return found
        if self.headroom == 0:
            return Badge.BACKORDERS_EXHAUSTED, _("No longer taking backorders")
        return Badge.BACKORDER, _("Available on backorder — ships by %(day)s") % {
            "day": _day(self.promise(waiting=1))
        }

    def customer_badge(self) -> tuple[Badge, str]:
        badge, text = self.badge()
        if not self.silent:
            return badge, text
        # Silent: a backorderable product reads as available, an exhausted one as out of stock.
        if badge == Badge.BACKORDER:
            return Badge.IN_STOCK, _("Available — ships by %(day)s") % {"day": _day(self.promise(waiting=1))}
        if badge == Badge.BACKORDERS_EXHAUSTED:
            return Badge.OUT_OF_STOCK, _("Out of stock")
        return badge, text

    def limit_notice(self) -> str | None:
        remaining = self._limit_close()
        if remaining is None:
            return None
        if self.silent:
            # Only once stock is gone: before, the stock badge speaks and the customer
            # cannot tell shelf units from backordered ones.
            return None if self.stock_salable else _("Only %(n)s more available") % {"n": remaining}
        # Beside "In stock" a backorder notice would only puzzle; beside "Only N left" or
        # the backorder badge it says how far the offer goes.
        if self.stock_salable > self.policy.low_stock_threshold:
            return None
        return _("Only %(n)s more can be backordered") % {"n": remaining}


class PreOrder(Availability):
    """Not released yet: every unit waits for the release date."""

    @property
    def stock_salable(self) -> int:
        return 0

    @property
    def headroom(self) -> int | None:
        limit = self.product.preorder_limit
        if limit is None:
            return None
        return max(0, limit - self.figures.waiting_preorder)

    def decide(self, quantity: int) -> Decision:
        if bad := self._bad_quantity(quantity):
            return bad
        headroom = self.headroom
        if headroom is not None and quantity > headroom:
            if headroom == 0:
                return self._refuse(
                    quantity, _("Pre-orders for %(product)s are full.") % {"product": self.product.name}
                )
            return self._refuse(
                quantity,
                _("Only %(n)s more of %(product)s can be pre-ordered.")
                % {"n": headroom, "product": self.product.name},
            )
        release = self.product.release_date
        return self._decision(
            Outcome.PREORDER,
            quantity,
            _("Pre-order: releases %(day)s.") % {"day": _day(release)},
            preordered=quantity,
        )

    def limit_notice(self) -> str | None:
        remaining = self._limit_close()
        return None if remaining is None else _("Only %(n)s more can be pre-ordered") % {"n": remaining}

    def badge(self) -> tuple[Badge, str]:
        if self.headroom == 0:
            return Badge.OUT_OF_STOCK, _("Pre-orders are full")
        return Badge.PREORDER, _("Pre-order — releases %(day)s") % {"day": _day(self.product.release_date)}


def is_preorder(product: Product, today: dt.date) -> bool:
    """A pre-order product becomes a normal product on its release date."""
    return bool(product.preorder_enabled and product.release_date and product.release_date > today)


def availability(
    *, product: Product, policy: EffectivePolicy, figures: StockFigures, today: dt.date
) -> Availability:
    """Pick the policy object for the product's current state."""
    if not product.is_active:
        state: type[Availability] = Unavailable
    elif is_preorder(product, today):
        state = PreOrder
    elif policy.backorders in (Backorders.ALLOW, Backorders.ALLOW_NOTIFY):
        state = Backorderable
    else:
        state = InStockOnly
    return state(product=product, policy=policy, figures=figures, today=today)
