"""Signed links to an order page that need no sign-in (for guests and their emails)."""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from .models import Order

GUEST_LINK_SALT = "orders.guest-order-link"


class LinkInvalid(Exception):
    """The link was tampered with, is for something else, or has expired."""


def guest_order_token(order: Order) -> str:
    return signing.dumps(order.number, salt=GUEST_LINK_SALT, compress=True)


def guest_order_path(order: Order) -> str:
    return reverse("orders:guest_order", kwargs={"token": guest_order_token(order)})


def order_number_from_token(token: str) -> str:
    try:
        number = signing.loads(token, salt=GUEST_LINK_SALT)
    except signing.BadSignature:
        raise LinkInvalid("This link is not valid.") from None
    if not isinstance(number, str):
        raise LinkInvalid("This link is not valid.")
    return number


def order_url(order: Order) -> str:
    """Where the customer sees the order: the account page, or the signed guest page."""
    if order.user_id:
        path = reverse("orders:order_detail", kwargs={"number": order.number})
    else:
        path = guest_order_path(order)
    return settings.SITE_URL + path
