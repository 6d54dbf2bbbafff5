"""The low-stock rule (inventory.selectors): free stock at or below the product's effective
low-stock threshold. Its set-based form and its Python form agree, and the merchant's alert
and the dashboard's table name the same products."""

import pytest

from backoffice import dashboard
from catalog.models import Product
from catalog.selectors import global_settings_get, product_policy
from inventory.selectors import free_stock_by_product, is_low_on_stock, products_low_on_stock
from notifications.events import low_stock_check
from notifications.models import OutboxMessage
from tests.catalog.factories import ProductFactory, global_settings_set
from tests.inventory.factories import SourceFactory, StockFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def products():
    """Products around the edge: global threshold 2, one product with its own 5."""
    global_settings_set(low_stock_threshold=2)
    main = SourceFactory(code="main")
    closed = SourceFactory(code="closed", is_active=False)
    made = {}
    # name: (on hand, allocated) at main, own threshold, on hand at the inactive source
    for name, (on_hand, allocated), own, elsewhere in [
        ("none", (0, 0), None, 0),  # no stock row at all: free 0
        ("at-threshold", (5, 3), None, 0),  # free 2 = 2: low
        ("above", (6, 3), None, 0),  # free 3 > 2
        ("own-low", (9, 4), 5, 0),  # free 5 = own 5: low
        ("own-above", (9, 3), 5, 0),  # free 6 > own 5
        ("only-inactive", (0, 0), None, 50),  # an inactive source's units do not count
        ("all-allocated", (4, 4), None, 0),  # free 0
    ]:
        product = ProductFactory(name=name)
        if own is not None:
            Product.objects.filter(pk=product.pk).update(
                use_global_low_stock_threshold=False, low_stock_threshold=own
            )
        if on_hand:
            StockFactory(product=product, source=main, on_hand=on_hand, allocated=allocated)
        if elsewhere:
            StockFactory(product=product, source=closed, on_hand=elsewhere)
        made[name] = product
    return made


LOW = {"none", "at-threshold", "own-low", "only-inactive", "all-allocated"}


def test_the_set_based_form_and_the_python_form_agree(products):
    found = {p.name for p in products_low_on_stock(Product.objects.all())}

    free = free_stock_by_product(product_ids=[p.pk for p in products.values()])
    defaults = global_settings_get()
    by_python = {
        p.name
        for p in Product.objects.all()
        if is_low_on_stock(free=free.get(p.pk, 0), policy=product_policy(product=p, defaults=defaults))
    }
    assert found == by_python == LOW


def test_the_alert_and_the_dashboard_name_the_same_products(products):
    OutboxMessage.objects.all().delete()
    low_stock_check(product_ids=[p.pk for p in products.values()])

    alerted = {
        Product.objects.get(pk=int(m.key.split(":")[1])).name
        for m in OutboxMessage.objects.filter(kind="low_stock")
    }
    table = {row["name"] for row in dashboard.low_stock_products(limit=None).rows}
    assert alerted == table == LOW
