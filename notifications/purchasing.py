"""The supplier's copy of a purchase order: written in the transaction that sends it."""

from django.conf import settings

from inventory.selectors import purchase_order_csv

from .outbox import Attachment, outbox_message, outbox_write


def notify_purchase_order_sent(*, purchase_order, lines) -> None:
    """One email to the supplier with the lines as a CSV attachment; its key is the order's,
    so the order is emailed once however often this runs."""
    supplier = purchase_order.supplier
    attachment = Attachment(
        filename=f"{purchase_order.number}.csv",
        mimetype="text/csv",
        content=purchase_order_csv(purchase_order=purchase_order, lines=lines),
    )
    context = {"purchase_order": purchase_order, "supplier": supplier, "lines": lines}
    message = outbox_message(
        kind="purchase_order",
        key=purchase_order.number,
        to=supplier.email,
        context=context,
        language=settings.ADMIN_LANGUAGE_CODE,  # the merchant writes to suppliers
        attachments=(attachment,),
    )
    outbox_write(messages=[message])
