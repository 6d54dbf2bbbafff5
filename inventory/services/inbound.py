"""Inbound supply: units expected at a source on a date, until received or cancelled."""

from collections.abc import Iterable
from functools import partial

from django.db import transaction

from catalog.models import Product

from ..exceptions import InvalidQuantity, InventoryError
from ..models import InboundStatus, InboundSupply, PurchaseOrderLine, Source
from ..signals import supply_changed
from .stock import ReceiptResult, check_quantity, stock_receive


def announce_supply_changed(product_ids: Iterable[int]) -> None:
    ids = sorted(set(product_ids))
    if ids:
        transaction.on_commit(partial(supply_changed.send, sender=InboundSupply, product_ids=ids))


def _refuse_purchase_line(supply: InboundSupply) -> None:
    """A purchase order line's supply changes with its line (receipts, the order's cancel), so
    what the line still expects and what is inbound never disagree."""
    if PurchaseOrderLine.objects.filter(inbound=supply).exists():
        raise InventoryError(
            f"Inbound {supply.reference} belongs to a purchase order line; receive or change it on its order."
        )


def inbound_create(
    *, source: Source, product: Product, quantity: int, expected_date, reference: str
) -> InboundSupply:
    check_quantity(quantity)
    if not reference.strip():
        raise InvalidQuantity(field="reference", value=reference, message="Inbound supply needs a reference.")
    with transaction.atomic():
        supply = InboundSupply.objects.create(
            source=source,
            product=product,
            quantity=quantity,
            expected_date=expected_date,
            reference=reference,
        )
        announce_supply_changed([product.pk])
    return supply


def inbound_update(*, supply: InboundSupply, quantity: int, expected_date) -> InboundSupply:
    """Change what an open supply brings or when (a supplier's new date)."""
    check_quantity(quantity)
    with transaction.atomic():
        locked = InboundSupply.objects.select_for_update().get(pk=supply.pk)
        if locked.status != InboundStatus.OPEN:
            raise InventoryError(f"Inbound {locked.reference} is {locked.status}; it can no longer change.")
        _refuse_purchase_line(locked)
        locked.quantity, locked.expected_date = quantity, expected_date
        locked.save(update_fields=["quantity", "expected_date", "updated_at"])
        announce_supply_changed([locked.product_id])
    return locked


def inbound_receive(*, supply: InboundSupply, user=None) -> ReceiptResult:
    """The supply arrived: a receipt under its reference (idempotent), and it is closed."""
    with transaction.atomic():
        locked = (
            InboundSupply.objects.select_for_update(of=("self",))
            .select_related("source", "product")
            .get(pk=supply.pk)
        )
        if locked.status == InboundStatus.CANCELLED:
            raise InventoryError(f"Inbound {locked.reference} was cancelled; receive stock instead.")
        _refuse_purchase_line(locked)
        result = stock_receive(
            source=locked.source,
            product=locked.product,
            quantity=locked.quantity,
            reference=locked.reference,
            user=user,
        )
        if locked.status == InboundStatus.OPEN:
            locked.status = InboundStatus.RECEIVED
            locked.save(update_fields=["status", "updated_at"])
            announce_supply_changed([locked.product_id])
    return result


def inbound_cancel(*, supply: InboundSupply) -> InboundSupply:
    with transaction.atomic():
        locked = InboundSupply.objects.select_for_update().get(pk=supply.pk)
        if locked.status != InboundStatus.OPEN:
            raise InventoryError(
                f"Inbound {locked.reference} is {locked.status}; only open supply can be cancelled."
            )
        locked.status = InboundStatus.CANCELLED
        locked.save(update_fields=["status", "updated_at"])
        announce_supply_changed([locked.product_id])
    return locked
