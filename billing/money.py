"""Money: amounts as Decimal with their currency, and the one totals rule (pure).

Tax is worked out per unit and rounded there (Magento's "unit price" method), so the
value of any number of units is that many times the unit's: a row that splits later, a
shipment of some rows or a refund of one row always adds up to the order's total.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import get_currency_precision
from django.utils import translation
from moneyed import Money
from moneyed.l10n import format_money

ZERO = Decimal("0")


def quantum(currency: str) -> Decimal:
    """The currency's smallest unit: 0.01 for EUR, 1 for JPY (ISO 4217, from Babel's data)."""
    return Decimal(1).scaleb(-get_currency_precision(currency))


def money_round(amount: Decimal, currency: str) -> Decimal:
    return Decimal(amount).quantize(quantum(currency), rounding=ROUND_HALF_UP)


def money_format(amount: Decimal, currency: str, locale: str | None = None) -> str:
    """ "€12.50" / "12,50 €" by the active language (Django's), via py-moneyed and Babel."""
    locale = locale or translation.to_locale(translation.get_language() or "en-us")
    return format_money(Money(amount, currency), locale=locale)


@dataclass(frozen=True)
class Pricing:
    """What a checkout's totals are worked out from (the settings at that moment)."""

    currency: str
    shipping: Decimal  # per order, entered like the prices (with or without tax)
    free_shipping_from: Decimal | None  # goods' subtotal at or above it ships free; None = never
    tax_rate: Decimal  # 0.20 = 20 %
    prices_include_tax: bool


@dataclass(frozen=True)
class Value:
    """An amount split into what goes to the shop (net), the tax, and what the customer pays."""

    net: Decimal
    tax: Decimal
    gross: Decimal

    def __mul__(self, quantity: int) -> "Value":
        return Value(self.net * quantity, self.tax * quantity, self.gross * quantity)

    def __add__(self, other: "Value") -> "Value":
        return Value(self.net + other.net, self.tax + other.tax, self.gross + other.gross)


def unit_value(price: Decimal, *, tax_rate: Decimal, prices_include_tax: bool, currency: str) -> Value:
    """One unit at ``price`` (as entered): its net, tax and gross, each rounded to the currency."""
    if prices_include_tax:
        net = money_round(price / (1 + tax_rate), currency)
        return Value(net=net, tax=price - net, gross=price)
    tax = money_round(price * tax_rate, currency)
    return Value(net=price, tax=tax, gross=price + tax)


@dataclass(frozen=True)
class Totals:
    currency: str
    prices_include_tax: bool
    subtotal: Decimal  # rows' unit price × quantity, as the prices are entered
    shipping: Decimal  # as entered (with or without tax, like the prices)
    shipping_tax: Decimal
    tax: Decimal  # rows' tax + shipping's tax
    total: Decimal  # what the customer pays

    @property
    def shipping_gross(self) -> Decimal:
        return self.shipping if self.prices_include_tax else self.shipping + self.shipping_tax


def totals_compute(*, lines: list[tuple[Decimal, int]], pricing: Pricing) -> Totals:
    """Rows (unit price, quantity) → subtotal, shipping, tax and total."""
    rule = {
        "tax_rate": pricing.tax_rate,
        "prices_include_tax": pricing.prices_include_tax,
        "currency": pricing.currency,
    }
    goods = Value(ZERO, ZERO, ZERO)
    subtotal = ZERO
    for price, quantity in lines:
        if quantity <= 0 or price < 0:
            raise ValueError(f"Bad line: {quantity} × {price}.")
        subtotal += price * quantity
        goods += unit_value(price, **rule) * quantity
    free = pricing.free_shipping_from is not None and subtotal >= pricing.free_shipping_from
    shipping = ZERO if free or not lines else pricing.shipping
    ship = unit_value(shipping, **rule)
    return Totals(
        currency=pricing.currency,
        prices_include_tax=pricing.prices_include_tax,
        subtotal=subtotal,
        shipping=shipping,
        shipping_tax=ship.tax,
        tax=goods.tax + ship.tax,
        total=goods.gross + ship.gross,
    )
