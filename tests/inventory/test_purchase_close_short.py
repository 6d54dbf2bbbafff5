"""Closing a partly received purchase order short: the supplier will not deliver the rest, so it
stops counting as inbound supply, the promises it carried move, and nothing more is received."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.exceptions import InvalidQuantity, PurchasingError
from inventory.models import (
    InboundStatus,
    InboundSupply,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    Stock,
    StockMovement,
)
from inventory.selectors import stock_drift
from inventory.services import (
    DraftLine,
    purchase_order_cancel,
    purchase_order_close_short,
    purchase_order_create_draft,
    purchase_order_line_receive,
    purchase_order_send,
    receipts_apply,
)
from inventory.services.stock import ReceiptLine
from tests.catalog.factories import ProductFactory
from tests.inventory.factories import SourceFactory, SupplierFactory
from tests.threads import run_together

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
REASON = "Acme: the kettle mould broke, no more this season."


def order_of(*products_and_quantities, source, expected=TODAY + dt.timedelta(days=3)) -> PurchaseOrder:
    return purchase_order_create_draft(
        supplier=SupplierFactory(name="Acme Metalworks"),
        lines=[
            DraftLine(product=p, quantity=q, source=source, unit_cost=Decimal("5"), expected_date=expected)
            for p, q in products_and_quantities
        ],
    )


@pytest.fixture
def partly(kettle, teapot, main) -> PurchaseOrder:
    """10 kettles and 4 teapots ordered; 6 kettles came, the rest is outstanding."""
    order = purchase_order_send(purchase_order=order_of((kettle, 10), (teapot, 4), source=main))
    purchase_order_line_receive(line=order.lines.get(line_no=1), quantity=6, delivery="DN-1")
    return order


def test_closing_short_ends_the_outstanding_inbound_and_the_order_shows_closed_short(partly, ada):
    order = purchase_order_close_short(purchase_order=partly, user=ada, reason=REASON)
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.CLOSED_SHORT
    assert order.get_status_display() == "Closed short"
    supplies = InboundSupply.objects.filter(purchase_line__purchase_order=order).order_by("reference")
    assert [(s.reference, s.quantity, s.status) for s in supplies] == [
        (f"{order.number}/1", 4, InboundStatus.CANCELLED),
        (f"{order.number}/2", 4, InboundStatus.CANCELLED),
    ]
    # What did arrive stays received.
    assert Stock.objects.get(product__sku="KETTLE-1").on_hand == 6


def test_the_event_keeps_the_reason_who_and_the_units_not_delivered_per_line(partly, ada):
    purchase_order_close_short(purchase_order=partly, user=ada, reason=f"  {REASON}  ")
    event = partly.events.last()
    assert (event.from_status, event.to_status, event.user) == (
        PurchaseOrderStatus.PARTLY_RECEIVED,
        PurchaseOrderStatus.CLOSED_SHORT,
        ada,
    )
    number = partly.number
    assert event.note == (
        f"{REASON}\nNot delivered: {number}/1 (KETTLE-1): 4 of 10; {number}/2 (TEAPOT-1): 4 of 4."
    )


def test_a_fully_received_line_is_not_listed_as_undelivered(kettle, teapot, main, ada):
    order = purchase_order_send(purchase_order=order_of((kettle, 10), (teapot, 4), source=main))
    purchase_order_line_receive(line=order.lines.get(line_no=2), quantity=4)
    purchase_order_close_short(purchase_order=order, user=ada, reason=REASON)
    assert order.events.last().note.endswith(f"Not delivered: {order.number}/1 (KETTLE-1): 10 of 10.")
    teapot_supply = order.lines.get(line_no=2).inbound
    assert teapot_supply.status == InboundStatus.RECEIVED  # left as it was


def test_closing_short_moves_the_promise_of_a_row_waiting_for_the_rest(
    main, ada, django_capture_on_commit_callbacks
):
    from notifications.models import OutboxMessage
    from orders.models import OrderRow, RowStatus
    from orders.services import CartLine, Customer, checkout_place_order

    lamp = ProductFactory(
        sku="LAMP-1", backorderable=True, use_global_lead_time_days=False, lead_time_days=40
    )
    order = purchase_order_send(purchase_order=order_of((lamp, 5), source=main))
    with django_capture_on_commit_callbacks(execute=True):
        checkout_place_order(
            lines=[CartLine(lamp.pk, 4)],
            customer=Customer(email="bea@example.com", full_name="Bea", address="2 Way"),
        )
        purchase_order_line_receive(line=order.lines.get(), quantity=1)  # one arrives, is allocated
    waiting = OrderRow.objects.get(product=lamp, status=RowStatus.BACKORDERED)
    assert waiting.quantity == 3 and waiting.promise_date == TODAY + dt.timedelta(days=3)  # the PO's rest

    with django_capture_on_commit_callbacks(execute=True):
        purchase_order_close_short(purchase_order=order, user=ada, reason=REASON)

    waiting.refresh_from_db()
    # Nothing else is coming: the lead time from when the row was placed.
    assert waiting.promise_date == waiting.queue_at.date() + dt.timedelta(days=40)
    assert OutboxMessage.objects.filter(kind="promise_moved", to_email="bea@example.com").count() == 1


def test_a_delivery_arriving_after_closing_short_is_refused_naming_order_and_line(partly, kettle, main, ada):
    purchase_order_close_short(purchase_order=partly, user=ada, reason=REASON)
    line = partly.lines.get(line_no=1)
    message = f"{partly.number}/1 \\(KETTLE-1\\): purchase order {partly.number} is closed short"
    with pytest.raises(PurchasingError, match=message):
        purchase_order_line_receive(line=line, quantity=2, delivery="DN-2")
    with pytest.raises(PurchasingError, match=message):  # the same from a file or the command
        receipts_apply(
            lines=[ReceiptLine(source=main, product=kettle, quantity=2, reference=f"{partly.number}/1/DN-3")]
        )
    line.refresh_from_db()
    assert line.received_quantity == 6 and StockMovement.objects.count() == 1
    assert Stock.objects.get(product=kettle, source=main).on_hand == 6


def test_a_sent_order_with_nothing_received_is_cancelled_not_closed_short(kettle, main, ada):
    order = purchase_order_send(purchase_order=order_of((kettle, 10), source=main))
    with pytest.raises(
        PurchasingError, match=f"{order.number} is sent; nothing of it was received: cancel it instead"
    ):
        purchase_order_close_short(purchase_order=order, user=ada, reason=REASON)
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.SENT
    assert order.lines.get().inbound.status == InboundStatus.OPEN


@pytest.mark.parametrize("state", ["draft", "received", "cancelled", "closed short"])
def test_only_a_partly_received_order_is_closed_short(state, kettle, main, ada):
    order = order_of((kettle, 10), source=main)
    if state == "cancelled":
        purchase_order_cancel(purchase_order=order)
    elif state != "draft":
        purchase_order_send(purchase_order=order)
        purchase_order_line_receive(line=order.lines.get(), quantity=10 if state == "received" else 3)
    if state == "closed short":
        purchase_order_close_short(purchase_order=order, user=ada, reason=REASON)
    events = order.events.count()
    with pytest.raises(
        PurchasingError,
        match=f"Purchase order {order.number} is {state}; only a partly received order is closed short.",
    ):
        purchase_order_close_short(purchase_order=order, user=ada, reason=REASON)
    assert order.events.count() == events


def test_closing_short_needs_a_reason(partly, ada):
    with pytest.raises(InvalidQuantity, match="Say why the rest of the order will not come."):
        purchase_order_close_short(purchase_order=partly, user=ada, reason="   ")
    partly.refresh_from_db()
    assert partly.status == PurchaseOrderStatus.PARTLY_RECEIVED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_delivery_racing_a_close_short_is_either_received_first_or_refused():
    """Both lock the order first: the delivery lands before the close (and the close lists what
    is still missing after it) or after it (refused); the units never disagree."""
    main = SourceFactory(code="main")
    kettle = ProductFactory(sku="KETTLE-1")
    order = purchase_order_send(purchase_order=order_of((kettle, 10), source=main))
    line = order.lines.get()
    purchase_order_line_receive(line=line, quantity=2, delivery="DN-1")
    errors = []

    def close_or_deliver(which):
        try:
            if which == "close":
                purchase_order_close_short(purchase_order=order, user=None, reason=REASON)
            else:
                purchase_order_line_receive(line=line, quantity=5, delivery="DN-2")
        except PurchasingError as exc:
            errors.append(str(exc))

    steps = iter(["close", "deliver"])
    run_together(lambda: close_or_deliver(next(steps)), 2)

    order.refresh_from_db()
    line = PurchaseOrderLine.objects.get(pk=line.pk)
    assert order.status == PurchaseOrderStatus.CLOSED_SHORT
    assert line.received_quantity in (2, 7)
    if line.received_quantity == 2:  # closed first: the delivery was refused
        assert len(errors) == 1 and f"purchase order {order.number} is closed short" in errors[0]
    else:
        assert errors == []
    assert order.events.last().note.endswith(f"(KETTLE-1): {10 - line.received_quantity} of 10.")
    assert Stock.objects.get(product=kettle, source=main).on_hand == line.received_quantity
    assert InboundSupply.objects.get(pk=line.inbound_id).status == InboundStatus.CANCELLED
    assert stock_drift() == []
