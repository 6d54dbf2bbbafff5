"""Order rows are locked through one helper: after their products, in primary-key order.

Every service that locks order rows is run and its statements read back from PostgreSQL's
side of the wire (SQLite has no FOR UPDATE): one order for every caller means two of them
can never wait on each other's rows.
"""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import RowStatus
from orders.services import (
    CartLine,
    Customer,
    backorders_allocate,
    checkout_place_order,
    preorders_release,
    row_cancel,
    row_change_source,
    row_release,
    shipment_create,
)
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.inventory.factories import SourceFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

ROW_LOCK = re.compile(r'FROM "orders_orderrow".* FOR UPDATE OF "orders_orderrow"$')
# By the key, named or (when the key is the first column read) by its position.
BY_ID = re.compile(
    r'ORDER BY "orders_orderrow"\."id" ASC FOR UPDATE OF "orders_orderrow"$'
    r'|^SELECT "orders_orderrow"\."id" AS "pk", .* ORDER BY 1 ASC FOR UPDATE OF "orders_orderrow"$'
)
PRODUCT_LOCK = 'FROM "catalog_product" WHERE "catalog_product"."id" IN'


TODAY = dt.date(2026, 11, 23)


def place(product, quantity, email="c@example.com"):
    customer = Customer(email=email, full_name="C", address="x")
    return checkout_place_order(lines=[CartLine(product.pk, quantity)], customer=customer, today=TODAY)


def row_locks(run) -> list[str]:
    """The order-row lock statements ``run`` sends; fails unless each follows a product lock."""
    with CaptureQueriesContext(connection) as sent:
        run()
    statements = [q["sql"] for q in sent.captured_queries]
    locks = [n for n, sql in enumerate(statements) if ROW_LOCK.search(sql)]
    for n in locks:
        assert any(PRODUCT_LOCK in sql and "FOR NO KEY UPDATE" in sql for sql in statements[:n])
    return [statements[n] for n in locks]


def test_every_service_locks_order_rows_in_primary_key_order_after_their_products(main):
    overflow = SourceFactory(code="overflow", priority=2)
    product = ProductFactory(backorderable=True)
    waiting = [place(product, 1, f"w{n}@example.com") for n in range(3)]
    receive(product, 3, main)
    preorder = ProductFactory(preorder_enabled=True, release_date=TODAY + dt.timedelta(days=3))

    locks = {"allocate": row_locks(lambda: backorders_allocate(product_id=product.pk))}
    row = waiting[0].rows.get()
    receive(product, 1, overflow)
    locks["change source"] = row_locks(lambda: row_change_source(row_id=row.pk, source=overflow))
    locks["release"] = row_locks(lambda: row_release(row_id=row.pk))
    locks["cancel"] = row_locks(lambda: row_cancel(row_ids=[row.pk]))
    locks["ship"] = row_locks(lambda: shipment_create(order=waiting[1], source=main))
    place(preorder, 2)
    locks["pre-order release"] = row_locks(lambda: preorders_release(today=TODAY + dt.timedelta(days=3)))

    assert waiting[1].rows.get().status == RowStatus.SHIPPED
    assert {name: len(sent) for name, sent in locks.items()} == dict.fromkeys(locks, 1)
    assert {name: sent for name, sent in locks.items() if not BY_ID.search(sent[0])} == {}
