"""The merchant's returns admin: the list, the steps as actions (each calling orders'
services, asking for a reason or a source when it needs one) and billing's refund action
behind billing.settle_payments."""

from decimal import Decimal as D

import pytest
from django.urls import reverse

from billing.models import EntryKind, LedgerEntry
from inventory.models import MovementKind, StockMovement
from orders.models import ReturnRequest, ReturnStatus, RowStatus
from orders.services import return_request, shipment_create
from tests.billing.factories import pay, place, shop_settings
from tests.catalog.factories import ProductFactory
from tests.helpers import receive, staff_client

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]
RETURNS = reverse("admin:orders_returnrequest_changelist")


@pytest.fixture(autouse=True)
def shop(settings):
    return shop_settings(settings)


@pytest.fixture
def asked(main, django_capture_on_commit_callbacks):
    """A return of 2 of 3 kettles (20.00 each) shipped and charged per shipment."""
    kettle = ProductFactory(name="Copper Kettle", sku="KET-1", price=D("20.00"))
    receive(kettle, 3, main)
    order = place([(kettle, 3)])
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
    with django_capture_on_commit_callbacks(execute=True):
        shipment_create(order=order, source=main)
    row = order.rows.get(status=RowStatus.SHIPPED)
    return return_request(row_id=row.pk, quantity=2, reason="Too big")


def act(client, action, ret, **data):
    return client.post(RETURNS, {"action": action, "_selected_action": [ret.pk], **data}, follow=True)


def status(ret):
    return ReturnRequest.objects.get(pk=ret.pk).status


def test_the_merchant_approves_receives_and_refunds_a_return(
    admin_client, asked, main, django_capture_on_commit_callbacks
):
    listed = admin_client.get(RETURNS, {"status__exact": "requested", "q": "KET-1"}).content.decode()
    assert asked.row.order.number in listed and "Too big" in listed

    assert "Returns approved: 1." in act(admin_client, "approve", asked).content.decode()
    page = act(admin_client, "receive", asked).content.decode()
    assert "Receive returns" in page and status(asked) == ReturnStatus.APPROVED  # asked where, first
    with django_capture_on_commit_callbacks(execute=True):
        done = act(admin_client, "receive", asked, apply="1", source=main.pk)
    assert "Returns received: 1." in done.content.decode()
    assert StockMovement.objects.get(kind=MovementKind.RETURN).quantity == 2

    page = act(admin_client, "refund", asked).content.decode()
    assert "Copper Kettle (KET-1), received: €40.00" in page  # the amount, before anything is written
    assert not LedgerEntry.objects.filter(kind=EntryKind.REFUND).exists()
    with django_capture_on_commit_callbacks(execute=True):
        refunded = act(admin_client, "refund", asked, apply="1", include_shipping="on")
    assert "Refunds on their way: €44.90." in refunded.content.decode()
    assert sorted(e.amount for e in LedgerEntry.objects.filter(kind=EntryKind.REFUND)) == [
        D("4.90"),
        D("40.00"),
    ]
    assert status(asked) == ReturnStatus.REFUNDED

    again = act(admin_client, "refund", asked, apply="1").content.decode()
    assert f"return {asked.pk} was refunded already" in again
    assert LedgerEntry.objects.filter(kind=EntryKind.REFUND).count() == 2


def test_a_rejection_asks_for_the_reason_the_customer_is_told(admin_client, asked):
    page = act(admin_client, "reject", asked).content.decode()
    assert "The customer is told this." in page and status(asked) == ReturnStatus.REQUESTED
    act(admin_client, "reject", asked, apply="1", reason="Outside the return window")
    assert status(asked) == ReturnStatus.REJECTED


def test_an_illegal_step_is_named_and_changes_nothing(admin_client, asked):
    response = act(admin_client, "write_off", asked, apply="1", reason="")
    assert (
        f"return {asked.pk}: Return {asked.pk} cannot move from requested to written_off."
        in response.content.decode()
    )
    assert status(asked) == ReturnStatus.REQUESTED


def test_staff_who_handle_returns_but_not_money_cannot_refund(client, asked, main):
    clerk = staff_client(client, "orders.view_returnrequest", "orders.change_returnrequest")
    actions = clerk.get(RETURNS).content.decode()
    assert 'value="approve"' in actions and 'value="refund"' not in actions
    act(clerk, "approve", asked)
    act(clerk, "write_off", asked, apply="1", reason="Dented in transit")
    assert status(asked) == ReturnStatus.WRITTEN_OFF

    act(clerk, "refund", asked, apply="1")
    assert not LedgerEntry.objects.filter(kind=EntryKind.REFUND).exists()
    assert status(asked) == ReturnStatus.WRITTEN_OFF


def test_viewers_see_returns_but_cannot_move_them(client, asked):
    viewer = staff_client(client, "orders.view_returnrequest")
    assert viewer.get(RETURNS).status_code == 200
    act(viewer, "approve", asked)
    assert status(asked) == ReturnStatus.REQUESTED
