"""Refunds of returned units through the payment ledger: the units' share of the row (and
shipping when the merchant says so), from the capture that charged them, never above it,
once; reconcile_payments knows returns."""

from decimal import Decimal as D

import pytest
from django.core import mail

from billing.exceptions import RefundAboveCapture, ReturnNotRefundable
from billing.models import DummyGatewayCall, EntryKind, EntryState, LedgerEntry
from billing.selectors import RowPayment, ledger_reconcile, rows_payment_state
from billing.services import return_refund
from notifications.models import OutboxMessage
from notifications.tasks import send_outbox
from orders.exceptions import InvalidReturnMove
from orders.models import ReturnEvent, ReturnRequest, ReturnStatus, RowStatus
from orders.services import (
    backorders_allocate,
    return_approve,
    return_receive,
    return_request,
    return_write_off,
    shipment_create,
)
from tests.billing.factories import pay, place, place_prepaid, shop_settings
from tests.catalog.factories import DiscountRuleFactory, ProductFactory
from tests.helpers import receive
from tests.threads import run_together

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]


@pytest.fixture(autouse=True)
def shop(settings):
    return shop_settings(settings)


@pytest.fixture
def kettle(main):
    product = ProductFactory(name="Copper Kettle", sku="KET-1", price=D("20.00"))
    receive(product, 3, main)
    return product


def refunds(order):
    return list(LedgerEntry.objects.filter(order=order, kind=EntryKind.REFUND).order_by("pk"))


def gateway_refunds():
    return sorted(c.amount for c in DummyGatewayCall.objects.filter(operation="refund"))


def returned(row, quantity, *, restock_at=None):
    """Ask back ``quantity`` units of ``row``, approve, and receive them (or write them off)."""
    ret = return_request(row_id=row.pk, quantity=quantity, reason="Not as pictured")
    return_approve(return_id=ret.pk)
    if restock_at is not None:
        return return_receive(return_id=ret.pk, source=restock_at)
    return return_write_off(return_id=ret.pk)


@pytest.fixture
def per_shipment(main, kettle, django_capture_on_commit_callbacks):
    """3 x 20.00 + 4.90 shipping, authorized, shipped in one shipment and captured (64.90)."""
    order = place([(kettle, 3)])
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
    with django_capture_on_commit_callbacks(execute=True):
        shipment_create(order=order, source=main)
    return order


def test_a_restocked_return_refunds_its_units_share_from_the_shipments_capture(
    per_shipment, main, django_capture_on_commit_callbacks
):
    order = per_shipment
    row = order.rows.get(status=RowStatus.SHIPPED)
    (capture,) = LedgerEntry.objects.filter(order=order, kind=EntryKind.CAPTURE)
    assert (capture.amount, capture.state) == (D("64.90"), EntryState.SUCCEEDED)
    ret = returned(row, 2, restock_at=main)

    with django_capture_on_commit_callbacks(execute=True):  # the settle job, after commit
        written = return_refund(return_id=ret.pk, include_shipping=False)

    (refund,) = refunds(order)
    assert written == [refund]
    assert (refund.amount, refund.parent_id, refund.state) == (D("40.00"), capture.pk, EntryState.SUCCEEDED)
    assert [(line.row_id, line.amount) for line in refund.lines.all()] == [(row.pk, D("40.00"))]
    assert gateway_refunds() == [D("40.00")]
    capture.refresh_from_db()
    assert capture.drawn == D("40.00")
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.REFUNDED
    assert ReturnEvent.objects.filter(return_request=ret).latest("pk").to_status == "refunded"
    assert rows_payment_state(order_id=order.pk)[row.pk] == RowPayment.RETURN_REFUNDED
    assert ledger_reconcile().violations == []


def test_a_written_off_return_of_a_prepaid_order_refunds_units_and_shipping_when_chosen_once(
    main, kettle, settings, django_capture_on_commit_callbacks
):
    order = place_prepaid(settings, [(kettle, 2)], django_capture_on_commit_callbacks)  # 44.90 charged
    with django_capture_on_commit_callbacks(execute=True):
        shipment_create(order=order, source=main)
    row = order.rows.get(status=RowStatus.SHIPPED)
    ret = returned(row, 1)  # written off: no stock comes back

    with django_capture_on_commit_callbacks(execute=True):
        return_refund(return_id=ret.pk, include_shipping=True)
    with django_capture_on_commit_callbacks(execute=True):
        again = return_refund(return_id=ret.pk, include_shipping=True)  # a double click

    assert again == []
    assert [(r.amount, r.covers_shipping, r.idempotency_key) for r in refunds(order)] == [
        (D("20.00"), False, f"refund:return:{ret.pk}"),
        (D("4.90"), True, f"refund:shipping:{order.pk}"),
    ]
    assert gateway_refunds() == [D("4.90"), D("20.00")]
    # prepaid: captured 44.90 − refunded 24.90 = the unit kept (20.00); nothing is a violation
    assert ledger_reconcile().violations == []

    # the customer is told once the refunds are settled, with the units returned
    with django_capture_on_commit_callbacks(execute=True):
        send_outbox.delay()
    email = OutboxMessage.objects.get(kind="refund", order=order)
    assert "we have refunded €24.90" in email.body_text
    assert "- 1 x Copper Kettle (KET-1), returned: €20.00" in email.body_text
    assert "- Shipping: €4.90" in email.body_text
    assert any("Refund of €24.90" in m.subject for m in mail.outbox)


def test_a_second_return_cannot_refund_shipping_again(
    main, kettle, settings, django_capture_on_commit_callbacks
):
    order = place_prepaid(settings, [(kettle, 2)], django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        shipment_create(order=order, source=main)
    row = order.rows.get(status=RowStatus.SHIPPED)
    first, second = returned(row, 1), returned(row, 1)
    with django_capture_on_commit_callbacks(execute=True):
        return_refund(return_id=first.pk, include_shipping=True)

    with pytest.raises(ReturnNotRefundable, match="its shipping was refunded already"):
        return_refund(return_id=second.pk, include_shipping=True)

    assert ReturnRequest.objects.get(pk=second.pk).status == ReturnStatus.WRITTEN_OFF  # nothing half-applied
    assert len(refunds(order)) == 2
    with django_capture_on_commit_callbacks(execute=True):
        return_refund(return_id=second.pk)
    assert sum(r.amount for r in refunds(order)) == D("44.90")  # everything back, shipping once
    assert ledger_reconcile().violations == []


def test_a_refund_is_never_above_what_its_capture_has_left(per_shipment, main):
    row = per_shipment.rows.get(status=RowStatus.SHIPPED)
    ret = returned(row, 3, restock_at=main)
    # the capture has only 50.00 left (as if refunded elsewhere): 3 units (60.00) do not fit
    LedgerEntry.objects.filter(order=per_shipment, kind=EntryKind.CAPTURE).update(drawn=D("14.90"))

    with pytest.raises(RefundAboveCapture) as refused:
        return_refund(return_id=ret.pk)

    assert (refused.value.requested, refused.value.available) == (D("60.00"), D("50.00"))
    assert refunds(per_shipment) == []
    assert ReturnRequest.objects.get(pk=ret.pk).status == ReturnStatus.RECEIVED


def test_a_return_is_refunded_only_once_its_shipment_charge_is_settled(main, kettle, monkeypatch):
    monkeypatch.setattr("billing.tasks.enqueue_settle", lambda entry_id: None)  # the job has not run yet
    order = place([(kettle, 1)])
    pay(order)
    shipment_create(order=order, source=main)
    ret = returned(order.rows.get(status=RowStatus.SHIPPED), 1, restock_at=main)

    with pytest.raises(ReturnNotRefundable, match="the charge for its row is pending"):
        return_refund(return_id=ret.pk)

    assert refunds(order) == []


def test_only_received_or_written_off_returns_are_refunded(per_shipment):
    row = per_shipment.rows.get(status=RowStatus.SHIPPED)
    ret = return_request(row_id=row.pk, quantity=1, reason="x")
    with pytest.raises(InvalidReturnMove):
        return_refund(return_id=ret.pk)
    return_approve(return_id=ret.pk)
    with pytest.raises(InvalidReturnMove):
        return_refund(return_id=ret.pk)
    assert refunds(per_shipment) == []


def test_reconcile_finds_a_return_refund_that_is_not_the_units_value(
    per_shipment, main, django_capture_on_commit_callbacks
):
    row = per_shipment.rows.get(status=RowStatus.SHIPPED)
    ret = returned(row, 1, restock_at=main)
    with django_capture_on_commit_callbacks(execute=True):
        (refund,) = return_refund(return_id=ret.pk)
    assert ledger_reconcile().violations == []

    LedgerEntry.objects.filter(pk=refund.pk).update(amount=D("25.00"))
    ReturnRequest.objects.filter(pk=ret.pk).update(status=ReturnStatus.RECEIVED)

    found = [str(f) for f in ledger_reconcile().violations]
    assert (
        f"{per_shipment.number}: refund {refund.pk} of return {ret.pk} gives back 25.00; "
        "its 1 unit(s) are worth 20.00" in found
    )
    assert f"{per_shipment.number}: return {ret.pk} has a refund but is received" in found


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_refunds_of_one_return_at_once_write_one_refund(main, global_settings, monkeypatch):
    monkeypatch.setattr("billing.tasks.enqueue_settle", lambda entry_id: None)  # no provider call here
    kettle = ProductFactory(name="Copper Kettle", price=D("20.00"))
    receive(kettle, 2, main)
    order = place([(kettle, 2)])
    pay(order)
    shipment_create(order=order, source=main)
    LedgerEntry.objects.filter(order=order, kind=EntryKind.CAPTURE).update(state=EntryState.SUCCEEDED)
    ret = returned(order.rows.get(status=RowStatus.SHIPPED), 2, restock_at=main)

    run_together(lambda: return_refund(return_id=ret.pk, include_shipping=True), 4)

    assert [(r.amount, r.covers_shipping) for r in refunds(order)] == [(D("40.00"), False), (D("4.90"), True)]
    capture = LedgerEntry.objects.get(order=order, kind=EntryKind.CAPTURE)
    assert capture.drawn == D("44.90") == capture.amount
    assert ledger_reconcile().violations == []


def test_a_discounted_units_return_refunds_the_price_it_was_charged_not_the_list_price(
    main, django_capture_on_commit_callbacks
):
    kettle = ProductFactory(notify=True, price=D("20.00"))
    DiscountRuleFactory(value=D("10"), applies_to="backorder")  # 10 % off units that wait
    order = place([(kettle, 2)])  # both backordered at 18.00 (list price 20.00)
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
    receive(kettle, 2, main)
    with django_capture_on_commit_callbacks(execute=True):
        backorders_allocate(product_id=kettle.pk)
        shipment_create(order=order, source=main)
    row = order.rows.get(status=RowStatus.SHIPPED)
    assert (row.unit_price, row.list_price) == (D("18.00"), D("20.00"))
    ret = returned(row, 1, restock_at=main)

    with django_capture_on_commit_callbacks(execute=True):
        (refund,) = return_refund(return_id=ret.pk)

    assert refund.amount == D("18.00")
    assert ledger_reconcile().violations == []
