"""Returns: a customer asks to send shipped units back; the merchant approves or rejects,
receives them into a source (a return movement through inventory's stock service, so the
units go to waiting rows first, as any increase) or accepts them without restock; billing
refunds them (billing.services.return_refund moves the return to refunded).

Lock order, as everywhere: products and their stock (inventory.services.stock_lock), then
the order row, then its returns. How many units a row may still return is checked under the
row's lock, so two requests at once never return more than shipped.
"""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from inventory.models import Source
from inventory.services import stock_lock, stock_return

from ..exceptions import InvalidReturnMove, NotAllowed, ReturnRefused
from ..models import RETURN_MOVES, ReturnEvent, ReturnRequest, ReturnStatus, RowStatus
from ..selectors import return_window_open, units_held
from ..signals import return_moved
from .locks import rows_lock

REASON_MAX = ReturnRequest._meta.get_field("reason").max_length


def return_request(
    *, row_id: int, quantity: int, reason: str, user=None, now: dt.datetime | None = None
) -> ReturnRequest:
    """The customer asks to send back ``quantity`` shipped units of a row, saying why."""
    reason = (reason or "").strip()
    if not reason:
        raise NotAllowed(_("Please say why you are returning these items."))
    if len(reason) > REASON_MAX:
        raise NotAllowed(_("The reason is too long: at most %(max)s characters.") % {"max": REASON_MAX})
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise NotAllowed(_("Quantity to return must be a whole number of at least 1."))
    with transaction.atomic():
        row = rows_lock(row_ids=[row_id], select_related=("order", "product", "shipment"))[0]
        if row.status != RowStatus.SHIPPED:
            raise NotAllowed(
                _("%(product)s: only shipped items can be returned; this one is %(status)s.")
                % {"product": row.product.name, "status": row.get_status_display().lower()}
            )
        if not return_window_open(row.shipment.shipped_at, now=now):
            raise NotAllowed(
                _("%(product)s shipped on %(date)s; items can be returned within %(days)s days of shipping.")
                % {
                    "product": row.product.name,
                    "date": row.shipment.shipped_at.date().isoformat(),
                    "days": settings.RETURNS_WINDOW_DAYS,
                }
            )
        returnable = row.quantity - units_held(row_ids=[row.pk]).get(row.pk, 0)
        if quantity > returnable:
            raise ReturnRefused(
                product=row.product.name,
                order=row.order.number,
                line_no=row.line_no,
                row_id=row.pk,
                requested=quantity,
                returnable=returnable,
            )
        ret = ReturnRequest.objects.create(
            row=row, quantity=quantity, row_quantity=row.quantity, reason=reason, requested_by=user
        )
        ret.row = row
        _event(ret, from_status="", user=user, reason=reason)
    return ret


def _event(ret: ReturnRequest, *, from_status: str, user, reason: str) -> ReturnEvent:
    event = ReturnEvent.objects.create(
        return_request=ret,
        row_id=ret.row_id,
        from_status=from_status,
        to_status=ret.status,
        quantity=ret.quantity,
        user=user,
        reason=reason[:REASON_MAX],
    )
    return_moved.send(sender=ReturnRequest, return_request=ret, event=event)
    return event


def _lock(return_id: int) -> ReturnRequest:
    """Lock the return's row, then the return (callers lock stock first when they need it)."""
    row_id = ReturnRequest.objects.values_list("row_id", flat=True).get(pk=return_id)
    row = rows_lock(row_ids=[row_id], select_related=("order", "product"))[0]
    ret = ReturnRequest.objects.select_for_update(of=("self",)).select_related("source").get(pk=return_id)
    ret.row = row
    return ret


def _move(ret: ReturnRequest, to: str, *, user, reason: str = "", **fields) -> ReturnRequest:
    """The one place a return's status changes: checks the map, records the event."""
    if to not in RETURN_MOVES[ret.status]:
        raise InvalidReturnMove(return_id=ret.pk, from_status=ret.status, to_status=to)
    from_status = ret.status
    ret.status = to
    for name, value in fields.items():
        setattr(ret, name, value)
    ret.save(update_fields=["status", "updated_at", *fields])
    _event(ret, from_status=from_status, user=user, reason=reason)
    return ret


def return_approve(*, return_id: int, user=None, note: str = "") -> ReturnRequest:
    """The merchant agrees to take the units back (the customer is told to send them)."""
    with transaction.atomic():
        return _move(_lock(return_id), ReturnStatus.APPROVED, user=user, reason=note.strip())


def return_reject(*, return_id: int, reason: str, user=None) -> ReturnRequest:
    """The merchant refuses the return, saying why (the customer is told)."""
    if not reason.strip():
        raise NotAllowed("A rejection needs a reason: the customer is told it.")
    with transaction.atomic():
        return _move(_lock(return_id), ReturnStatus.REJECTED, user=user, reason=reason.strip())


def return_receive(*, return_id: int, source: Source, user=None) -> ReturnRequest:
    """The units arrived and go back on the shelf at ``source``: a return movement in the
    stock ledger, announced as freed stock (waiting rows get it before any new order)."""
    with transaction.atomic():
        product_id = ReturnRequest.objects.values_list("row__product_id", flat=True).get(pk=return_id)
        stock_lock(product_ids=[product_id], create_for=[(source.pk, product_id)])
        ret = _lock(return_id)
        if ReturnStatus.RECEIVED not in RETURN_MOVES[ret.status]:
            raise InvalidReturnMove(return_id=ret.pk, from_status=ret.status, to_status=ReturnStatus.RECEIVED)
        if not source.is_active:
            raise NotAllowed(f"{source.name} is not an active source; receive the return elsewhere.")
        stock_return(
            source=source,
            product=ret.row.product,
            quantity=ret.quantity,
            reference=f"{ret.row.order.number}/R{ret.pk}",
            user=user,
        )
        return _move(
            ret, ReturnStatus.RECEIVED, user=user, reason=f"Restocked at {source.code}", source=source
        )


def return_write_off(*, return_id: int, user=None, reason: str = "") -> ReturnRequest:
    """Accept the return without putting the units back on the shelf (damaged, not worth
    shipping back): no stock moves; the refund follows as for a received return."""
    with transaction.atomic():
        return _move(
            _lock(return_id), ReturnStatus.WRITTEN_OFF, user=user, reason=reason.strip() or "Written off"
        )


def return_lock(*, return_id: int) -> ReturnRequest:
    """Lock a return (its row first) for a caller above orders, inside its transaction."""
    return _lock(return_id)


def return_refunded(*, locked: ReturnRequest, user=None, reason: str) -> ReturnRequest:
    """billing wrote the return's refund: in billing's transaction, on the return it locked
    with ``return_lock``."""
    return _move(locked, ReturnStatus.REFUNDED, user=user, reason=reason)
