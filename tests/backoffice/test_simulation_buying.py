"""simulate_shop buys through purchase orders drafted from the replenishment suggestions, and
compares it, on the same seed, with the scripted reorder points."""

import dataclasses
from io import StringIO

import pytest
from django.core.management import call_command

from backoffice import simulation
from inventory.models import InboundSupply, PurchaseOrder, PurchaseOrderLine, StockMovement, Supplier

pytestmark = pytest.mark.django_db

PREFIX = simulation.SKU_PREFIX


def test_suggestions_are_bought_through_sent_purchase_orders_and_received_against_their_lines():
    result = simulation.simulate_shop(days=12, seed=2, keep=True)

    assert (result.supply, result.violations, result.oversold_units) == ("suggestions", 0, 0), result.lines()
    orders = PurchaseOrder.objects.filter(lines__product__sku__startswith=PREFIX).distinct()
    assert orders.count() == result.purchase_orders > 0
    assert not orders.filter(status="draft").exists()  # each draft was sent
    lines = PurchaseOrderLine.objects.filter(product__sku__startswith=PREFIX).select_related("purchase_order")
    # every supply of the run is a purchase order line's (no scripted supply)
    supplies = InboundSupply.objects.filter(product__sku__startswith=PREFIX)
    assert supplies.count() == lines.count() == result.supplies_created
    assert not supplies.filter(purchase_line__isnull=True).exists()
    # quantities kept to each supplier's minimum and packs (the rule's rounding)
    for line in lines:
        terms = line.product.supplier_terms.get(is_preferred=True)
        assert line.quantity >= terms.min_order_qty and line.quantity % terms.pack_size == 0, line
    # receipts reference the line they were received against
    received = {line.reference for line in lines if line.received_quantity}
    assert received
    references = set(
        StockMovement.objects.filter(product__sku__startswith=PREFIX, kind="receipt").values_list(
            "reference", flat=True
        )
    )
    assert received <= references


def test_scripted_supply_drafts_no_purchase_order():
    result = simulation.simulate_shop(days=4, seed=2, keep=True, supply="scripted")
    assert result.supply == "scripted" and result.purchase_orders == 0
    assert not PurchaseOrder.objects.exists() and not Supplier.objects.exists()
    assert (
        InboundSupply.objects.filter(product__sku__startswith=PREFIX).count() == result.supplies_created > 0
    )


def test_both_ways_meet_the_same_customers():
    """Carts are drawn apart from everything else, so the comparison is of buying alone."""
    suggested = simulation.simulate_shop(days=3, seed=5)
    scripted = simulation.simulate_shop(days=3, seed=5, supply="scripted")
    tried = [r.orders_placed + r.checkouts_refused for r in (suggested, scripted)]
    assert tried[0] == tried[1] > 0


def test_the_comparison_sets_stockouts_avoided_beside_the_promise_share():
    base = simulation.SimulationResult(days=90, seed=7, start=simulation.START)
    scripted = dataclasses.replace(
        base, supply="scripted", stockout_days=80, promises_kept=88, promises_missed=12
    )
    suggested = dataclasses.replace(
        base, stockout_days=20, promises_kept=95, promises_missed=5, purchase_orders=9
    )
    lines = simulation.supply_comparison(suggested, scripted)
    table = {line[2:36].strip(): line[36:].split() for line in lines if line.startswith("  ")}
    assert table["stock-out days"] == ["80", "20"]
    assert table["allocated by first promise"] == ["88.0", "%", "95.0", "%"]
    assert lines[-1] == "stock-outs avoided by suggestions: 60 product-days (75% fewer)"
    worse = simulation.supply_comparison(dataclasses.replace(suggested, stockout_days=100), scripted)
    assert worse[-1] == "stock-outs avoided by suggestions: -20 product-days (25% more)"


def test_the_command_prints_the_comparison_with_its_own_figures():
    out = StringIO()
    call_command("simulate_shop", "--days", "4", "--seed", "5", stdout=out)
    output = out.getvalue()

    assert output.count("Simulated 4 days") == 1  # the baseline prints only its comparison
    assert "buying:                      purchase orders from suggestions" in output
    printed = dict(
        line.split(":", 1) for line in output.splitlines() if ":" in line and not line.startswith(" ")
    )
    table = {line[2:36].strip(): line[36:].split() for line in output.splitlines() if line.startswith("  ")}
    assert table["stock-out days"][1] == printed["stock-out days"].split()[0]
    scripted, suggested = (int(n) for n in table["stock-out days"])
    assert f"stock-outs avoided by suggestions: {scripted - suggested} product-days" in output


def test_without_a_baseline_one_run_is_printed():
    out = StringIO()
    call_command("simulate_shop", "--days", "1", "--seed", "1", "--no-baseline", stdout=out)
    assert "buying compared" not in out.getvalue()


def test_an_unknown_way_of_buying_is_refused():
    with pytest.raises(simulation.SimulationError, match="Unknown supply"):
        simulation.simulate_shop(days=1, seed=1, supply="guesswork")
