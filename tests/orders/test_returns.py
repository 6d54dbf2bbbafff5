"""Returns in orders: asking, the merchant's steps (each an event on the row and an email),
the bounds (shipped units only, within the window, never more than shipped), restocking
through the stock ledger so waiting rows get the units first."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from inventory.models import MovementKind, Stock, StockMovement
from inventory.selectors import stock_drift
from notifications.models import OutboxMessage
from orders.exceptions import InvalidReturnMove, NotAllowed, ReturnRefused
from orders.models import ReturnEvent, ReturnRequest, ReturnStatus, RowEvent, RowStatus
from orders.selectors import availability_for
from orders.services import (
    CartLine,
    Customer,
    checkout_place_order,
    return_approve,
    return_receive,
    return_reject,
    return_request,
    return_write_off,
    shipment_create,
)
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.threads import run_together

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]


def place(product, quantity, email="ada@example.com"):
    customer = Customer(email=email, full_name="Ada Lovelace", address="1 Analytical Way")
    return checkout_place_order(lines=[CartLine(product.pk, quantity)], customer=customer)


def shipped_row(product, quantity, source):
    """``quantity`` units of ``product`` received, ordered and shipped from ``source``."""
    receive(product, quantity, source)
    order = place(product, quantity)
    shipment_create(order=order, source=source)
    return order.rows.get(status=RowStatus.SHIPPED)


@pytest.fixture
def kettle():
    return ProductFactory(name="Copper Kettle", sku="KET-1", price=D("20.00"), backorderable=True)


def steps(ret):
    return list(
        ReturnEvent.objects.filter(return_request=ret).values_list("from_status", "to_status", "row_id")
    )


def test_a_return_is_asked_approved_and_received_each_step_an_event_on_the_row_and_an_email(
    main, kettle, django_capture_on_commit_callbacks
):
    row = shipped_row(kettle, 3, main)
    ret = return_request(row_id=row.pk, quantity=2, reason="Too big for my stove")
    return_approve(return_id=ret.pk, note="Use the label in the box")
    with django_capture_on_commit_callbacks(execute=True):
        ret = return_receive(return_id=ret.pk, source=main)

    assert (ret.status, ret.quantity, ret.source) == (ReturnStatus.RECEIVED, 2, main)
    assert steps(ret) == [
        ("", "requested", row.pk),
        ("requested", "approved", row.pk),
        ("approved", "received", row.pk),
    ]
    assert ReturnEvent.objects.get(return_request=ret, to_status="received").reason == "Restocked at main"
    # back on the shelf through the stock ledger: a return movement referenced by the return
    movement = StockMovement.objects.get(kind=MovementKind.RETURN)
    assert (movement.product, movement.source, movement.quantity, movement.reference) == (
        kettle,
        main,
        2,
        f"{row.order.number}/R{ret.pk}",
    )
    assert Stock.objects.get(product=kettle, source=main).on_hand == 2
    assert stock_drift() == []
    assert row.quantity == 3 and RowEvent.objects.filter(row=row).count() == 2  # the row itself stays shipped

    emails = OutboxMessage.objects.filter(kind="return_update").order_by("pk")
    assert [m.subject for m in emails] == [
        f"Return request received: order {row.order.number}",
        f"Return approved: order {row.order.number}",
        f"Return accepted: order {row.order.number}",
    ]
    assert {m.to_email for m in emails} == {"ada@example.com"}
    assert {m.order_id for m in emails} == {row.order_id}  # listed on the order's page
    asked, approved, received = (m.body_text for m in emails)
    assert "Your return of 2 x Copper Kettle (KET-1)" in asked and "Too big for my stove" in asked
    assert "Note from the shop: Use the label in the box" in approved
    assert "the items have arrived. Your refund follows" in received


def test_asking_for_more_than_is_left_is_refused_naming_the_row_and_what_can_still_come_back(main, kettle):
    row = shipped_row(kettle, 3, main)
    return_request(row_id=row.pk, quantity=2, reason="Two too many")

    with pytest.raises(ReturnRefused) as refused:
        return_request(row_id=row.pk, quantity=2, reason="And another")

    assert str(refused.value) == (
        f"Copper Kettle (order {row.order.number}, line 1): 1 can still be returned; you asked to return 2."
    )
    assert (refused.value.row_id, refused.value.returnable, refused.value.requested) == (row.pk, 1, 2)
    assert ReturnRequest.objects.count() == 1  # nothing written
    assert OutboxMessage.objects.filter(kind="return_update").count() == 1


def test_a_rejected_return_gives_its_units_back_to_what_can_be_returned(main, kettle):
    row = shipped_row(kettle, 3, main)
    first = return_request(row_id=row.pk, quantity=3, reason="Wrong colour")
    return_reject(return_id=first.pk, reason="Used items cannot be returned")

    again = return_request(row_id=row.pk, quantity=3, reason="Wrong colour, unused")

    assert again.status == ReturnStatus.REQUESTED
    rejected = OutboxMessage.objects.get(kind="return_update", key__contains=f":{first.pk}:rejected:")
    assert "we cannot accept it" in rejected.body_text
    assert "Note from the shop: Used items cannot be returned" in rejected.body_text


def test_only_shipped_units_within_the_return_window_can_be_asked_back(main, kettle, settings):
    receive(kettle, 1, main)
    allocated = place(kettle, 1).rows.get()
    with pytest.raises(
        NotAllowed, match="Copper Kettle: only shipped items can be returned; this one is allocated"
    ):
        return_request(row_id=allocated.pk, quantity=1, reason="Changed my mind")

    row = shipped_row(kettle, 1, main)
    settings.RETURNS_WINDOW_DAYS = 30
    late = row.shipment.shipped_at + dt.timedelta(days=30, minutes=1)
    with pytest.raises(NotAllowed, match="returned within 30 days of shipping"):
        return_request(row_id=row.pk, quantity=1, reason="Changed my mind", now=late)
    for bad in (0, -1, "2", True):
        with pytest.raises(NotAllowed, match="Quantity to return must be a whole number"):
            return_request(row_id=row.pk, quantity=bad, reason="x")
    with pytest.raises(NotAllowed, match="say why"):
        return_request(row_id=row.pk, quantity=1, reason="  ")
    assert ReturnRequest.objects.count() == 0
    assert return_request(row_id=row.pk, quantity=1, reason="x", now=late - dt.timedelta(minutes=2))


@pytest.mark.parametrize(
    ("steps_before", "move"),
    [
        ([], "receive"),  # not approved yet
        ([], "write_off"),
        (["reject"], "approve"),
        (["approve"], "reject"),  # approved: receive or write off, not a rejection
        (["approve", "write_off"], "receive"),
        (["approve", "receive"], "receive"),  # received once: never restocked twice
        (["approve", "receive"], "write_off"),
    ],
)
def test_illegal_return_moves_are_refused_and_change_nothing(main, kettle, steps_before, move):
    row = shipped_row(kettle, 2, main)
    ret = return_request(row_id=row.pk, quantity=1, reason="Dented")
    do = {
        "approve": lambda: return_approve(return_id=ret.pk),
        "reject": lambda: return_reject(return_id=ret.pk, reason="No"),
        "receive": lambda: return_receive(return_id=ret.pk, source=main),
        "write_off": lambda: return_write_off(return_id=ret.pk),
    }
    for step in steps_before:
        do[step]()
    before = (ReturnRequest.objects.get(pk=ret.pk).status, ReturnEvent.objects.count())
    movements = StockMovement.objects.filter(kind=MovementKind.RETURN).count()

    with pytest.raises(InvalidReturnMove) as refused:
        do[move]()

    assert refused.value.return_id == ret.pk
    assert (ReturnRequest.objects.get(pk=ret.pk).status, ReturnEvent.objects.count()) == before
    assert StockMovement.objects.filter(kind=MovementKind.RETURN).count() == movements


def test_a_written_off_return_moves_no_stock(main, kettle):
    row = shipped_row(kettle, 2, main)
    ret = return_request(row_id=row.pk, quantity=2, reason="Arrived broken")
    return_approve(return_id=ret.pk)

    ret = return_write_off(return_id=ret.pk, reason="Broken in transit; customer keeps it")

    assert ret.status == ReturnStatus.WRITTEN_OFF
    assert not StockMovement.objects.filter(kind=MovementKind.RETURN).exists()
    assert Stock.objects.get(product=kettle, source=main).on_hand == 0
    email = OutboxMessage.objects.get(kind="return_update", key__contains=":written_off:")
    assert "you do not need to send the items back" in email.body_text


def test_restocked_return_goes_to_the_waiting_row_before_anyone_can_buy_it(
    main, kettle, django_capture_on_commit_callbacks
):
    row = shipped_row(kettle, 1, main)
    waiting = place(kettle, 1, email="bob@example.com").rows.get()
    assert waiting.status == RowStatus.BACKORDERED
    ret = return_request(row_id=row.pk, quantity=1, reason="Gift, not needed")
    return_approve(return_id=ret.pk)

    with django_capture_on_commit_callbacks(execute=True):  # stock_freed → the allocation job
        return_receive(return_id=ret.pk, source=main)

    waiting.refresh_from_db()
    assert (waiting.status, waiting.source) == (RowStatus.ALLOCATED, main)
    assert RowEvent.objects.filter(row=waiting, from_status="backordered", to_status="allocated").exists()
    stock = Stock.objects.get(product=kettle, source=main)
    assert (stock.on_hand, stock.allocated) == (1, 1)
    assert availability_for(product=kettle).stock_salable == 0  # nothing left for a new order from stock


def test_an_inactive_source_does_not_take_a_return(main, overflow, kettle):
    row = shipped_row(kettle, 1, main)
    ret = return_request(row_id=row.pk, quantity=1, reason="x")
    return_approve(return_id=ret.pk)
    overflow.is_active = False
    overflow.save()
    with pytest.raises(NotAllowed, match="not an active source"):
        return_receive(return_id=ret.pk, source=overflow)
    assert ReturnRequest.objects.get(pk=ret.pk).status == ReturnStatus.APPROVED
    assert not StockMovement.objects.filter(kind=MovementKind.RETURN).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_requests_at_once_never_return_more_than_shipped(main, global_settings):
    kettle = ProductFactory(name="Copper Kettle", price=D("20.00"))
    row = shipped_row(kettle, 3, main)
    outcomes = []

    def ask():
        try:
            return_request(row_id=row.pk, quantity=2, reason="race")
            outcomes.append("ok")
        except ReturnRefused as refused:
            outcomes.append(refused.returnable)

    run_together(ask, 4)

    assert sorted(outcomes, key=str) == [1, 1, 1, "ok"]
    assert sum(ReturnRequest.objects.values_list("quantity", flat=True)) == 2


def test_the_database_refuses_a_return_of_more_than_its_row_shipped(main, kettle):
    from django.db import IntegrityError, transaction

    row = shipped_row(kettle, 2, main)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReturnRequest.objects.create(
            row=row, quantity=3, row_quantity=2, reason="x", created_at=timezone.now()
        )
