"""Billing's test helpers: place real orders, pay them through django-payments' dummy provider."""

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone
from payments import FraudStatus, PaymentStatus, RedirectNeeded

from billing.models import EntryKind, LedgerEntry, OrderTotals
from billing.services import payment_start, payment_status_changed
from orders.services import CartLine, Customer, checkout_place_order, shipment_create
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
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


def shipped_with_capture_pending(settings, monkeypatch, source, quantity):
    """An order of ``quantity`` x 20.00 (4.90 shipping, per shipment) whose payment is marked
    authorized without the provider's page, shipped from ``source``: its capture intent is
    written and its settle job is left to the test. Returns the capture entry."""
    settings.BILLING_SETTLEMENT, settings.BILLING_SHIPPING, settings.BILLING_FREE_SHIPPING_FROM = (
        "per_shipment",
        "4.90",
        "",
    )
    monkeypatch.setattr("billing.tasks.enqueue_settle", lambda entry_id: None)
    product = ProductFactory(price=Decimal("20.00"))
    receive(product, quantity, source)
    order = place([(product, quantity)])
    payment = order.payments.create(
        variant="dummy", currency="EUR", total=Decimal("20.00") * quantity + Decimal("4.90")
    )
    payment.status = PaymentStatus.PREAUTH
    payment.save()
    payment_status_changed(payment_id=payment.pk)
    shipment_create(order=order, source=source)
    return LedgerEntry.objects.get(kind=EntryKind.CAPTURE, shipment__order=order)


def backdate(order, *, kind=None, **ago):
    """Make the order's ledger entries (only those of ``kind`` when given) look written ``ago``
    (timedelta's arguments) before now: an authorization's age decides if it still holds."""
    entries = LedgerEntry.objects.filter(order=order)
    if kind is not None:
        entries = entries.filter(kind=kind)
    entries.update(created_at=timezone.now() - dt.timedelta(**ago))


def place_prepaid(settings, lines, on_commit):
    """A checkout of ``lines`` charged in full at once (settlement at_checkout), its payment
    jobs run (``on_commit``: django_capture_on_commit_callbacks)."""
    settings.BILLING_SETTLEMENT = "at_checkout"
    order = place(lines)
    with on_commit(execute=True):
        pay(order, PaymentStatus.CONFIRMED)
    return order


def shipped_after_expiry(product, source, settings, on_commit):
    """One unit of ``product`` ordered and authorized, the authorization then older than its
    validity, and shipped from ``source`` (``on_commit``: django_capture_on_commit_callbacks)."""
    order = place([(product, 1)])
    with on_commit(execute=True):
        pay(order)
    backdate(order, days=settings.BILLING_AUTHORIZATION_DAYS, minutes=1)
    with on_commit(execute=True):
        shipment_create(order=order, source=source)
    return order


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
