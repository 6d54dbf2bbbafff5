import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from catalog.models import Category, GlobalSettings, Product


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


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
        # ProductFactory(preorder=True): pre-order, released 30 days from today.
        preorder = factory.Trait(
            preorder_enabled=True,
            release_date=factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=30)),
        )


def global_settings_set(**values) -> GlobalSettings:
    """Change the shop-wide defaults (the one GlobalSettings row) and save them."""
    defaults = GlobalSettings.get_solo()
    for name, value in values.items():
        setattr(defaults, name, value)
    defaults.save()
    return defaults


class DiscountRuleFactory(factory.django.DjangoModelFactory):
    """10 % off every waiting unit (backordered or pre-ordered) of every product, no dates."""

    class Meta:
        model = "catalog.DiscountRule"
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Rule {n}")
    kind = "percent"
    value = Decimal("10")
    applies_to = "both"
    scope = "all"

    @factory.post_generation
    def products(self, create, extracted, **kwargs):
        if create and extracted:
            self.products.set(extracted)
