"""The totals rule (pure) and money formatting."""

from decimal import Decimal as D

import pytest
from django.utils import translation

from billing.money import Pricing, money_format, quantum, totals_compute, unit_value

INCL = Pricing(
    currency="EUR",
    shipping=D("4.90"),
    free_shipping_from=D("50"),
    tax_rate=D("0.20"),
    prices_include_tax=True,
)
EXCL = Pricing(
    currency="EUR", shipping=D("5.00"), free_shipping_from=None, tax_rate=D("0.20"), prices_include_tax=False
)


def test_tax_inclusive_prices_are_what_the_customer_pays_tax_is_inside():
    totals = totals_compute(lines=[(D("19.90"), 2)], pricing=INCL)
    assert totals.subtotal == D("39.80")
    assert totals.shipping == D("4.90")
    # 19.90 / 1.2 = 16.58 net → 3.32 tax a unit; shipping 4.90 / 1.2 = 4.08 → 0.82
    assert totals.tax == D("3.32") * 2 + D("0.82")
    assert totals.total == D("44.70")


def test_tax_exclusive_prices_get_tax_added():
    totals = totals_compute(lines=[(D("10.00"), 3), (D("0.99"), 1)], pricing=EXCL)
    assert totals.subtotal == D("30.99")
    assert totals.tax == D("6.00") + D("0.20") + D("1.00")
    assert totals.total == D("30.99") + D("5.00") + totals.tax


def test_shipping_is_free_from_the_threshold_up():
    assert totals_compute(lines=[(D("25.00"), 2)], pricing=INCL).shipping == 0
    assert totals_compute(lines=[(D("49.99"), 1)], pricing=INCL).shipping == D("4.90")


def test_rows_split_or_refunded_add_up_to_the_order_s_total():
    """Per-unit rounding: any split of the units is worth exactly the whole."""
    unit = unit_value(D("0.99"), tax_rate=D("0.20"), prices_include_tax=True, currency="EUR")
    totals = totals_compute(lines=[(D("0.99"), 7)], pricing=INCL)
    assert unit * 3 + unit * 4 == unit * 7
    assert (unit * 7).gross + totals.shipping == totals.total


def test_currency_precision_comes_from_iso_4217():
    assert quantum("EUR") == D("0.01")
    assert quantum("JPY") == D("1")
    yen = Pricing(
        currency="JPY",
        shipping=D("500"),
        free_shipping_from=None,
        tax_rate=D("0.10"),
        prices_include_tax=False,
    )
    assert totals_compute(lines=[(D("1234"), 1)], pricing=yen).tax == D("123") + D("50")


@pytest.mark.parametrize(
    ("language", "expected"), [("en-us", "€1,234.50"), ("de", "1.234,50\xa0€"), ("fr", "1\u202f234,50\xa0€")]
)
def test_amounts_are_formatted_by_the_active_language(language, expected):
    with translation.override(language):
        assert money_format(D("1234.5"), "EUR") == expected
