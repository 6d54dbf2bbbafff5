import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from catalog.models import GlobalSettings
from inventory.models import MovementKind, Stock, StockMovement
from inventory.selectors import stock_drift
from inventory.services import inbound_create
from orders.exceptions import CheckoutRefused, EmptyCart, InvalidTransition, NotAllowed, NotEnoughFreeStock
from orders.models import Order, OrderRow, OrderStatus, RowEvent, RowStatus
from orders.services import (
    CartLine,
    Customer,
    Move,
    checkout_place_order,
    row_cancel,
    row_change_source,
    row_release,
    rows_transition,
    shipment_create,
)
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.inventory.factories import SourceFactory

pytestmark = pytest.mark.django_db
GUEST = Customer(email="ada@example.com", full_name="Ada Lovelace", address="1 Analytical Way")


def place(*lines, customer=GUEST, today=None):
    return checkout_place_order(lines=[CartLine(p.pk, q) for p, q in lines], customer=customer, today=today)


def shape(order):
    """(status, quantity, source code) per row, in row order."""
    return [
        (r.status, r.quantity, r.source.code if r.source else None)
        for r in order.rows.select_related("source").order_by("line_no", "pk")
    ]


def test_stock_comes_from_sources_by_priority_with_a_row_per_source(sources):
    main, overflow = sources
    product = ProductFactory(backorderable=True)
    receive(product, 2, main)
    receive(product, 3, overflow)

    order = place((product, 7))

    assert shape(order) == [
        ("allocated", 2, "main"),
        ("allocated", 3, "overflow"),
        ("backordered", 2, None),
    ]
    assert {s.source.code: s.allocated for s in Stock.objects.select_related("source")} == {
        "main": 2,
        "overflow": 3,
    }
    assert order.status == OrderStatus.OPEN


def test_lower_priority_number_ships_first_whatever_the_creation_order():
    late = SourceFactory(code="late", priority=5)
    early = SourceFactory(code="early", priority=1)
    product = ProductFactory()
    receive(product, 5, late)
    receive(product, 5, early)
    assert shape(place((product, 6))) == [("allocated", 5, "early"), ("allocated", 1, "late")]


def test_inactive_source_stock_is_not_sold(sources):
    main, overflow = sources
    product = ProductFactory()
    receive(product, 5, main)
    receive(product, 5, overflow)
    overflow.is_active = False
    overflow.save()
    with pytest.raises(CheckoutRefused, match="Only 5"):
        place((product, 6))


def test_checkout_never_takes_units_from_an_inactive_source():
    closed = SourceFactory(code="closed", priority=0)  # would ship first if it counted
    main = SourceFactory(code="main", priority=1)
    product = ProductFactory(backorderable=True)
    receive(product, 5, closed)
    receive(product, 2, main)
    closed.is_active = False
    closed.save()

    order = place((product, 3))

    assert shape(order) == [("allocated", 2, "main"), ("backordered", 1, None)]
    allocated = dict(Stock.objects.filter(product=product).values_list("source__code", "allocated"))
    assert allocated == {"closed": 0, "main": 2}


def test_a_new_preorder_row_is_promised_its_release_date_when_supply_comes_sooner():
    today = dt.date(2026, 11, 23)
    main = SourceFactory(code="main", priority=1)
    product = ProductFactory(preorder_enabled=True, release_date=today + dt.timedelta(days=30))
    receive(product, 1, main)  # on the shelf already
    inbound_create(
        source=main, product=product, quantity=5, expected_date=today + dt.timedelta(days=2), reference="PO"
    )

    first = place((product, 1), today=today).rows.get()  # the shelf unit would cover it today
    second = place((product, 2), today=today).rows.get()  # the supply would cover it on day 2

    assert (first.status, first.promise_date) == ("preordered", today + dt.timedelta(days=30))
    assert (second.status, second.promise_date) == ("preordered", today + dt.timedelta(days=30))


def test_a_backordered_row_is_promised_by_the_inbound_supply_that_covers_it():
    today = dt.date(2026, 11, 23)
    main = SourceFactory(code="main", priority=1)
    lamp = ProductFactory(backorderable=True)
    receive(lamp, 1, main)
    inbound_create(
        source=main, product=lamp, quantity=5, expected_date=today + dt.timedelta(days=3), reference="PO"
    )
    rug = ProductFactory()  # in stock: nothing of it waits
    receive(rug, 1, main)

    order = place((lamp, 2), (rug, 1), today=today)

    # The supply of day 3 covers the waiting unit, well before the lead time's 14 days.
    assert [(r.status, r.quantity, r.promise_date) for r in order.rows.order_by("line_no", "pk")] == [
        ("allocated", 1, None),
        ("backordered", 1, today + dt.timedelta(days=3)),
        ("allocated", 1, None),
    ]


def test_refusal_names_each_product_and_its_real_quantity_and_writes_nothing(sources):
    main, _ = sources
    short = ProductFactory(name="Brass Lamp")
    receive(short, 2, main)
    gone = ProductFactory(name="Oak Chair")
    fine = ProductFactory(name="Wool Rug")
    receive(fine, 10, main)

    with pytest.raises(CheckoutRefused) as refused:
        place((fine, 1), (short, 3), (gone, 1))

    problems = {p.product: p for p in refused.value.problems}
    assert set(problems) == {"Brass Lamp", "Oak Chair"}
    assert problems["Brass Lamp"].available == 2
    assert "Only 2 of Brass Lamp available" in str(refused.value)
    assert "Oak Chair is out of stock" in str(refused.value)
    assert Order.objects.count() == 0
    assert OrderRow.objects.count() == 0
    assert RowEvent.objects.count() == 0
    assert sum(Stock.objects.values_list("allocated", flat=True)) == 0


def test_backorder_limit_is_a_running_total_across_orders(sources):
    # allow_notify: the refusal may say "backorder" (silent backorders never do)
    product = ProductFactory(notify=True, use_global_backorder_limit=False, backorder_limit=5)
    place((product, 3))
    place((product, 2))
    with pytest.raises(CheckoutRefused, match="no longer taking backorders"):
        place((product, 1))
    assert OrderRow.objects.filter(status=RowStatus.BACKORDERED).count() == 2


def test_global_backorder_limit_applies_when_the_product_inherits_it():
    settings = GlobalSettings.get_solo()
    settings.backorders, settings.backorder_limit = "allow", 4
    settings.save()
    product = ProductFactory()
    with pytest.raises(CheckoutRefused) as refused:
        place((product, 5))
    assert refused.value.problems[0].available == 4
    assert shape(place((product, 4))) == [("backordered", 4, None)]


def test_max_backorder_per_order(sources):
    main, _ = sources
    product = ProductFactory(notify=True, use_global_max_backorder_per_order=False, max_backorder_per_order=2)
    receive(product, 1, main)
    with pytest.raises(CheckoutRefused, match="at most 2 per order can be backordered"):
        place((product, 4))
    assert shape(place((product, 3))) == [("allocated", 1, "main"), ("backordered", 2, None)]


def test_safety_stock_is_held_back(sources):
    main, _ = sources
    product = ProductFactory(use_global_safety_stock=False, safety_stock=2)
    receive(product, 5, main)
    with pytest.raises(CheckoutRefused, match="Only 3"):
        place((product, 4))
    assert shape(place((product, 3))) == [("allocated", 3, "main")]


def test_new_orders_never_jump_the_queue_of_waiting_rows(sources):
    main, _ = sources
    product = ProductFactory(backorderable=True)
    place((product, 2))  # waits: nothing on the shelf
    receive(product, 3, main)  # before the allocation job runs, 2 of these belong to the queue
    assert shape(place((product, 2))) == [("allocated", 1, "main"), ("backordered", 1, None)]


def test_preorder_rows_and_limit():
    today = dt.date(2026, 11, 23)
    product = ProductFactory(
        preorder_enabled=True, release_date=today + dt.timedelta(days=30), preorder_limit=3
    )
    assert shape(place((product, 2), today=today)) == [("preordered", 2, None)]
    with pytest.raises(CheckoutRefused, match="Only 1 more"):
        place((product, 2), today=today)


def test_released_preorder_product_sells_normally(sources):
    main, _ = sources
    today = dt.date(2026, 11, 23)
    product = ProductFactory(preorder_enabled=True, release_date=today)
    receive(product, 1, main)
    assert shape(place((product, 1), today=today)) == [("allocated", 1, "main")]


def test_prices_are_snapshotted_on_the_rows(sources):
    main, _ = sources
    product = ProductFactory(price=Decimal("10.00"))
    receive(product, 1, main)
    order = place((product, 1))
    product.price = Decimal("99.00")
    product.save()
    assert order.rows.get().unit_price == Decimal("10.00")


def test_each_row_keeps_its_queue_position(sources):
    main, _ = sources
    a, b = ProductFactory(backorderable=True), ProductFactory(backorderable=True)
    receive(b, 1, main)
    order = place((a, 1), (b, 3))
    rows = list(order.rows.order_by("pk"))
    assert [(r.product_id, r.line_no) for r in rows] == [(a.pk, 1), (b.pk, 2), (b.pk, 2)]
    assert {r.queue_at for r in rows} == {order.placed_at}


def test_same_product_twice_in_a_tampered_cart_is_merged(sources):
    main, _ = sources
    product = ProductFactory()
    receive(product, 3, main)
    order = checkout_place_order(lines=[CartLine(product.pk, 1), CartLine(product.pk, 2)], customer=GUEST)
    assert shape(order) == [("allocated", 3, "main")]


@pytest.mark.parametrize("quantity", [0, -1, 10**9])
def test_bad_quantities_are_refused_before_anything_is_written(sources, quantity):
    product = ProductFactory(backorderable=True)
    with pytest.raises(CheckoutRefused) as refused:
        place((product, quantity))
    assert str(quantity) in str(refused.value)
    assert Order.objects.count() == 0


def test_non_integer_quantity_is_refused():
    product = ProductFactory(backorderable=True)
    with pytest.raises(CheckoutRefused, match="whole number"):
        checkout_place_order(lines=[CartLine(product.pk, "2")], customer=GUEST)


def test_inactive_and_unknown_products_are_refused(sources):
    main, _ = sources
    product = ProductFactory(is_active=False, name="Old Kettle")
    receive(product, 5, main)
    with pytest.raises(CheckoutRefused, match="Old Kettle is not for sale"):
        place((product, 1))
    with pytest.raises(CheckoutRefused, match="no longer exists"):
        checkout_place_order(lines=[CartLine(987654, 1)], customer=GUEST)
    with pytest.raises(EmptyCart):
        checkout_place_order(lines=[], customer=GUEST)
    assert Order.objects.count() == 0


def test_every_row_records_its_creation_event():
    user = get_user_model().objects.create_user("bob", "bob@example.com", "pw")
    product = ProductFactory(backorderable=True)
    order = place((product, 2), customer=Customer("bob@example.com", "Bob", "x", user=user))
    event = RowEvent.objects.get(row__order=order)
    assert (event.from_status, event.to_status, event.quantity, event.user) == ("", "backordered", 2, user)


# -- after checkout -----------------------------------------------------------------------


def test_shipping_lowers_on_hand_and_allocated_together_and_writes_the_ledger(sources):
    main, overflow = sources
    product = ProductFactory(backorderable=True)
    receive(product, 2, main)
    receive(product, 2, overflow)
    order = place((product, 5))

    shipment = shipment_create(order=order, source=main)

    stock = Stock.objects.get(source=main, product=product)
    assert (stock.on_hand, stock.allocated) == (0, 0)
    movement = StockMovement.objects.get(kind=MovementKind.SHIPMENT)
    assert (movement.quantity, movement.source) == (-2, main)
    assert order.rows.get(source=main).shipment == shipment
    assert order.status == OrderStatus.PARTIALLY_SHIPPED
    assert stock_drift() == []
    with pytest.raises(NotAllowed, match="nothing allocated"):
        shipment_create(order=order, source=main)


def test_order_status_is_derived_from_rows(sources):
    main, _ = sources
    product = ProductFactory(backorderable=True)
    receive(product, 1, main)
    order = place((product, 2))
    assert order.status == OrderStatus.OPEN
    shipment_create(order=order, source=main)
    assert order.status == OrderStatus.PARTIALLY_SHIPPED
    row_cancel(row_ids=[order.rows.get(status=RowStatus.BACKORDERED).pk])
    assert order.status == OrderStatus.COMPLETED

    other = place((product, 1))
    row_cancel(row_ids=list(other.rows.values_list("pk", flat=True)))
    assert other.status == OrderStatus.CANCELLED


def test_customers_cancel_only_waiting_rows(sources):
    main, _ = sources
    product = ProductFactory(backorderable=True)
    receive(product, 1, main)
    order = place((product, 3))
    allocated = order.rows.get(status=RowStatus.ALLOCATED)
    waiting = order.rows.get(status=RowStatus.BACKORDERED)

    with pytest.raises(NotAllowed, match="only waiting rows can be cancelled"):
        row_cancel(row_ids=[allocated.pk], by_customer=True)
    row_cancel(row_ids=[waiting.pk], by_customer=True)

    waiting.refresh_from_db()
    assert waiting.status == RowStatus.CANCELLED
    assert waiting.events.last().reason == "Cancelled by customer"


def test_merchant_cancelling_an_allocated_row_frees_its_units(
    sources, heard_freed, django_capture_on_commit_callbacks
):
    main, _ = sources
    product = ProductFactory()
    receive(product, 2, main)
    order = place((product, 2))
    with django_capture_on_commit_callbacks(execute=True):
        row_cancel(row_ids=[order.rows.get().pk], reason="Customer called")
    stock = Stock.objects.get(product=product)
    assert (stock.on_hand, stock.allocated) == (2, 0)
    assert heard_freed == [[product.pk]]
    with pytest.raises(NotAllowed):
        row_cancel(row_ids=[order.rows.get().pk])


def test_release_puts_an_allocated_row_back_in_the_queue(sources):
    main, _ = sources
    product = ProductFactory(backorderable=True)
    receive(product, 2, main)
    order = place((product, 2))
    row = row_release(row_id=order.rows.get().pk)
    assert (row.status, row.source, row.queue_at) == (RowStatus.BACKORDERED, None, order.placed_at)
    assert Stock.objects.get(product=product).allocated == 0


def test_moving_a_row_to_another_source(sources):
    main, overflow = sources
    product = ProductFactory()
    receive(product, 2, main)
    receive(product, 1, overflow)
    order = place((product, 2))
    row = order.rows.get()
    with pytest.raises(NotEnoughFreeStock, match="1 free, 2 needed"):
        row_change_source(row_id=row.pk, source=overflow)
    receive(product, 1, overflow)
    row_change_source(row_id=row.pk, source=overflow)
    stocks = {s.source.code: (s.on_hand, s.allocated) for s in Stock.objects.select_related("source")}
    assert stocks == {"main": (2, 0), "overflow": (2, 2)}
    assert row.events.last().reason == "Moved from main to overflow"


def test_partial_move_splits_the_row_and_keeps_its_origin_and_place(sources):
    product = ProductFactory(backorderable=True)
    order = place((product, 5))
    row = order.rows.get()
    main, _ = sources
    receive(product, 2, main)
    (moved,) = rows_transition(moves=[Move(row, RowStatus.CANCELLED, quantity=2)], reason="test")
    row.refresh_from_db()
    assert (row.status, row.quantity) == (RowStatus.BACKORDERED, 3)
    assert (moved.status, moved.quantity, moved.split_from) == (RowStatus.CANCELLED, 2, row)
    assert (moved.queue_at, moved.line_no) == (row.queue_at, row.line_no)
    assert RowEvent.objects.filter(row=moved, from_status="backordered", to_status="cancelled").exists()


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (RowStatus.BACKORDERED, RowStatus.SHIPPED),
        (RowStatus.BACKORDERED, RowStatus.PREORDERED),
        (RowStatus.CANCELLED, RowStatus.ALLOCATED),
    ],
)
def test_moves_outside_the_map_are_refused(start, to):
    product = ProductFactory(backorderable=True)
    row = place((product, 1)).rows.get()
    OrderRow.objects.filter(pk=row.pk).update(status=start)
    row.refresh_from_db()
    with pytest.raises(InvalidTransition, match=f"from {start} to {to}"):
        rows_transition(moves=[Move(row, to)])


def test_shipped_rows_cannot_move_again(sources):
    main, _ = sources
    product = ProductFactory()
    receive(product, 1, main)
    order = place((product, 1))
    shipment_create(order=order, source=main)
    row = order.rows.get()
    assert row.status == RowStatus.SHIPPED
    with pytest.raises(InvalidTransition, match="from shipped to cancelled"):
        rows_transition(moves=[Move(row, RowStatus.CANCELLED)])
    with pytest.raises(NotAllowed, match="shipped; only rows that have not shipped"):
        row_cancel(row_ids=[row.pk])
