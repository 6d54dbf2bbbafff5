import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from orders.models import Order, OrderRow, RowStatus
from tests.catalog.factories import ProductFactory

PASSWORD = "correct horse battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"customer{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    first_name = "Ada"
    last_name = "Lovelace"
    password = factory.django.Password(PASSWORD)


class OrderFactory(factory.django.DjangoModelFactory):
    """An order header only; rows come from OrderRowFactory (or place real ones via the service)."""

    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"R-TEST{n:04d}")
    email = factory.LazyAttribute(lambda o: o.user.email if o.user else "guest@example.com")
    full_name = "Ada Lovelace"
    address = "1 Analytical Way\nLondon"
    placed_at = factory.LazyFunction(timezone.now)
    user = None


class OrderRowFactory(factory.django.DjangoModelFactory):
    """A waiting (backordered) row by default: no stock needed behind it."""

    class Meta:
        model = OrderRow

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory, backorderable=True)
    status = RowStatus.BACKORDERED
    quantity = 1
    unit_price = factory.LazyAttribute(lambda o: o.product.price)
    queue_at = factory.LazyAttribute(lambda o: o.order.placed_at)
    line_no = factory.Sequence(lambda n: n + 1)
