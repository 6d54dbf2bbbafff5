"""Emails about a customer's access, through the outbox: the password-reset link and a
fresh order link ("find my order"). The pages that ask for them are in storefront.

Both emails are written to the outbox and sent by the worker, so a mail server that is
down or stalled neither loses them nor holds the web request. Each request gets its own
key: two requests are two emails (the views rate-limit them per address and per client).
"""

import logging
from uuid import uuid4

from django.conf import settings

from orders.links import order_url
from orders.models import Order

from .outbox import outbox_message, outbox_write

log = logging.getLogger(__name__)


def password_reset_mail(*, to: str, context: dict, language: str) -> None:
    """Queue the reset email Django's PasswordResetForm would have sent at once.

    ``context`` is the form's (user, uid, token, ...); the link is built on SITE_URL, not on
    the request's Host header.
    """
    message = outbox_message(
        kind="password_reset", key=uuid4().hex, to=to, context=context, language=language
    )
    outbox_write(messages=[message])


def order_link_send(*, number: str, email: str, language: str) -> bool:
    """Email a fresh link to the order to the address it was placed with, when the number and
    the address match one order; do nothing otherwise. Returns whether an email was queued
    (for logs and tests only: the customer sees the same answer either way)."""
    order = Order.objects.filter(number__iexact=number.strip(), email__iexact=email.strip()).first()
    if order is None:
        log.info("Find my order: no order %r for the address given", number)
        return False
    context = {
        "order": order,
        "order_url": order_url(order),
        "account": order.user_id is not None,
        "days": settings.GUEST_LINK_DAYS,
    }
    # In the language the customer asked in (they may not read the one they ordered in).
    message = outbox_message(
        kind="order_link", key=uuid4().hex, to=order.email, context=context, language=language
    )
    outbox_write(messages=[message])
    return True
