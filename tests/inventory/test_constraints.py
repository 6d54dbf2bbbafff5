"""The stock rules hold in the database itself, whatever code (or person) writes to it."""

import pytest
from django.db import IntegrityError, connection, transaction

from inventory.models import MovementKind, Stock, StockMovement
from tests.catalog.factories import ProductFactory
from tests.inventory.factories import SourceFactory, StockFactory

pytestmark = pytest.mark.django_db

STOCK = Stock._meta.db_table
LEDGER = StockMovement._meta.db_table
STOCK_CHECKS = ("stock_on_hand_gte_0", "stock_allocated_gte_0", "stock_allocated_lte_on_hand")

# (on_hand, allocated) that break the named rule; a stock row starts at 5 on hand, 2 allocated.
BREAKS = [
    pytest.param(-1, 0, "stock_on_hand_gte_0", id="on_hand>=0"),
    pytest.param(5, -1, "stock_allocated_gte_0", id="allocated>=0"),
    pytest.param(5, 6, "stock_allocated_lte_on_hand", id="allocated<=on_hand"),
]


@pytest.fixture
def stock():
    return StockFactory(on_hand=5, allocated=2)


def raw_update(stock, *, on_hand, allocated):
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {STOCK} SET on_hand = %s, allocated = %s WHERE id = %s",  # noqa: S608
            [on_hand, allocated, stock.pk],
        )


def assert_unchanged(stock):
    stock.refresh_from_db()
    assert (stock.on_hand, stock.allocated) == (5, 2)


@pytest.mark.postgres
@pytest.mark.parametrize(("on_hand", "allocated", "constraint"), BREAKS)
def test_postgresql_rejects_a_raw_update_breaking_the_rule(stock, on_hand, allocated, constraint):
    with pytest.raises(IntegrityError, match="violates check constraint"), transaction.atomic():
        raw_update(stock, on_hand=on_hand, allocated=allocated)

    assert_unchanged(stock)


@pytest.mark.postgres
@pytest.mark.parametrize(("on_hand", "allocated", "constraint"), BREAKS)
def test_each_check_constraint_alone_rejects_its_breach(stock, on_hand, allocated, constraint):
    """Drop the two other checks (rolled back with the savepoint): this one still refuses.

    on_hand >= 0 follows from the other two rules, so without this a test could
    pass while that constraint is missing.
    """
    with pytest.raises(IntegrityError) as caught, transaction.atomic(), connection.cursor() as cursor:
        # Run the deferred foreign-key checks now: ALTER TABLE refuses pending ones.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for other in STOCK_CHECKS:
            if other != constraint:
                cursor.execute(f"ALTER TABLE {STOCK} DROP CONSTRAINT {other}")
        raw_update(stock, on_hand=on_hand, allocated=allocated)

    assert f'violates check constraint "{constraint}"' in str(caught.value)
    assert_unchanged(stock)
    # The dropped constraints came back with the rollback.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's foreign keys, as before
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'c'", [STOCK]
        )
        assert set(STOCK_CHECKS) <= {row[0] for row in cursor.fetchall()}


@pytest.mark.postgres
def test_postgresql_rejects_a_second_receipt_of_the_same_reference():
    source, product = SourceFactory(), ProductFactory()
    insert = (
        f"INSERT INTO {LEDGER} (source_id, product_id, kind, quantity, reason, reference, created_at) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, '', %s, NOW())"
    )
    with connection.cursor() as cursor:
        cursor.execute(insert, [source.pk, product.pk, "receipt", 5, "PO-1"])

        with pytest.raises(IntegrityError, match="movement_receipt_once_per_reference"), transaction.atomic():
            cursor.execute(insert, [source.pk, product.pk, "receipt", 3, "PO-1"])

        # The rule is per source and product, and only for receipts.
        cursor.execute(insert, [SourceFactory().pk, product.pk, "receipt", 3, "PO-1"])
        cursor.execute(insert, [source.pk, ProductFactory().pk, "receipt", 3, "PO-1"])
        cursor.execute(insert, [source.pk, product.pk, "adjustment", -1, "PO-1"])
        cursor.execute(insert, [source.pk, product.pk, "adjustment", -1, "PO-1"])

    assert StockMovement.objects.filter(reference="PO-1").count() == 5


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("kind", "quantity", "reference", "constraint"),
    [
        ("receipt", -2, "PO-9", "movement_receipt_positive_with_reference"),
        ("receipt", 2, "", "movement_receipt_positive_with_reference"),
        ("adjustment", 0, "", "movement_quantity_not_0"),
    ],
)
def test_postgresql_rejects_a_meaningless_ledger_row(kind, quantity, reference, constraint):
    source, product = SourceFactory(), ProductFactory()

    with (
        pytest.raises(IntegrityError, match=constraint),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f"INSERT INTO {LEDGER} (source_id, product_id, kind, quantity, reason, reference, created_at) "  # noqa: S608
            "VALUES (%s, %s, %s, %s, '', %s, NOW())",
            [source.pk, product.pk, kind, quantity, reference],
        )

    assert not StockMovement.objects.exists()


# -- The same rules on any database (SQLite too), through the ORM without Python checks. --


@pytest.mark.parametrize(("on_hand", "allocated", "constraint"), BREAKS)
def test_any_database_rejects_a_bulk_update_breaking_the_rule(stock, on_hand, allocated, constraint):
    with pytest.raises(IntegrityError), transaction.atomic():
        Stock.objects.filter(pk=stock.pk).update(on_hand=on_hand, allocated=allocated)

    assert_unchanged(stock)


def test_one_stock_row_per_source_and_product(stock):
    with pytest.raises(IntegrityError), transaction.atomic():
        Stock.objects.create(source=stock.source, product=stock.product)

    assert Stock.objects.count() == 1


def test_any_database_rejects_a_second_receipt_row_for_a_reference():
    source, product = SourceFactory(), ProductFactory()
    row = {"source": source, "product": product, "kind": MovementKind.RECEIPT, "reference": "PO-1"}
    StockMovement.objects.create(quantity=5, **row)

    with pytest.raises(IntegrityError), transaction.atomic():
        StockMovement.objects.create(quantity=3, **row)

    assert StockMovement.objects.count() == 1
