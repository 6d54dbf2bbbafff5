"""The ledger's database constraints refuse what the services never write."""

from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction

from billing.models import EntryKind, LedgerEntry, LedgerLine
from tests.billing.factories import OrderTotalsFactory
from tests.orders.factories import OrderRowFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def order():
    return OrderTotalsFactory().order


def entry(order, key, **fields):
    values = {"kind": EntryKind.CAPTURE, "amount": D("10.00"), "currency": "EUR", **fields}
    return LedgerEntry.objects.create(order=order, idempotency_key=key, **values)


def refused(constraint, make):
    """The database refuses it, naming the constraint (SQLite names a unique one by its columns)."""
    with pytest.raises(IntegrityError) as error, transaction.atomic():
        make()
    names = {
        "entry_one_capture_per_shipment": "shipment",
        "entry_one_release_per_authorization": "parent",
    }
    assert constraint in str(error.value) or names.get(constraint, constraint) in str(error.value)


def test_amounts_are_never_negative(order):
    refused("entry_amount_gte_0", lambda: entry(order, "k", amount=D("-0.01")))
    row = OrderRowFactory(order=order)
    capture = entry(order, "c")
    refused("line_amount_gte_0", lambda: LedgerLine.objects.create(entry=capture, row=row, amount=D("-1")))


def test_refunds_never_draw_more_than_their_capture(order):
    capture = entry(order, "c", amount=D("10.00"), drawn=D("10.00"))
    refused(
        "entry_drawn_within_amount",
        lambda: LedgerEntry.objects.filter(pk=capture.pk).update(drawn=capture.drawn + D("0.01")),
    )
    refused(
        "entry_only_authorize_capture_drawn",
        lambda: entry(order, "r", kind=EntryKind.REFUND, parent=capture, drawn=D("1")),
    )


def test_a_refund_names_its_capture_and_a_release_its_authorization(order):
    refused("entry_refund_has_capture", lambda: entry(order, "r", kind=EntryKind.REFUND))
    refused("entry_release_has_authorization", lambda: entry(order, "l", kind=EntryKind.RELEASE))


def test_one_capture_per_shipment_one_release_per_authorization_one_entry_per_key(order):
    from orders.models import Shipment
    from tests.inventory.factories import SourceFactory

    shipment = Shipment.objects.create(order=order, source=SourceFactory())
    entry(order, "s1", shipment=shipment)
    refused("entry_one_capture_per_shipment", lambda: entry(order, "s2", shipment=shipment))
    auth = entry(order, "a", kind=EntryKind.AUTHORIZE)
    entry(order, "l1", kind=EntryKind.RELEASE, parent=auth)
    refused(
        "entry_one_release_per_authorization", lambda: entry(order, "l2", kind=EntryKind.RELEASE, parent=auth)
    )
    refused("idempotency_key", lambda: entry(order, "a", kind=EntryKind.AUTHORIZE))


def test_totals_add_up_to_the_cent_on_every_database(order):
    """0.10 + 0.20 is 0.30 (SQLite adds in floating point); a cent off either way is refused."""
    from billing.models import OrderTotals

    totals = OrderTotals.objects.filter(pk=order.pk)
    totals.update(
        prices_include_tax=True, subtotal=D("0.10"), shipping=D("0.20"), tax=D("0"), total=D("0.30")
    )
    assert totals.get().total == D("0.30")
    for total in (D("0.29"), D("0.31")):
        refused("totals_add_up", lambda total=total: totals.update(total=total))
    totals.update(
        prices_include_tax=False, subtotal=D("0.10"), shipping=D("0.10"), tax=D("0.10"), total=D("0.30")
    )
    refused("totals_add_up", lambda: totals.update(total=D("0.20")))


def test_a_capture_drawn_in_inexact_steps_reaches_its_amount(order):
    """Refunds of 0.10 and 0.20 draw a 0.30 capture exactly to its amount, as the services add them."""
    from django.db.models import F

    capture = entry(order, "c", amount=D("0.30"))
    for step in (D("0.10"), D("0.20")):
        LedgerEntry.objects.filter(pk=capture.pk).update(drawn=F("drawn") + step)
    capture.refresh_from_db()
    assert capture.drawn == capture.amount
    refused(
        "entry_drawn_within_amount",
        lambda: LedgerEntry.objects.filter(pk=capture.pk).update(drawn=F("drawn") + D("0.01")),
    )
