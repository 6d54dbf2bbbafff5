"""The embedded default provider: django-payments' dummy (its page lets the payer approve,
decline or fail), plus what a real gateway gives and the dummy lacks: idempotency keys."""

import secrets

from django.db import IntegrityError, transaction
from payments.dummy import DummyProvider as _Dummy


class DummyProvider(_Dummy):
    def _once(self, payment, *, operation: str, amount, key: str) -> str:
        """Perform ``operation`` once per key; a repeated key gets the first answer back."""
        from .models import DummyGatewayCall

        done = DummyGatewayCall.objects.filter(key=key).first()
        if done is not None:
            return done.reference
        reference = f"dummy-{operation}-{secrets.token_hex(6)}"
        try:
            with transaction.atomic():
                DummyGatewayCall.objects.create(
                    key=key, operation=operation, payment=payment, amount=amount or 0, reference=reference
                )
        except IntegrityError:  # the same key at the same moment: the first one won
            return DummyGatewayCall.objects.get(key=key).reference
        return reference

    def capture_once(self, payment, *, amount, key: str) -> str:
        return self._once(payment, operation="capture", amount=amount, key=key)

    def refund_once(self, payment, *, amount, key: str) -> str:
        return self._once(payment, operation="refund", amount=amount, key=key)

    def release_once(self, payment, *, amount, key: str) -> str:
        return self._once(payment, operation="release", amount=amount, key=key)
