"""Staff notes on an order: an append-only journal (author, time, text)."""

from ..exceptions import NotAllowed
from ..models import Order, OrderNote


def order_note_add(*, order: Order, text: str, author=None) -> OrderNote:
    text = (text or "").strip()
    if not text:
        raise NotAllowed(f"Order {order.number}: a note needs some text.")
    return OrderNote.objects.create(order=order, author=author, text=text)
