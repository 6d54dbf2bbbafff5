"""Signed links in emails: cancel one waiting row with no sign-in. Expires; works once
(a cancelled row cannot be cancelled again)."""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from orders.links import LinkInvalid, guest_order_token
from orders.models import OrderRow

ROW_CANCEL_SALT = "notifications.row-cancel-link"
ROW_CANCEL_MAX_AGE = 60 * 60 * 24 * 30  # a cancel link in an email works for 30 days


def row_cancel_url(row: OrderRow) -> str:
    token = signing.dumps({"row": row.pk, "order": row.order.number}, salt=ROW_CANCEL_SALT, compress=True)
    return settings.SITE_URL + reverse(settings.CUSTOMER_URL_NAMES["row_cancel"], kwargs={"token": token})


def row_from_cancel_token(token: str) -> OrderRow:
    try:
        data = signing.loads(token, salt=ROW_CANCEL_SALT, max_age=ROW_CANCEL_MAX_AGE)
    except signing.SignatureExpired:
        raise LinkInvalid("This cancel link has expired. Sign in or use your order page instead.") from None
    except signing.BadSignature:
        raise LinkInvalid("This cancel link is not valid.") from None
    try:
        return OrderRow.objects.select_related("order", "product").get(
            pk=data["row"], order__number=data["order"]
        )
    except (KeyError, TypeError, OrderRow.DoesNotExist):
        raise LinkInvalid("This cancel link is not valid.") from None


def pay_url(entry) -> str:
    """Where the customer pays a shipment's pay link (storefront's page for the ledger entry):
    on their account, or through the order's signed guest link."""
    order, names = entry.order, settings.CUSTOMER_URL_NAMES
    if order.user_id:
        path = reverse(names["shipment_pay"], kwargs={"number": order.number, "entry_id": entry.pk})
    else:
        token = guest_order_token(order)
        path = reverse(names["guest_shipment_pay"], kwargs={"token": token, "entry_id": entry.pk})
    return settings.SITE_URL + path
