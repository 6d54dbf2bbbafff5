"""Sending a purchase order: the supplier's email with its lines as a CSV, written with the send
and delivered over real SMTP; promise dates move at once, and back when it is cancelled."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from inventory.models import InboundSupply, PurchaseOrderStatus
from inventory.services import (
    DraftLine,
    purchase_order_cancel,
    purchase_order_create_draft,
    purchase_order_send,
)
from notifications.models import OutboxMessage, OutboxStatus
from notifications.outbox import outbox_send_batch
from orders.models import OrderRow
from orders.services import CartLine, Customer, checkout_place_order
from tests.catalog.factories import ProductFactory
from tests.inventory.factories import SupplierFactory, SupplierProductFactory

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


@pytest.fixture
def kettle():
    return ProductFactory(
        sku="KETTLE-1",
        name="Copper kettle",
        backorderable=True,
        use_global_lead_time_days=False,
        lead_time_days=30,
    )


@pytest.fixture
def acme():
    return SupplierFactory(name="Acme Metalworks", email="orders@acme.example", lead_time_days=10)


@pytest.fixture
def draft(acme, kettle, main):
    SupplierProductFactory(supplier=acme, product=kettle, supplier_sku="AC-881", cost_price=Decimal("12.40"))
    teapot = ProductFactory(sku="TEAPOT-1", name="Stoneware teapot")
    return purchase_order_create_draft(
        supplier=acme,
        lines=[
            DraftLine(product=kettle, quantity=6, source=main, expected_date=days(4)),
            DraftLine(
                product=teapot, quantity=2, source=main, unit_cost=Decimal("8.00"), expected_date=days(9)
            ),
        ],
    )


def waiting_row(product, quantity=2) -> OrderRow:
    order = checkout_place_order(
        lines=[CartLine(product.pk, quantity)],
        customer=Customer(email="ada@example.com", full_name="Ada", address="1 Way"),
    )
    return order.rows.get(status="backordered")


def attachment_rows(content: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content)))


EXPECTED_CSV_HEADER = [
    "line",
    "reference",
    "supplier_sku",
    "sku",
    "product",
    "quantity",
    "unit_cost",
    "currency",
    "expected_date",
    "deliver_to",
]


def test_sending_writes_the_suppliers_email_with_the_lines_as_csv(draft, main):
    purchase_order_send(purchase_order=draft)
    message = OutboxMessage.objects.get(kind="purchase_order")
    assert (message.to_email, message.subject) == ("orders@acme.example", f"Purchase order {draft.number}")
    assert f"{draft.number}/1: 6 x Copper kettle (KETTLE-1) at 12.40 EUR, expected {days(4):%Y-%m-%d}" in (
        message.body_text
    )
    (attachment,) = message.attachments
    assert (attachment["filename"], attachment["mimetype"]) == (f"{draft.number}.csv", "text/csv")
    assert attachment_rows(attachment["content"]) == [
        EXPECTED_CSV_HEADER,
        [
            "1",
            f"{draft.number}/1",
            "AC-881",
            "KETTLE-1",
            "Copper kettle",
            "6",
            "12.40",
            "EUR",
            f"{days(4)}",
            main.name,
        ],
        [
            "2",
            f"{draft.number}/2",
            "",
            "TEAPOT-1",
            "Stoneware teapot",
            "2",
            "8.00",
            "EUR",
            f"{days(9)}",
            main.name,
        ],
    ]


def test_a_send_that_rolls_back_leaves_no_email_and_no_inbound(draft):
    with pytest.raises(RuntimeError), transaction.atomic():
        purchase_order_send(purchase_order=draft)
        raise RuntimeError("the request failed after the send")
    assert not OutboxMessage.objects.exists() and not InboundSupply.objects.exists()
    draft.refresh_from_db()
    assert draft.status == PurchaseOrderStatus.DRAFT
    purchase_order_send(purchase_order=draft)  # sent for real now: one email
    assert OutboxMessage.objects.filter(kind="purchase_order").count() == 1


def test_the_supplier_receives_the_csv_attachment_over_smtp(draft, sink, settings):
    purchase_order_send(purchase_order=draft)
    for name, value in sink.django_settings().items():
        setattr(settings, name, value)

    assert outbox_send_batch().sent == 1
    assert outbox_send_batch().sent == 0  # nothing twice

    sink.wait_for(1, timeout=5)
    (received,) = sink.to("orders@acme.example")
    assert received.subject == f"Purchase order {draft.number}"
    assert f"{draft.number}/2: 2 x Stoneware teapot (TEAPOT-1)" in received.text
    assert f"<strong>{draft.number}</strong>" in received.html
    (attachment,) = list(received.message.iter_attachments())
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_filename() == f"{draft.number}.csv"
    rows = attachment_rows(attachment.get_content())
    assert rows[0] == EXPECTED_CSV_HEADER
    assert [row[1:4] + row[5:6] for row in rows[1:]] == [
        [f"{draft.number}/1", "AC-881", "KETTLE-1", "6"],
        [f"{draft.number}/2", "", "TEAPOT-1", "2"],
    ]
    assert OutboxMessage.objects.get().status == OutboxStatus.SENT


def test_sending_moves_promise_dates_at_once_and_cancelling_moves_them_back(
    draft, kettle, eager, django_capture_on_commit_callbacks
):
    row = waiting_row(kettle)
    assert row.promise_date == days(30)  # nothing inbound: the product's lead time

    with django_capture_on_commit_callbacks(execute=True):
        purchase_order_send(purchase_order=draft)
    row.refresh_from_db()
    assert row.promise_date == days(4)  # the PO line's expected date

    with django_capture_on_commit_callbacks(execute=True):
        purchase_order_cancel(purchase_order=draft)
    row.refresh_from_db()
    assert row.promise_date == days(30)
