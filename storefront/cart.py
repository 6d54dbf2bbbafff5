"""The cart: ``{product_id: quantity}`` in the session, re-checked on every view.

The session is client-influenced state, so every read parses it again: lines with a
key or quantity that is not a sane whole number, or a product that no longer exists
or is no longer sold, are dropped with a message. Each remaining line is checked
against availability through orders.selectors (the one door), in a constant number
of queries whatever the number of lines.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from billing.money import money_format
from catalog.availability import Availability, Decision, Outcome
from catalog.discounts import LinePrice, availability_line_price
from catalog.models import Product
from orders.selectors import alternatives_for, availability_for_many, discount_rules_for
from orders.services import MAX_LINE_QUANTITY, CartLine

SESSION_KEY = "cart"
# The outcome each line had when the customer last saw it, to tell them what changed.
SEEN_KEY = "cart_seen"
# What each line cost when the customer last saw it ("quantity:total"): a price or a
# discount that changes before they order is told, never charged silently.
SEEN_PRICE_KEY = "cart_seen_price"


class CartChanged(Exception):
    """The cart reads differently from what the customer saw: show it again, place nothing."""


@dataclass(frozen=True)
class ReviewedLine:
    product: Product
    quantity: int
    availability: Availability
    decision: Decision
    price: LinePrice  # units from stock at the list price, waiting ones maybe discounted

    @property
    def ok(self) -> bool:
        return self.decision.ok

    @property
    def line_total(self) -> Decimal:
        return self.price.total


@dataclass
class CartReview:
    """The cart as it stands now, with what changed since the customer last saw it."""

    lines: list[ReviewedLine]
    notices: list[tuple[int, str]] = field(default_factory=list)  # (messages level, text)

    @property
    def is_empty(self) -> bool:
        return not self.lines

    @property
    def problems(self) -> list[ReviewedLine]:
        return [line for line in self.lines if not line.ok]

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def total(self) -> Decimal:
        return sum((line.line_total for line in self.lines), Decimal("0"))

    def cart_lines(self) -> list[CartLine]:
        return [CartLine(product_id=line.product.pk, quantity=line.quantity) for line in self.lines]

    def flash(self, request) -> None:
        for level, text in self.notices:
            messages.add_message(request, level, text)


def _parse_quantity(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value <= MAX_LINE_QUANTITY else None


def _parse_id(key) -> int | None:
    if not isinstance(key, str) or not key.isascii() or not key.isdigit() or len(key) > 18:
        return None
    value = int(key)
    return value if value > 0 and str(value) == key else None


class Cart:
    """A small wrapper over ``request.session`` holding ``{product_id: quantity}``."""

    def __init__(self, session) -> None:
        self.session = session

    # -- reading -----------------------------------------------------------------------
    def _raw(self) -> dict:
        data = self.session.get(SESSION_KEY)
        return data if isinstance(data, dict) else {}

    def _seen(self) -> dict:
        data = self.session.get(SEEN_KEY)
        return data if isinstance(data, dict) else {}

    def _seen_prices(self) -> dict:
        data = self.session.get(SEEN_PRICE_KEY)
        return data if isinstance(data, dict) else {}

    def quantities(self) -> dict[int, int]:
        """The lines that parse; nothing is checked against the database here."""
        found: dict[int, int] = {}
        for key, value in self._raw().items():
            pid, quantity = _parse_id(key), _parse_quantity(value)
            if pid is not None and quantity is not None:
                found[pid] = quantity
        return found

    def quantity_of(self, product_id: int) -> int:
        return self.quantities().get(product_id, 0)

    def __len__(self) -> int:
        """Units in the cart (for the header); reads the session only."""
        return sum(self.quantities().values())

    # -- writing -----------------------------------------------------------------------
    def _save(self, quantities: dict[int, int], seen: dict[str, str] | None = None) -> None:
        self.session[SESSION_KEY] = {str(pid): qty for pid, qty in quantities.items()}
        if seen is not None:
            self.session[SEEN_KEY] = seen
        if prices := self._seen_prices():  # a line removed takes its seen price with it
            self.session[SEEN_PRICE_KEY] = {k: v for k, v in prices.items() if _parse_id(k) in quantities}
        self.session.modified = True

    def set(self, product_id: int, quantity: int, *, outcome: str | None = None) -> None:
        """Put ``quantity`` units of the product in the cart (replacing what was there)."""
        quantities = self.quantities()
        quantities[product_id] = quantity
        seen = {k: v for k, v in self._seen().items() if _parse_id(k) in quantities}
        if outcome is not None:
            seen[str(product_id)] = str(outcome)
        self._save(quantities, seen)

    def remove(self, product_id: int) -> bool:
        quantities = self.quantities()
        if quantities.pop(product_id, None) is None:
            return False
        seen = {k: v for k, v in self._seen().items() if _parse_id(k) in quantities}
        self._save(quantities, seen)
        return True

    def clear(self) -> None:
        self.session.pop(SESSION_KEY, None)
        self.session.pop(SEEN_KEY, None)
        self.session.pop(SEEN_PRICE_KEY, None)
        self.session.modified = True

    # -- checkout: decided once, under the checkout's locks -----------------------------
    def lines_to_place(self) -> list[CartLine] | None:
        """The lines to place as the customer last saw them, read from the session only;
        None when the cart is empty or holds anything unreadable (the review handles it)."""
        stored = self.session.get(SESSION_KEY)
        if not isinstance(stored, dict) or not stored:
            return None
        quantities = self.quantities()
        if len(quantities) != len(stored):
            return None
        return [CartLine(product_id=pid, quantity=quantity) for pid, quantity in quantities.items()]

    def expected_waiting(self) -> list[int]:
        """The products whose units the customer was told would wait (part or all of the
        line): checkout reads what only waiting units need before its locks."""
        waits = {Outcome.PARTIAL, Outcome.BACKORDER, Outcome.PREORDER}
        return [pid for key, outcome in self._seen().items() if (pid := _parse_id(key)) and outcome in waits]

    def refuse_if_changed(self, decided: list, prices: dict) -> None:
        """checkout_place_order's ``check``, under its locks: raise CartChanged if any line
        reads differently from what the customer saw, exactly when the review would have
        told them (a product gone or withdrawn, an outcome change worth a notice, a price
        that changed)."""
        seen, seen_prices = self._seen(), self._seen_prices()
        for line, product, decision in decided:
            if product is None or not product.is_active:
                raise CartChanged()
            key = str(line.product_id)
            if self._change_notice(product, seen.get(key), decision):
                raise CartChanged()
            if self._price_notice(
                product, seen.get(key), seen_prices.get(key), decision, prices.get(line.product_id)
            ):
                raise CartChanged()

    # -- the check every cart and checkout view makes ----------------------------------
    def review(self) -> CartReview:
        """Re-check every line; drop what cannot be read or bought; note what changed.

        Queries: one for the products, plus availability_for_many's constant few, plus
        one for the discount rules when a line may have units wait.
        """
        stored = self.session.get(SESSION_KEY)
        raw = self._raw()
        notices: list[tuple[int, str]] = []
        parsed: dict[int, int] = {}
        unreadable = 0 if stored is None or isinstance(stored, dict) else 1
        for key, value in raw.items():
            pid, quantity = _parse_id(key), _parse_quantity(value)
            if pid is None or quantity is None or pid in parsed:
                unreadable += 1
            else:
                parsed[pid] = quantity
        if unreadable:
            notices.append(
                (
                    messages.WARNING,
                    ngettext(
                        "We removed %(n)s item from your cart that we could not read. Please add it again.",
                        "We removed %(n)s items from your cart that we could not read. "
                        "Please add them again.",
                        unreadable,
                    )
                    % {"n": unreadable},
                )
            )

        products = Product.objects.in_bulk(list(parsed)) if parsed else {}
        sellable = [p for p in products.values() if p.is_active]
        found = availability_for_many(products=sellable) if sellable else {}
        rules = discount_rules_for(found=found)

        seen, seen_prices = self._seen(), self._seen_prices()
        new_seen: dict[str, str] = {}
        new_prices: dict[str, str] = {}
        kept: dict[int, int] = {}
        lines: list[ReviewedLine] = []
        gone = 0
        for pid, quantity in parsed.items():
            product = products.get(pid)
            if product is None:
                gone += 1
                continue
            if not product.is_active:
                notices.append(
                    (
                        messages.WARNING,
                        _("%(product)s is no longer available, so we removed it from your cart.")
                        % {"product": product.name},
                    )
                )
                continue
            availability = found[pid]
            decision = availability.decide(quantity)
            before = seen.get(str(pid))
            if note := self._change_notice(product, before, decision):
                notices.append(note)
            new_seen[str(pid)] = str(decision.outcome)
            kept[pid] = quantity
            price = availability_line_price(availability, decision, rules)
            if note := self._price_notice(product, before, seen_prices.get(str(pid)), decision, price):
                notices.append(note)
            new_prices[str(pid)] = _price_seen(decision, price)
            lines.append(ReviewedLine(product, quantity, availability, decision, price))
        if gone:
            notices.append(
                (
                    messages.WARNING,
                    ngettext(
                        "%(n)s item in your cart is no longer sold and we removed it.",
                        "%(n)s items in your cart are no longer sold and we removed them.",
                        gone,
                    )
                    % {"n": gone},
                )
            )

        if stored is not None and (
            stored != {str(pid): q for pid, q in kept.items()}
            or seen != new_seen
            or seen_prices != new_prices
        ):
            self._save(kept, new_seen)
            self.session[SEEN_PRICE_KEY] = new_prices
        return CartReview(lines=lines, notices=notices)

    @staticmethod
    def _price_notice(
        product: Product,
        before: str | None,
        seen_price: str | None,
        decision: Decision,
        price: LinePrice | None,
    ) -> tuple[int, str] | None:
        """What to tell the customer when the same quantity, served the same way, now costs
        something else (the list price or a discount changed). A different quantity or
        outcome prices differently on its own, and the outcome has its own notice."""
        if price is None or seen_price is None or before != str(decision.outcome):
            return None
        quantity, _sep, total = seen_price.partition(":")
        if quantity != str(decision.requested) or total == str(price.total):
            return None
        return messages.WARNING, _(
            "The price of %(product)s has changed: %(before)s before, %(now)s now."
        ) % {
            "product": product.name,
            "before": money_format(Decimal(total), settings.BILLING_CURRENCY),
            "now": money_format(price.total, settings.BILLING_CURRENCY),
        }

    @staticmethod
    def _change_notice(product: Product, before: str | None, decision: Decision) -> tuple[int, str] | None:
        """What to tell the customer when a line's outcome differs from what they saw."""
        now = str(decision.outcome)
        if before == now:
            return None
        if not decision.ok:
            return messages.ERROR, _("%(reason)s Please change the quantity or remove it.") % {
                "reason": decision.reason
            }
        if before is None:
            return None
        if decision.notify_customer:
            return (
                messages.INFO,
                _("%(product)s: stock has changed — %(split)s")
                % {"product": product.name, "split": split_text(decision)},
            )
        if before == Outcome.PREORDER:
            return messages.INFO, _("%(product)s has been released and is no longer a pre-order.") % {
                "product": product.name
            }
        return None


def _price_seen(decision: Decision, price: LinePrice) -> str:
    return f"{decision.requested}:{price.total}"


def split_text(decision: Decision) -> str:
    """'3 in stock now, 2 will be backordered.' for a decision the customer is told about."""
    if decision.from_stock:
        return _("%(in_stock)s in stock now, %(rest)s will be backordered.") % {
            "in_stock": decision.from_stock,
            "rest": decision.backordered,
        }
    if decision.backordered == 1:
        return _("It will be backordered.")
    return _("All %(n)s will be backordered.") % {"n": decision.backordered}


def alternatives_by_product(products) -> dict[int, list[Availability]]:
    """What to offer beside each refused line: orders.selectors.alternatives_for per product
    (its queries per refused line; a cart has few)."""
    return {product.pk: alternatives_for(product=product) for product in products}
