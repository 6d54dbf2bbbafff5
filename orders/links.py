"""Signed links to an order page that need no sign-in (for guests and their emails).

A link carries its time of signing and works GUEST_LINK_DAYS days: it shows the
customer's name, email and address and lets them cancel rows, so it must not live
for ever in an old mailbox. "Find my order" emails a fresh one to the order's address.
The tokens are made and read here, for pages and emails alike; storefront serves the pages,
found by their URL names in settings.CUSTOMER_URL_NAMES.
"""

import datetime as dt

from django.conf import settings
from django.core import signing
from django.urls import reverse

from .models import Order

GUEST_LINK_SALT = "orders.guest-order-link"


class LinkInvalid(Exception):
    """The link was tampered with, is for something else, or has expired."""


class LinkExpired(LinkInvalid):
    """The link was genuine but is older than its lifetime."""


def guest_link_lifetime() -> dt.timedelta:
    return dt.timedelta(days=settings.GUEST_LINK_DAYS)


def guest_order_token(order: Order) -> str:
    # signing.dumps signs with a timestamp (TimestampSigner), which loads() checks against max_age.
    return signing.dumps(order.number, salt=GUEST_LINK_SALT, compress=True)


def guest_order_path(order: Order) -> str:
    return reverse(settings.CUSTOMER_URL_NAMES["guest_order"], kwargs={"token": guest_order_token(order)})


def order_number_from_token(token: str) -> str:
    try:
        number = signing.loads(token, salt=GUEST_LINK_SALT, max_age=guest_link_lifetime())
    except signing.SignatureExpired:
        raise LinkExpired("This order link has expired.") from None
    except signing.BadSignature:
        raise LinkInvalid("This link is not valid.") from None
    if not isinstance(number, str):
        raise LinkInvalid("This link is not valid.")
    return number


def order_url(order: Order) -> str:
    """Where the customer sees the order: the account page, or the signed guest page."""
    if order.user_id:
        path = reverse(settings.CUSTOMER_URL_NAMES["order"], kwargs={"number": order.number})
    else:
        path = guest_order_path(order)
    return settings.SITE_URL + path
