"""Which orders this browser may see without a signed link: the signed-in customer's own,
and those this session placed (or opened through a valid signed guest link)."""

from django.http import HttpRequest

from orders.models import Order

PLACED_KEY = "orders_placed"  # order numbers this session may see (confirmation, payment)
PLACED_KEEP = 20


def session_orders(request: HttpRequest) -> list[str]:
    placed = request.session.get(PLACED_KEY)
    return [n for n in placed if isinstance(n, str)] if isinstance(placed, list) else []


def order_remember(request: HttpRequest, number: str) -> None:
    placed = [n for n in session_orders(request) if n != number]
    request.session[PLACED_KEY] = [*placed[-(PLACED_KEEP - 1) :], number]


def order_visible(request: HttpRequest, order: Order) -> bool:
    own = request.user.is_authenticated and order.user_id == request.user.pk
    return own or order.number in session_orders(request)
