import factory

from inventory.models import Source, Stock
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
