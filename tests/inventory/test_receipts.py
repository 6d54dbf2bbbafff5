"""Receiving stock: one ledger row per supplier reference, however often it arrives."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from inventory.exceptions import InvalidQuantity
from inventory.models import MovementKind, Stock, StockMovement
from inventory.selectors import stock_drift
from inventory.services import ReceiptLine, stock_receive, stock_receive_many
from tests.catalog.factories import ProductFactory
from tests.inventory.factories import SourceFactory

pytestmark = pytest.mark.django_db


def on_hand(source, product) -> int:
    return Stock.objects.get(source=source, product=product).on_hand


def test_receipt_adds_units_and_writes_the_ledger(source, product):
    user = get_user_model().objects.create_user("clerk")

    result = stock_receive(source=source, product=product, quantity=5, reference="PO-1", user=user)

    assert result.created is True
    assert result.message == "Received 5 × KETTLE-1 at main (reference PO-1)."
    assert on_hand(source, product) == 5
    movement = StockMovement.objects.get()
    assert (movement.source, movement.product, movement.kind) == (source, product, MovementKind.RECEIPT)
    assert (movement.quantity, movement.reference, movement.reason) == (5, "PO-1", "Receipt")
    assert movement.user == user
    assert movement.created_at is not None


def test_second_receipt_of_the_same_reference_adds_nothing_and_says_so(source, product):
    stock_receive(source=source, product=product, quantity=5, reference="PO-1")

    again = stock_receive(source=source, product=product, quantity=5, reference="PO-1")
    different_quantity = stock_receive(source=source, product=product, quantity=50, reference="PO-1")

    assert again.created is False
    assert again.message == "Reference PO-1 was already received for KETTLE-1 at main; nothing added."
    assert different_quantity.created is False
    assert on_hand(source, product) == 5
    assert StockMovement.objects.count() == 1


def test_reference_is_trimmed_before_it_is_compared(source, product):
    stock_receive(source=source, product=product, quantity=5, reference=" PO-1 ")

    again = stock_receive(source=source, product=product, quantity=5, reference="PO-1")

    assert again.created is False
    assert StockMovement.objects.get().reference == "PO-1"


def test_same_reference_counts_separately_per_source_and_product(source, product):
    shop = SourceFactory(code="shop")
    lamp = ProductFactory(sku="LAMP-1")

    results = [
        stock_receive(source=source, product=product, quantity=5, reference="PO-1"),
        stock_receive(source=shop, product=product, quantity=3, reference="PO-1"),
        stock_receive(source=source, product=lamp, quantity=2, reference="PO-1"),
    ]

    assert [r.created for r in results] == [True, True, True]
    assert (on_hand(source, product), on_hand(shop, product), on_hand(source, lamp)) == (5, 3, 2)


def test_receipts_with_new_references_add_up(source, product):
    stock_receive(source=source, product=product, quantity=5, reference="PO-1")
    stock_receive(source=source, product=product, quantity=7, reference="PO-2")

    assert on_hand(source, product) == 12
    assert StockMovement.objects.count() == 2
    assert stock_drift() == []


def test_receipt_keeps_allocated_units(source, product):
    stock_receive(source=source, product=product, quantity=5, reference="PO-1")
    Stock.objects.filter(product=product).update(allocated=4)

    stock_receive(source=source, product=product, quantity=3, reference="PO-2")

    stock = Stock.objects.get(product=product)
    assert (stock.on_hand, stock.allocated, stock.free) == (8, 4, 4)


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        (0, "quantity must be a positive whole number, got 0."),
        (-3, "quantity must be a positive whole number, got -3."),
        (1.5, "quantity must be a positive whole number, got 1.5."),
        ("5", "quantity must be a positive whole number, got '5'."),
        (True, "quantity must be a positive whole number, got True."),
        (1001, "quantity 1001 is larger than the 1000 allowed in one receipt."),
    ],
)
def test_bad_quantity_is_refused_and_nothing_changes(source, product, settings, quantity, message):
    settings.RESTOCK_MAX_QUANTITY = 1000

    with pytest.raises(InvalidQuantity) as caught:
        stock_receive(source=source, product=product, quantity=quantity, reference="PO-1")

    assert str(caught.value) == message
    assert caught.value.field == "quantity"
    assert not Stock.objects.exists()
    assert not StockMovement.objects.exists()


def test_the_largest_allowed_quantity_is_received(source, product, settings):
    settings.RESTOCK_MAX_QUANTITY = 1000

    stock_receive(source=source, product=product, quantity=1000, reference="PO-1")

    assert on_hand(source, product) == 1000


@pytest.mark.parametrize("reference", ["", "   "])
def test_receipt_without_a_reference_is_refused(source, product, reference):
    with pytest.raises(InvalidQuantity, match="A receipt needs a reference."):
        stock_receive(source=source, product=product, quantity=5, reference=reference)

    assert not StockMovement.objects.exists()


def test_receiving_many_lines_reports_each(source, product):
    lamp = ProductFactory(sku="LAMP-1")
    stock_receive(source=source, product=lamp, quantity=1, reference="PO-0")
    lines = [
        ReceiptLine(source=source, product=product, quantity=5, reference="PO-1"),
        ReceiptLine(source=source, product=lamp, quantity=2, reference="PO-1"),
        ReceiptLine(source=source, product=lamp, quantity=9, reference="PO-0"),  # already received
        ReceiptLine(source=source, product=product, quantity=5, reference="PO-1"),  # twice in one batch
    ]

    results = stock_receive_many(lines=lines)

    assert [r.created for r in results] == [True, True, False, False]
    assert [r.line for r in results] == lines
    assert (on_hand(source, product), on_hand(source, lamp)) == (5, 3)
    assert StockMovement.objects.count() == 3


def test_one_bad_line_receives_nothing(source, product):
    lines = [
        ReceiptLine(source=source, product=product, quantity=5, reference="PO-1"),
        ReceiptLine(source=source, product=product, quantity=0, reference="PO-2"),
    ]

    with pytest.raises(InvalidQuantity):
        stock_receive_many(lines=lines)

    assert not Stock.objects.exists()
    assert not StockMovement.objects.exists()


@pytest.mark.parametrize("count", [1, 50])
def test_receiving_many_lines_takes_a_constant_number_of_queries(count, django_assert_num_queries):
    source = SourceFactory()
    products = ProductFactory.create_batch(count)
    lines = [ReceiptLine(source=source, product=p, quantity=3, reference="PO-7") for p in products]

    # Savepoint, lock products, create stock rows, lock stock, read known references,
    # write the ledger, update the counters, release: the same for 1 line or 50.
    with django_assert_num_queries(8):
        results = stock_receive_many(lines=lines)

    assert all(r.created for r in results)
    assert StockMovement.objects.count() == count
    assert sorted(Stock.objects.values_list("on_hand", flat=True)) == [3] * count


def test_receipt_announces_free_stock_after_commit(
    source, product, heard_freed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        stock_receive(source=source, product=product, quantity=5, reference="PO-1")
    with django_capture_on_commit_callbacks(execute=True) as again:
        stock_receive(source=source, product=product, quantity=5, reference="PO-1")

    assert heard_freed == [[product.pk]]
    assert again == []  # a repeated receipt frees nothing


# -- Concurrency: real threads, real PostgreSQL row locks. --------------------------------


def run_together(count: int, work) -> tuple[list, list]:
    """Run work(i) in ``count`` threads released at once; each closes its own connection."""
    barrier = threading.Barrier(count, timeout=10)
    results, errors = [None] * count, []

    def worker(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a receipt thread hung"
    return results, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_receipts_of_one_reference_add_the_units_once():
    source, product = SourceFactory(code="main"), ProductFactory(sku="KETTLE-1")

    results, errors = run_together(
        6, lambda i: stock_receive(source=source, product=product, quantity=5, reference="PO-1")
    )

    assert errors == []
    assert sorted(r.created for r in results) == [False] * 5 + [True]
    assert on_hand(source, product) == 5
    assert StockMovement.objects.filter(reference="PO-1").count() == 1
    assert Stock.objects.count() == 1
    assert stock_drift() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_receipts_of_different_references_all_count():
    source, product = SourceFactory(code="main"), ProductFactory(sku="KETTLE-1")

    results, errors = run_together(
        6, lambda i: stock_receive(source=source, product=product, quantity=i + 1, reference=f"PO-{i}")
    )

    assert errors == []
    assert all(r.created for r in results)
    assert on_hand(source, product) == 1 + 2 + 3 + 4 + 5 + 6
    assert StockMovement.objects.count() == 6
    assert stock_drift() == []
