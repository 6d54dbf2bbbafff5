import pytest

from catalog.availability import Outcome
from orders.selectors import availability_for
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.inventory.factories import SourceFactory


@pytest.mark.django_db
def test_received_units_make_a_product_available():
    product = ProductFactory()
    receive(product, 3, SourceFactory())
    decision = availability_for(product=product).decide(3)
    assert decision.outcome == Outcome.IN_STOCK
    assert decision.free == 3
