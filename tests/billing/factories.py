"""Billing's test helpers: place real orders, pay them through django-payments' dummy provider."""

from decimal import Decimal

import factory
from payments import FraudStatus, PaymentStatus, RedirectNeeded

from billing.models import OrderTotals
from billing.services import payment_start
from orders.services import CartLine, Customer, checkout_place_order
from tests.orders.factories import OrderFactory


def shop_settings(settings, **extra):
    """The shop the billing tests price against: EUR, 4.90 shipping (never free), 20 % tax
    included in prices, settled per shipment; ``extra`` adds or overrides settings."""
    values = {
        "BILLING_CURRENCY": "EUR",
        "BILLING_SHIPPING": "4.90",
        "BILLING_FREE_SHIPPING_FROM": "",
        "BILLING_TAX_RATE": "0.20",
        "BILLING_PRICES_INCLUDE_TAX": True,
        "BILLING_SETTLEMENT": "per_shipment",
        **extra,
    }
    for name, value in values.items():
        setattr(settings, name, value)
    return settings


def place(lines, *, email="ada@example.com"):
    """A real checkout of [(product, quantity)]: rows allocated, backordered or pre-ordered."""
    customer = Customer(email=email, full_name="Ada Lovelace", address="1 Analytical Way")
    return checkout_place_order(lines=[CartLine(p.pk, q) for p, q in lines], customer=customer)


def submit(payment, status):
    """Submit the dummy provider's page for ``payment``: preauth = approve an authorization,
    confirmed = charged, rejected = declined. Returns the payment as it is now."""
    data = {"status": status, "fraud_status": FraudStatus.ACCEPT, "gateway_response": "3ds-disabled"}
    try:
        payment.get_form(data=data)
    except RedirectNeeded as redirect:
        payment.redirected_to = str(redirect)
    payment.refresh_from_db()
    return payment


def pay(order, status=PaymentStatus.PREAUTH):
    """Start the order's payment (django-payments) and submit the dummy's page with ``status``."""
    return submit(payment_start(order_id=order.pk), status)


class OrderTotalsFactory(factory.django.DjangoModelFactory):
    """Totals for a factory-made order (a real checkout writes them itself)."""

    class Meta:
        model = OrderTotals

    order = factory.SubFactory(OrderFactory)
    currency = "EUR"
    subtotal = Decimal("10.00")
    shipping = Decimal("0.00")
    shipping_tax = Decimal("0.00")
    tax = Decimal("1.67")
    total = Decimal("10.00")
    tax_rate = Decimal("0.20")
    prices_include_tax = True
    settlement = "per_shipment"
    pay_by = factory.LazyAttribute(lambda o: o.order.placed_at)
