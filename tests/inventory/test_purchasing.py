"""Suppliers, their terms, and purchase orders: drafting, states, sending, receiving."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory.exceptions import (
    IllegalPurchaseOrderMove,
    InvalidQuantity,
    InventoryError,
    OverReceipt,
    PurchasingError,
)
from inventory.models import (
    InboundStatus,
    InboundSupply,
    PurchaseOrderStatus,
    Stock,
    StockMovement,
)
from inventory.services import (
    DraftLine,
    LineReceipt,
    purchase_order_cancel,
    purchase_order_create_draft,
    purchase_order_line_receive,
    purchase_order_move,
    purchase_order_receive_many,
    purchase_order_send,
)
from tests.inventory.factories import SupplierFactory, SupplierProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    return SupplierFactory(name="Acme Metalworks", email="orders@acme.example", lead_time_days=10)


@pytest.fixture
def kettle_terms(acme, kettle):
    return SupplierProductFactory(
        supplier=acme,
        product=kettle,
        cost_price=Decimal("12.40"),
        lead_time_days=21,
        pack_size=6,
        min_order_qty=12,
    )


@pytest.fixture
def teapot_terms(acme, teapot):
    return SupplierProductFactory(supplier=acme, product=teapot, cost_price=Decimal("8.00"))


@pytest.fixture
def draft(acme, kettle_terms, teapot_terms, kettle, teapot, main, ada):
    return purchase_order_create_draft(
        supplier=acme,
        lines=[
            DraftLine(product=kettle, quantity=24, source=main),
            DraftLine(product=teapot, quantity=5, source=main),
        ],
        user=ada,
    )


@pytest.fixture
def sent(draft):
    return purchase_order_send(purchase_order=draft)


def line_of(order, product):
    return order.lines.get(product=product)


def on_hand(product, source) -> int:
    return Stock.objects.get(product=product, source=source).on_hand


# -- terms ---------------------------------------------------------------------------------


def test_one_preferred_supplier_per_product_and_one_terms_row_per_supplier(kettle, acme):
    SupplierProductFactory(supplier=acme, product=kettle, is_preferred=True)
    other = SupplierFactory(name="Bolt & Co")
    SupplierProductFactory(supplier=other, product=kettle, is_preferred=False)  # a second supplier: fine
    # PostgreSQL names the constraint; SQLite names the columns of its unique index.
    one_preferred = r"supplier_product_one_preferred|failed: inventory_supplierproduct\.product_id$"
    with pytest.raises(IntegrityError, match=one_preferred), transaction.atomic():
        SupplierProductFactory(supplier=SupplierFactory(name="Third"), product=kettle, is_preferred=True)
    one_terms_row = r"supplier_product_unique|supplier_id, inventory_supplierproduct\.product_id$"
    with pytest.raises(IntegrityError, match=one_terms_row), transaction.atomic():
        SupplierProductFactory(supplier=acme, product=kettle)


@pytest.mark.parametrize(
    ("field", "constraint"),
    [("min_order_qty", "supplier_product_moq_gte_1"), ("pack_size", "supplier_product_pack_gte_1")],
)
def test_minimum_and_pack_size_are_at_least_one(kettle, acme, field, constraint):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        SupplierProductFactory(supplier=acme, product=kettle, **{field: 0})


def test_terms_without_a_lead_time_use_the_suppliers(acme, kettle):
    assert SupplierProductFactory(supplier=acme, product=kettle).effective_lead_time_days == 10


# -- drafting ------------------------------------------------------------------------------


def test_a_draft_takes_cost_and_date_from_the_terms_and_numbers_its_lines(draft, kettle, teapot, ada):
    today = timezone.localdate()
    assert draft.number == f"PO-{draft.pk:05d}"
    assert draft.status == PurchaseOrderStatus.DRAFT and draft.created_by == ada and draft.currency == "EUR"
    kettle_line, teapot_line = draft.lines.order_by("line_no")
    assert (kettle_line.line_no, kettle_line.reference) == (1, f"{draft.number}/1")
    assert kettle_line.unit_cost == Decimal("12.40")
    assert kettle_line.expected_date == today + dt.timedelta(days=21)  # the terms' own lead time
    assert teapot_line.unit_cost == Decimal("8.00")
    assert teapot_line.expected_date == today + dt.timedelta(days=10)  # the supplier's default
    assert not InboundSupply.objects.exists()  # a draft promises nothing
    assert [(e.from_status, e.to_status) for e in draft.events.all()] == [("", "draft")]


def test_a_given_cost_and_date_win_over_the_terms(acme, kettle_terms, kettle, main):
    order = purchase_order_create_draft(
        supplier=acme,
        lines=[
            DraftLine(
                product=kettle,
                quantity=12,
                source=main,
                unit_cost=Decimal("11.00"),
                expected_date=dt.date(2031, 1, 5),
            )
        ],
    )
    line = order.lines.get()
    assert (line.unit_cost, line.expected_date) == (Decimal("11.00"), dt.date(2031, 1, 5))


@pytest.mark.parametrize("quantity", [6, 13])
def test_a_draft_refuses_quantities_below_the_minimum_or_off_the_pack_size(
    acme, kettle_terms, kettle, main, quantity
):
    with pytest.raises(
        InvalidQuantity, match=f"KETTLE-1: Acme Metalworks sells at least 12 in packs of 6; {quantity}"
    ):
        purchase_order_create_draft(
            supplier=acme, lines=[DraftLine(product=kettle, quantity=quantity, source=main)]
        )
    assert not acme.purchase_orders.exists()  # nothing half-written


def test_a_product_without_terms_needs_a_cost(acme, kettle, main):
    with pytest.raises(PurchasingError, match="KETTLE-1: Acme Metalworks has no terms for this product"):
        purchase_order_create_draft(supplier=acme, lines=[DraftLine(product=kettle, quantity=3, source=main)])
    order = purchase_order_create_draft(
        supplier=acme, lines=[DraftLine(product=kettle, quantity=3, source=main, unit_cost=Decimal("9.99"))]
    )
    assert order.lines.get().expected_date == timezone.localdate() + dt.timedelta(days=10)


def test_drafting_costs_a_fixed_number_of_queries(
    acme, kettle_terms, teapot_terms, kettle, teapot, main, django_assert_num_queries
):
    lines = [
        DraftLine(product=kettle, quantity=12, source=main),
        DraftLine(product=teapot, quantity=1, source=main),
    ]
    # savepoint, insert, number, event, terms, bulk insert of the lines, release
    with django_assert_num_queries(7):
        purchase_order_create_draft(supplier=acme, lines=lines)


# -- states --------------------------------------------------------------------------------


def test_sending_turns_each_line_into_inbound_supply_under_its_reference(sent, kettle, teapot, main):
    assert sent.status == PurchaseOrderStatus.SENT and sent.sent_at is not None
    for product, quantity in ((kettle, 24), (teapot, 5)):
        line = line_of(sent, product)
        supply = line.inbound
        assert (supply.source, supply.product, supply.quantity) == (main, product, quantity)
        assert (supply.reference, supply.expected_date, supply.status) == (
            line.reference,
            line.expected_date,
            InboundStatus.OPEN,
        )
    assert [(e.from_status, e.to_status) for e in sent.events.all()] == [("", "draft"), ("draft", "sent")]


def test_a_draft_without_lines_is_not_sent(acme):
    empty = purchase_order_create_draft(supplier=acme, lines=[])
    with pytest.raises(PurchasingError, match=f"{empty.number} has no lines"):
        purchase_order_send(purchase_order=empty)


@pytest.mark.parametrize(
    ("steps", "illegal", "message"),
    [
        ([], PurchaseOrderStatus.RECEIVED, "cannot move from draft to received"),
        ([], PurchaseOrderStatus.PARTLY_RECEIVED, "cannot move from draft to partly_received"),
        (["send"], PurchaseOrderStatus.DRAFT, "cannot move from sent to draft"),
        (["cancel"], PurchaseOrderStatus.SENT, "cannot move from cancelled to sent"),
        (["send", "cancel"], PurchaseOrderStatus.SENT, "cannot move from cancelled to sent"),
    ],
)
def test_illegal_moves_are_refused_naming_the_move(draft, steps, illegal, message):
    for step in steps:
        {"send": purchase_order_send, "cancel": purchase_order_cancel}[step](purchase_order=draft)
    draft.refresh_from_db()
    with pytest.raises(IllegalPurchaseOrderMove, match=f"Purchase order {draft.number} {message}") as caught:
        purchase_order_move(purchase_order=draft, to_status=illegal)
    assert (caught.value.from_status, caught.value.to_status) == (draft.status, illegal)


def test_sending_twice_or_cancelling_a_received_order_is_refused(sent, kettle, teapot, main):
    with pytest.raises(IllegalPurchaseOrderMove, match="cannot move from sent to sent"):
        purchase_order_send(purchase_order=sent)
    assert InboundSupply.objects.count() == 2  # no second inbound row
    purchase_order_line_receive(line=line_of(sent, kettle), quantity=24)
    purchase_order_line_receive(line=line_of(sent, teapot), quantity=5)
    with pytest.raises(IllegalPurchaseOrderMove, match="cannot move from received to cancelled"):
        purchase_order_cancel(purchase_order=sent)


def test_cancelling_a_sent_order_removes_its_inbound_supply(sent):
    order = purchase_order_cancel(purchase_order=sent)
    assert order.status == PurchaseOrderStatus.CANCELLED and order.cancelled_at is not None
    assert set(InboundSupply.objects.values_list("status", flat=True)) == {InboundStatus.CANCELLED}


def test_a_draft_is_not_received(draft, kettle):
    with pytest.raises(
        PurchasingError, match=f"{draft.number}/1 \\(KETTLE-1\\): purchase order {draft.number} is draft"
    ):
        purchase_order_line_receive(line=line_of(draft, kettle), quantity=1)
    assert not StockMovement.objects.exists()


# -- receiving -----------------------------------------------------------------------------


def test_a_partial_receipt_keeps_the_rest_inbound_and_the_order_partly_received(sent, kettle, main):
    line = line_of(sent, kettle)
    result = purchase_order_line_receive(line=line, quantity=10)
    assert result.created and result.line.received_quantity == 10
    assert on_hand(kettle, main) == 10
    movement = StockMovement.objects.get(product=kettle)
    assert (movement.reference, movement.quantity) == (line.reference, 10)
    supply = InboundSupply.objects.get(pk=line.inbound_id)
    assert (supply.status, supply.quantity) == (InboundStatus.OPEN, 14)  # the rest still inbound
    sent.refresh_from_db()
    assert sent.status == PurchaseOrderStatus.PARTLY_RECEIVED


def test_the_same_reference_received_twice_adds_once(sent, kettle, main):
    line = line_of(sent, kettle)
    purchase_order_line_receive(line=line, quantity=10)
    again = purchase_order_line_receive(line=line, quantity=10)
    assert not again.created and "already received" in again.message
    assert on_hand(kettle, main) == 10 and again.line.received_quantity == 10
    # Another delivery of the same line is told apart by its delivery reference.
    purchase_order_line_receive(line=line, quantity=14, delivery="DN-2")
    purchase_order_line_receive(line=line, quantity=14, delivery="DN-2")
    assert on_hand(kettle, main) == 24
    assert sorted(StockMovement.objects.values_list("reference", flat=True)) == [
        line.reference,
        f"{line.reference}/DN-2",
    ]


def test_over_receipt_is_refused_naming_product_line_and_what_is_outstanding(sent, kettle, main):
    line = line_of(sent, kettle)
    purchase_order_line_receive(line=line, quantity=20)
    with pytest.raises(
        OverReceipt, match=f"{line.reference} \\(KETTLE-1\\): receiving 5 .* outstanding \\(4\\)"
    ):
        purchase_order_line_receive(line=line, quantity=5, delivery="DN-2")
    assert on_hand(kettle, main) == 20
    assert InboundSupply.objects.get(pk=line.inbound_id).quantity == 4


def test_the_order_follows_its_lines_to_received_and_closes_their_inbound(sent, kettle, teapot, overflow):
    purchase_order_line_receive(line=line_of(sent, kettle), quantity=24)
    sent.refresh_from_db()
    assert sent.status == PurchaseOrderStatus.PARTLY_RECEIVED
    # Units may arrive somewhere else than planned: they are received where they are.
    purchase_order_line_receive(line=line_of(sent, teapot), quantity=5, source=overflow)
    sent.refresh_from_db()
    assert sent.status == PurchaseOrderStatus.RECEIVED and sent.received_at is not None
    assert set(InboundSupply.objects.values_list("status", flat=True)) == {InboundStatus.RECEIVED}
    assert on_hand(teapot, overflow) == 5
    assert [e.to_status for e in sent.events.all()] == ["draft", "sent", "partly_received", "received"]


def test_a_line_received_in_full_at_once_moves_a_sent_order_straight_to_received(
    acme, kettle_terms, kettle, main
):
    order = purchase_order_create_draft(
        supplier=acme, lines=[DraftLine(product=kettle, quantity=12, source=main)]
    )
    purchase_order_send(purchase_order=order)
    purchase_order_line_receive(line=order.lines.get(), quantity=12)
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.RECEIVED


# -- late lines and promises ---------------------------------------------------------------


def test_a_late_po_line_slips_the_promises_it_carries_as_late_inbound_supply_does(acme, main):
    from orders.services import CartLine, Customer, checkout_place_order, promises_refresh
    from tests.catalog.factories import ProductFactory

    today = timezone.localdate()
    lamp = ProductFactory(
        sku="LAMP-1", backorderable=True, use_global_lead_time_days=False, lead_time_days=40
    )
    order = purchase_order_create_draft(
        supplier=acme,
        lines=[
            DraftLine(
                product=lamp,
                quantity=3,
                source=main,
                unit_cost=Decimal("4"),
                expected_date=today + dt.timedelta(days=2),
            )
        ],
    )
    purchase_order_send(purchase_order=order)
    placed = checkout_place_order(
        lines=[CartLine(lamp.pk, 2)],
        customer=Customer(email="ada@example.com", full_name="Ada", address="1 Way"),
    )
    row = placed.rows.get()
    assert row.promise_date == today + dt.timedelta(days=2)  # the PO line covers it

    # Five days on, the line is late and not received: the promise moves to that day, told once.
    later = today + dt.timedelta(days=5)
    slips = promises_refresh(product_id=lamp.pk, today=later)
    assert [(s.was, s.now) for s in slips] == [(today + dt.timedelta(days=2), later)]

    # Part of it arrives: the rest stays inbound and still carries the row.
    purchase_order_line_receive(line=order.lines.get(), quantity=1)
    assert promises_refresh(product_id=lamp.pk, today=later) == []
    row.refresh_from_db()
    assert row.promise_date == later


def test_receiving_many_lines_costs_a_fixed_number_of_queries(acme, main, django_assert_num_queries):
    from tests.catalog.factories import ProductFactory

    def sent_with(count):
        products = [ProductFactory() for _ in range(count)]
        order = purchase_order_create_draft(
            supplier=acme,
            lines=[DraftLine(product=p, quantity=5, source=main, unit_cost=Decimal("1")) for p in products],
        )
        purchase_order_send(purchase_order=order)
        return [LineReceipt(line=line, quantity=2) for line in order.lines.all()]

    small, large = sent_with(1), sent_with(8)
    with django_assert_num_queries(QUERIES_TO_RECEIVE) as one:
        purchase_order_receive_many(receipts=small)
    with django_assert_num_queries(len(one.captured_queries)):
        purchase_order_receive_many(receipts=large)


# savepoint, lock orders, lines, inbound; products, received references, sources; stock_receive_many
# (savepoint, lock products, stock insert, stock rows, seen references, movements, counters,
# release); lines, inbound; all lines of the orders, the order's move and its event; release
QUERIES_TO_RECEIVE = 21


def test_a_po_lines_inbound_supply_is_not_received_or_changed_outside_its_order(sent, kettle, main):
    from inventory.services import inbound_receive, inbound_update

    supply = line_of(sent, kettle).inbound
    with pytest.raises(InventoryError, match=f"Inbound {supply.reference} belongs to a purchase order line"):
        inbound_receive(supply=supply)
    with pytest.raises(InventoryError, match="belongs to a purchase order line"):
        inbound_update(supply=supply, quantity=1, expected_date=supply.expected_date)
    supply.refresh_from_db()
    assert (supply.quantity, supply.status) == (24, InboundStatus.OPEN)
    assert not StockMovement.objects.exists()
