"""Every row event comes from rows_transition's writer; a source move is a move like any other."""

import pytest
from django.contrib.auth import get_user_model

from inventory.models import Stock
from orders.exceptions import InvalidTransition
from orders.models import RowEvent, RowStatus
from orders.services import CartLine, Customer, Move, checkout_place_order, row_change_source, rows_transition
from tests.catalog.factories import ProductFactory
from tests.helpers import receive

pytestmark = pytest.mark.django_db


def place(product, quantity):
    customer = Customer(email="c@example.com", full_name="C", address="x")
    return checkout_place_order(lines=[CartLine(product.pk, quantity)], customer=customer).rows.get()


def test_moving_a_row_to_another_source_is_recorded_like_any_other_move(main, overflow):
    clerk = get_user_model().objects.create_user("clerk", password="pw")
    product = ProductFactory()
    receive(product, 2, main)
    receive(product, 2, overflow)
    row = place(product, 2)

    row_change_source(row_id=row.pk, source=overflow, user=clerk)

    row.refresh_from_db()
    event = row.events.last()
    assert (row.status, row.source.code) == (RowStatus.ALLOCATED, "overflow")
    assert (event.from_status, event.to_status, event.quantity, event.source.code, event.user) == (
        RowStatus.ALLOCATED,
        RowStatus.ALLOCATED,
        2,
        "overflow",
        clerk,
    )
    assert event.reason == "Moved from main to overflow"
    assert event.created_at == row.updated_at  # one moment for the row and its event, as for every move


def test_part_of_an_allocated_row_moves_to_another_source_as_a_split(main, overflow):
    product = ProductFactory()
    receive(product, 3, main)
    row = place(product, 3)

    moved = rows_transition(
        moves=[Move(row, RowStatus.ALLOCATED, quantity=1, source_id=overflow.pk)], reason="Moved"
    )[0]

    assert (moved.quantity, moved.source_id, moved.split_from_id, moved.queue_at) == (
        1,
        overflow.pk,
        row.pk,
        row.queue_at,
    )
    row.refresh_from_db()
    assert (row.quantity, row.source_id) == (2, main.pk)
    assert RowEvent.objects.filter(row=moved, to_status=RowStatus.ALLOCATED, source=overflow).count() == 1


def test_an_allocated_row_that_stays_where_it_is_is_not_a_move(main):
    product = ProductFactory()
    receive(product, 1, main)
    row = place(product, 1)
    for move in (Move(row, RowStatus.ALLOCATED), Move(row, RowStatus.ALLOCATED, source_id=main.pk)):
        with pytest.raises(InvalidTransition):
            rows_transition(moves=[move])
    assert row.events.count() == 1  # placed
    assert Stock.objects.get(product=product).allocated == 1
