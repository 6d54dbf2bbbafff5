from decimal import Decimal

import factory

from inventory.models import Source, Stock, Supplier, SupplierProduct
from tests.catalog.factories import ProductFactory


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"wh{n}")
    name = factory.LazyAttribute(lambda o: f"Warehouse {o.code}")
    priority = factory.Sequence(lambda n: n)


class StockFactory(factory.django.DjangoModelFactory):
    """A counter row only: tests that need a ledger use inventory.services."""

    class Meta:
        model = Stock

    source = factory.SubFactory(SourceFactory)
    product = factory.SubFactory(ProductFactory)
    on_hand = 0
    allocated = 0


class SupplierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Supplier
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Supplier {n}")
    email = factory.LazyAttribute(lambda o: f"orders@{o.name.lower().replace(' ', '-')}.example")
    lead_time_days = 10
    currency = "EUR"


class SupplierProductFactory(factory.django.DjangoModelFactory):
    """A supplier's terms for a product."""

    class Meta:
        model = SupplierProduct

    supplier = factory.SubFactory(SupplierFactory)
    product = factory.SubFactory(ProductFactory)
    supplier_sku = factory.LazyAttribute(lambda o: f"S-{o.product.sku}")
    cost_price = Decimal("7.50")
    lead_time_days = None
    min_order_qty = 1
    pack_size = 1
    is_preferred = False
