"""System checks: billing's settings name a real currency, a settlement mode and a provider
that can do it (django-payments' Stripe provider captures at checkout only)."""

from decimal import Decimal, InvalidOperation

from babel.numbers import is_currency
from django.conf import settings
from django.core.checks import Error, register
from django.utils.module_loading import import_string
from payments.core import BasicProvider

from .models import Settlement


@register()
def billing_settings(app_configs=None, **kwargs):
    errors = []
    if not is_currency(settings.BILLING_CURRENCY):
        errors.append(
            Error(
                f"BILLING_CURRENCY={settings.BILLING_CURRENCY!r} is not an ISO 4217 code.", id="billing.E001"
            )
        )
    if settings.BILLING_SETTLEMENT not in Settlement.values:
        errors.append(
            Error(
                f"BILLING_SETTLEMENT must be one of {Settlement.values}, "
                f"not {settings.BILLING_SETTLEMENT!r}.",
                id="billing.E002",
            )
        )
    for name in ("BILLING_SHIPPING", "BILLING_TAX_RATE", "BILLING_FREE_SHIPPING_FROM"):
        value = getattr(settings, name)
        try:
            if value not in ("", None) and Decimal(value) < 0:
                raise InvalidOperation
        except InvalidOperation:
            errors.append(Error(f"{name}={value!r} is not an amount of 0 or more.", id="billing.E003"))
    variant = settings.PAYMENT_VARIANTS.get(settings.PAYMENT_VARIANT)
    if variant is None:
        errors.append(
            Error(
                f"PAYMENT_VARIANT={settings.PAYMENT_VARIANT!r} is not in PAYMENT_VARIANTS.", id="billing.E004"
            )
        )
    elif variant[0].startswith("payments.stripe") and not variant[1].get("api_key"):
        errors.append(
            Error(
                "PAYMENT_VARIANT=stripe needs STRIPE_SECRET_KEY (and STRIPE_WEBHOOK_SECRET).",
                id="billing.E007",
            )
        )
    if variant is not None and settings.BILLING_SETTLEMENT == Settlement.PER_SHIPMENT:
        try:
            provider = import_string(variant[0])
        except ImportError as error:
            errors.append(
                Error(f"Payment provider {variant[0]} cannot be imported: {error}", id="billing.E005")
            )
        else:
            if provider.capture is BasicProvider.capture:
                errors.append(
                    Error(
                        f"{variant[0]} cannot capture an authorization later: per-shipment settlement "
                        "needs one that can.",
                        hint="Set BILLING_SETTLEMENT=at_checkout, or choose another PAYMENT_VARIANT.",
                        id="billing.E006",
                    )
                )
    return errors
