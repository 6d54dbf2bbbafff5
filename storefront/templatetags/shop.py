"""Storefront presentation of an availability: badge, button label, note, dates.

Nothing here decides whether something can be bought: the Availability object
(from orders.selectors, the one door) answers that; this only words its answer.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django import template
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from billing.money import money_format
from catalog.availability import Availability, Badge, Decision
from catalog.discounts import Discount, LinePrice, availability_line_price
from catalog.models import Backorders
from orders.presentation import CustomerRow, rows_for_customer
from orders.selectors import discount_rules_for
from orders.services import MAX_LINE_QUANTITY

from ..cart import Cart, split_text

register = template.Library()

DEFAULT_LABELS = {
    Badge.IN_STOCK: _("Add to cart"),
    Badge.LOW_STOCK: _("Add to cart"),
    Badge.BACKORDER: _("Backorder"),
    Badge.PREORDER: _("Pre-order"),
}
WAITING_BADGES = {Badge.OUT_OF_STOCK, Badge.BACKORDER, Badge.BACKORDERS_EXHAUSTED}


@dataclass(frozen=True)
class Offer:
    badge: str  # a catalog.availability.Badge value, also the CSS modifier
    badge_text: str
    can_buy: bool
    label: str  # the buy button's text
    note: str  # the product's backorder or pre-order note, {days} filled in
    expected_restock: dt.date | None
    notify: bool  # allow_notify: tell the customer how many units will be backordered
    limit_notice: str  # "Only N more can be backordered" when a running limit is close, else ""


def offer_for(availability: Availability) -> Offer:
    product = availability.product
    badge, text = availability.customer_badge()
    label, note = DEFAULT_LABELS.get(badge, ""), ""
    if badge == Badge.BACKORDER:
        label = product.backorder_label or label
        note = product.backorder_note
    elif badge == Badge.PREORDER:
        label = product.preorder_label or label
        note = product.preorder_note
    if note:
        note = note.replace("{days}", str(availability.policy.lead_time_days))
    expected = product.expected_restock_date
    if badge not in WAITING_BADGES or (expected and expected < availability.today):
        expected = None
    return Offer(
        badge=str(badge),
        badge_text=text,
        can_buy=availability.decide(1).ok,
        label=str(label or _("Add to cart")),
        note=note,
        expected_restock=expected,
        notify=availability.policy.backorders == Backorders.ALLOW_NOTIFY,
        limit_notice=availability.limit_notice() or "",
    )


@register.simple_tag
def offer(availability: Availability) -> Offer:
    """``{% offer availability as o %}`` then ``o.badge_text``, ``o.label``, ``o.can_buy``..."""
    return offer_for(availability)


@register.filter
def backorder_split(decision: Decision | None) -> str:
    """'3 in stock now, 2 will be backordered.' when the policy says tell the customer; else ''."""
    if decision is None or not decision.ok or not decision.notify_customer:
        return ""
    return split_text(decision)


@register.simple_tag
def customer_rows(rows) -> list[CustomerRow]:
    """``{% customer_rows order.rows.all as lines %}``: each row with its status as the customer
    reads it (``line.status``, ``line.css``, ``line.waiting_text``, ``line.row``)."""
    return rows_for_customer(rows)


@register.filter
def customer_status(row) -> str:
    """One row's status as the customer reads it: "Backordered", or "Preparing" when silent."""
    return rows_for_customer([row])[0].status


@register.simple_tag(takes_context=True)
def cart_units(context) -> int:
    """Units in the cart, from the session alone (no query when there is no session)."""
    request = context.get("request")
    if request is None or not hasattr(request, "session"):
        return 0
    return len(Cart(request.session))


@register.filter
def money(value, currency=None) -> str:
    """34 -> '€34.00' in the active language, by billing's money_format; ``currency`` is the
    order's (its snapshot), else the shop's (BILLING_CURRENCY)."""
    if value in (None, ""):
        return ""
    try:
        return money_format(Decimal(value), currency or settings.BILLING_CURRENCY)
    except (ArithmeticError, TypeError, ValueError):
        return ""


@register.filter
def row_payment(row, states) -> str:
    """``{{ row|row_payment:money.states }}``: the row's payment state as the customer reads it."""
    return (states or {}).get(row.pk, "")


@register.simple_tag
def max_quantity() -> int:
    return MAX_LINE_QUANTITY


@register.simple_tag(takes_context=True)
def priced(context, availability: Availability, quantity: int = 1) -> LinePrice:
    """``{% priced availability quantity as lp %}``: what ``quantity`` units cost as the
    availability serves them, the waiting ones discounted by the rules in force
    (catalog.discounts). The rules are read once per page, and only when a unit may wait."""
    decision = availability.decide(quantity)
    rules = ()
    if decision.backordered or decision.preordered:
        cache = context.render_context
        if "discount_rules" not in cache:
            cache["discount_rules"] = discount_rules_for(found={availability.product.pk: availability})
        rules = cache["discount_rules"]
    return availability_line_price(availability, decision, rules)


@register.filter
def discount_reason(discount: Discount | None, currency=None) -> str:
    """``{{ part.discount|discount_reason }}``: "10 % off while on pre-order", amounts in the
    shop's currency (or the order's)."""
    if discount is None:
        return ""
    return discount.reason(lambda amount: money(amount, currency))


@register.filter
def alternatives_of(alternatives: dict | None, product_id) -> list:
    """``{{ alternatives|alternatives_of:line.product.pk }}``: one product's, from a view's
    ``{product id: [Availability]}``."""
    return (alternatives or {}).get(product_id, [])
