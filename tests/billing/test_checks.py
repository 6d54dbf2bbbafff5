"""Billing's system checks refuse settings it cannot settle with."""

from billing.checks import billing_settings


def ids(settings):
    return [error.id for error in billing_settings()]


def test_the_embedded_default_passes(settings):
    assert ids(settings) == []


def test_stripe_needs_its_key_and_cannot_settle_per_shipment_but_can_at_checkout(settings):
    settings.PAYMENT_VARIANT, settings.BILLING_SETTLEMENT = "stripe", "per_shipment"
    assert ids(settings) == ["billing.E007", "billing.E006"]
    settings.PAYMENT_VARIANTS = {"stripe": ("payments.stripe.StripeProviderV3", {"api_key": "sk_test_x"})}
    assert ids(settings) == ["billing.E006"]
    settings.BILLING_SETTLEMENT = "at_checkout"
    assert ids(settings) == []


def test_bad_currency_mode_amount_and_variant_are_named(settings):
    settings.BILLING_CURRENCY, settings.BILLING_SETTLEMENT = "EURO", "monthly"
    settings.BILLING_TAX_RATE, settings.PAYMENT_VARIANT = "-0.2", "paypal"
    assert ids(settings) == ["billing.E001", "billing.E002", "billing.E003", "billing.E004"]
