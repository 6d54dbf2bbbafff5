"""manage.py simulate_shop: a fake-clock shop through the real services keeps its books."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F

from catalog.models import Product
from inventory.models import InboundSupply, Source, Stock, StockMovement
from notifications.models import OutboxMessage
from orders import simulation
from orders.models import Order, OrderRow, RowEvent, Shipment
from orders.services import CartLine, Customer, checkout_place_order
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.inventory.factories import SourceFactory

pytestmark = pytest.mark.django_db

MODELS = (
    Product,
    Source,
    Stock,
    StockMovement,
    InboundSupply,
    Order,
    OrderRow,
    RowEvent,
    Shipment,
    OutboxMessage,
)


def simulate(*args: str) -> str:
    out = StringIO()
    call_command("simulate_shop", *args, stdout=out)
    return out.getvalue()


def figures(output: str) -> dict[str, str]:
    found = {}
    for line in output.splitlines():
        label, sep, value = line.partition(":")
        if sep and label.strip() and not line.startswith(" "):
            found[label.strip()] = value.strip()
    return found


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def test_a_short_run_prints_its_figures_with_nothing_oversold_or_broken():
    output = simulate("--days", "10", "--seed", "1")
    found = figures(output)
    for label in (
        "days",
        "orders placed",
        "checkouts refused",
        "rows that waited",
        "allocated by first promise",
        "promise slips emailed",
        "oversold units",
        "invariant violations",
    ):
        assert label in found, output
    assert found["days"] == "10"
    assert int(found["orders placed"]) > 0
    assert int(found["rows that waited"]) > 0
    assert found["oversold units"] == "0", output
    assert found["invariant violations"] == "0", output
    assert "VIOLATION" not in output


def test_the_same_seed_tells_the_same_story():
    first = simulate("--days", "6", "--seed", "5")
    assert simulate("--days", "6", "--seed", "5") == first
    other = simulate("--days", "6", "--seed", "6")
    assert other.splitlines()[0] != first.splitlines()[0]  # the heading names the seed
    assert other.splitlines()[1:] != first.splitlines()[1:]


def test_without_keep_the_database_is_left_as_it_was():
    # Something of the merchant's own, which the simulation must not touch.
    source = SourceFactory()
    product = ProductFactory(backorderable=True)
    receive(product, 3, source)
    checkout_place_order(
        lines=[CartLine(product.pk, 5)],
        customer=Customer(email="real@example.com", full_name="Real Customer", address="1 Real Road"),
    )
    before = counts()
    stock = list(Stock.objects.values_list("pk", "on_hand", "allocated").order_by("pk"))

    simulate("--days", "4", "--seed", "2")

    assert counts() == before
    assert list(Stock.objects.values_list("pk", "on_hand", "allocated").order_by("pk")) == stock
    assert not Product.objects.filter(sku__startswith=simulation.SKU_PREFIX).exists()


def test_keep_commits_the_run_and_a_second_run_refuses_to_mix_with_it():
    simulate("--days", "3", "--seed", "3", "--keep")
    assert Product.objects.filter(sku__startswith=simulation.SKU_PREFIX).count() == len(simulation.PRODUCTS)
    assert Order.objects.exists()
    with pytest.raises(CommandError, match="kept simulation"):
        simulate("--days", "3", "--seed", "3")


def test_the_result_is_a_dataclass_with_the_figures():
    result = simulation.simulate_shop(days=3, seed=9)
    assert isinstance(result, simulation.SimulationResult)
    assert result.days == 3
    assert result.orders_placed > 0
    assert result.oversold_units == 0
    assert result.violations == 0
    assert result.promises_kept + result.promises_missed + result.promises_not_due <= result.rows_waited
    assert 0 <= (result.promises_share or 0) <= 1


def test_the_audit_catches_a_counter_written_by_hand(monkeypatch):
    """The checks are not vacuous: a counter changed behind the services' back is reported."""
    audit = simulation._Simulation.audit

    def corrupt_then_audit(self, end):
        Stock.objects.filter(product__sku="SIM-PEN").update(on_hand=F("on_hand") + 1)
        audit(self, end)

    monkeypatch.setattr(simulation._Simulation, "audit", corrupt_then_audit)
    result = simulation.simulate_shop(days=2, seed=1)
    assert result.violations >= 1
    assert any("drift" in detail for detail in result.violation_details)
    with pytest.raises(CommandError, match="invariant violations"):
        simulate("--days", "2", "--seed", "1")


def test_days_must_be_positive():
    with pytest.raises(CommandError, match="at least one day"):
        simulate("--days", "0")
