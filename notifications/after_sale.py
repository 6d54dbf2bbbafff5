"""After the sale: the emails about a return (the customer's at each step but the refund,
which the refund email tells once settled; the merchants' when one is asked for), and the
merchant's resend of an email sent for an order."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from orders.links import order_url
from orders.models import ReturnEvent, ReturnRequest, ReturnStatus
from orders.services import order_note_add

from .exceptions import NotResendable
from .models import OutboxMessage, OutboxStatus
from .outbox import outbox_announce, outbox_message, outbox_write

# The refund email (money.refund_notes_render) tells the last step, once the refund is settled.
TOLD_BY_EMAIL = (
    ReturnStatus.REQUESTED,
    ReturnStatus.APPROVED,
    ReturnStatus.REJECTED,
    ReturnStatus.RECEIVED,
    ReturnStatus.WRITTEN_OFF,
)


def notify_return_moved(*, return_request: ReturnRequest, event: ReturnEvent) -> None:
    """In the step's transaction: one email per return and step (the key) to the customer,
    and for a new request one to each merchant address. The merchants make every later step
    themselves (approve, reject, receive, write off, refund), so only the request is news."""
    messages = []
    if event.to_status in TOLD_BY_EMAIL:
        messages.append(_customer_message(return_request, event))
    if event.to_status == ReturnStatus.REQUESTED:
        messages += _merchant_messages(return_request)
    outbox_write(messages=messages)


def _customer_message(return_request: ReturnRequest, event: ReturnEvent) -> OutboxMessage:
    row = return_request.row
    order = row.order
    context = {
        "order": order,
        "ret": return_request,
        "row": row,
        "product": row.product,
        "status": event.to_status,
        "note": event.reason if event.to_status != ReturnStatus.REQUESTED else "",
        "order_url": order_url(order),
    }
    key = f"{order.number}:{return_request.pk}:{event.to_status}"
    return outbox_message(
        kind="return_update", key=key, to=order.email, context=context, language=order.language
    )


def _merchant_messages(return_request: ReturnRequest) -> list[OutboxMessage]:
    """What was asked back and why, with links to the return and its order in the admin.
    ``return_request.row`` comes from return_request with its order, product and shipment."""
    row = return_request.row
    order = row.order
    context = {
        "order": order,
        "ret": return_request,
        "row": row,
        "product": row.product,
        "shipped_at": row.shipment.shipped_at,
        "return_admin_url": settings.SITE_URL
        + reverse("admin:orders_returnrequest_change", args=[return_request.pk]),
        "order_admin_url": settings.SITE_URL + reverse("admin:orders_order_change", args=[order.pk]),
    }
    return [
        outbox_message(
            kind="return_requested",
            key=f"{order.number}:{return_request.pk}",
            to=to,
            context=context,
            language=settings.ADMIN_LANGUAGE_CODE,
        )
        for to in settings.MERCHANT_EMAILS
    ]


def outbox_resend(*, message_id: int, nonce: str, user=None) -> tuple[OutboxMessage, bool]:
    """Send a sent email again: a new outbox message with the same recipient, subject and
    bodies (the original stays as it was sent). ``nonce`` comes from the page the merchant
    clicked on: the copy's key is made of it, so a double click (or a resubmitted form)
    writes one copy; a fresh page gives a fresh nonce. Returns (the copy, whether it is new)."""
    nonce = nonce.strip()
    if not nonce or len(nonce) > 64:
        raise NotResendable(message_id=message_id, reason="the form is stale; reload the order page.")
    key = f"resend:{message_id}:{nonce}"
    with transaction.atomic():
        original = OutboxMessage.objects.select_related("order").get(pk=message_id)
        if original.status != OutboxStatus.SENT:
            raise NotResendable(
                message_id=message_id,
                reason=f"it is {original.get_status_display().lower()}, not sent; retry it instead.",
            )
        existing = OutboxMessage.objects.filter(key=key).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():  # a racing double click: one insert wins
                copy = OutboxMessage.objects.create(
                    key=key,
                    kind=original.kind,
                    to_email=original.to_email,
                    subject=original.subject,
                    body_text=original.body_text,
                    body_html=original.body_html,
                    attachments=original.attachments,
                    order_id=original.order_id,
                    resent_from=original,
                )
        except IntegrityError:
            return OutboxMessage.objects.get(key=key), False
        if original.order_id:
            order_note_add(
                order=original.order,
                author=user,
                text=f"Resent the {original.kind} email “{original.subject}” to {original.to_email}.",
            )
        outbox_announce()
    return copy, True
