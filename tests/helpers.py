"""Small helpers shared by tests."""

from uuid import uuid4

from inventory.services import stock_receive


def receive(product, quantity: int, source, reference: str | None = None):
    """Put units on the shelf through the real service (ledger included)."""
    ref = reference or f"TEST-{uuid4().hex[:10]}"
    return stock_receive(source=source, product=product, quantity=quantity, reference=ref)
