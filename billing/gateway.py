"""The one place billing calls the payment provider (through django-payments' providers).

Never called inside a transaction: services.entry_settle checks. django-payments' own
Payment.capture() allows one capture per payment; per-shipment settlement captures an
authorization several times, so the provider is called directly and our ledger is the truth.
"""

from payments import PaymentError
from payments.core import provider_factory

from .models import EntryKind, LedgerEntry

__all__ = ["PaymentError", "has_idempotency", "perform"]

OPERATION = {EntryKind.CAPTURE: "capture", EntryKind.REFUND: "refund", EntryKind.RELEASE: "release"}


def _provider(payment):
    return provider_factory(payment.variant, payment)


def has_idempotency(payment) -> bool:
    """Does the provider take our idempotency key (a retried call is answered, not redone)?"""
    return hasattr(_provider(payment), "capture_once")


def perform(entry: LedgerEntry) -> str:
    """Ask the provider to do what ``entry`` says; its reference back. PaymentError = refused."""
    payment = entry.payment
    provider = _provider(payment)
    operation = OPERATION[entry.kind]
    once = getattr(provider, f"{operation}_once", None)
    if once is not None:
        return once(payment, amount=entry.amount, key=entry.idempotency_key)
    if entry.kind == EntryKind.CAPTURE:
        provider.capture(payment, entry.amount)
    elif entry.kind == EntryKind.REFUND:
        provider.refund(payment, entry.amount)
    else:
        provider.release(payment)
    return payment.transaction_id or ""
