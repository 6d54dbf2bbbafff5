"""Correcting a shipped parcel's carrier and tracking number (a typo leaves the customer
with a dead tracking link)."""

from django.db import transaction

from ..exceptions import InvalidTracking, NotAllowed
from ..models import Shipment
from ..signals import shipment_tracking_changed
from .notes import order_note_add
from .rows import tracking_clean


def _tracking_text(shipment: Shipment) -> str:
    if not shipment.tracking_number:
        return f"{shipment.carrier_name}, no tracking number" if shipment.carrier else "no tracking"
    return f"{shipment.carrier_name} {shipment.tracking_number}"


def shipment_tracking_change(
    *, shipment: Shipment, carrier: str, tracking_number: str, user=None
) -> Shipment:
    """Give a shipment its corrected carrier and tracking number: checked as the ship action
    checks them (tracking_clean), a number required and a change required; recorded as a note
    on the order (who, from what, to what) and announced in this transaction
    (shipment_tracking_changed), so the customer's email is written with the change."""
    carrier, number = tracking_clean(carrier=carrier, tracking_number=tracking_number)
    if not number:
        raise InvalidTracking(
            field="tracking_number",
            value=number,
            message=f"Shipment {shipment.pk}: enter the corrected tracking number; it cannot be empty.",
        )
    with transaction.atomic():
        # Locked: two corrections at once are told apart (the second finds the first's values).
        locked = (
            Shipment.objects.select_for_update(of=("self",))
            .select_related("order", "source")
            .get(pk=shipment.pk)
        )
        if (locked.carrier, locked.tracking_number) == (carrier, number):
            raise NotAllowed(
                f"Shipment {locked.pk} of order {locked.order.number} already has "
                f"{_tracking_text(locked)}: nothing changed."
            )
        was_carrier, was_number, was_text = locked.carrier, locked.tracking_number, _tracking_text(locked)
        locked.carrier, locked.tracking_number = carrier, number
        locked.save(update_fields=["carrier", "tracking_number"])
        note = order_note_add(
            order=locked.order,
            author=user,
            text=f"Tracking of shipment {locked.pk} (from {locked.source.name}) corrected: "
            f"{was_text} → {_tracking_text(locked)}.",
        )
        shipment_tracking_changed.send(
            sender=Shipment,
            shipment=locked,
            was_carrier=was_carrier,
            was_tracking_number=was_number,
            note=note,
        )
    return locked
