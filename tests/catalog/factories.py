from decimal import Decimal

import factory

from catalog.models import Product


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    price = Decimal("19.90")

    class Params:
        # ProductFactory(backorderable=True): overrides the global "no" with "allow".
        backorderable = factory.Trait(use_global_backorders=False, backorders="allow")
        notify = factory.Trait(use_global_backorders=False, backorders="allow_notify")
