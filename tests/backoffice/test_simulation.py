"""manage.py simulate_shop: a fake-clock shop through the real services keeps its books."""

import dataclasses
import datetime as dt
from decimal import Decimal as D
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import F
from django.utils import timezone

from backoffice import simulation
from backoffice.simulation import Cause, MissReason, Outcome, Verdict
from billing.models import LedgerEntry
from catalog.models import GlobalSettings, Product, Sourcing
from inventory.models import (
    InboundSupply,
    PurchaseOrder,
    PurchaseOrderLine,
    Source,
    Stock,
    StockMovement,
    Supplier,
    SupplierProduct,
)
from inventory.services import inbound_cancel, inbound_create, inbound_receive, inbound_update, stock_adjust
from notifications.models import OutboxMessage
from orders.models import WAITING, CustomerTier, Order, OrderRow, RowEvent, RowStatus, Shipment
from orders.services import (
    CartLine,
    Customer,
    backorders_allocate,
    checkout_place_order,
    preorders_release,
    row_cancel,
    row_release,
)
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
    Supplier,
    SupplierProduct,
    PurchaseOrder,
    PurchaseOrderLine,
    Order,
    OrderRow,
    RowEvent,
    Shipment,
    OutboxMessage,
)


def simulate(*args: str) -> str:
    """The command's output; without the comparison run (tests/backoffice/test_simulation_buying.py)."""
    out = StringIO()
    call_command("simulate_shop", "--no-baseline", *args, stdout=out)
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
    # three days: no first promise has fallen due yet, so there is no share to report
    assert (result.promises_kept, result.promises_missed, result.promises_share) == (0, 0, None)
    assert dataclasses.replace(result, promises_kept=3, promises_missed=1).promises_share == 0.75


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


@pytest.mark.timeout(900)  # two runs of 12 days: over the default 300 s on a loaded 2-core machine
def test_both_sourcing_strategies_run_on_the_same_seed_and_print_shipments_per_order():
    # The scripted merchant: buying is not what is compared here.
    output = simulate("--days", "12", "--seed", "0", "--sourcing", "both", "--supply", "scripted")
    priority, fewest = (figures(block) for block in output.split("Simulated ")[1:])
    # The same customers try the same carts (drawn apart from everything else; a unit
    # written off at one source or another may still make one row wait or not)...
    tried = [int(f["orders placed"]) + int(f["checkouts refused"]) for f in (priority, fewest)]
    assert tried[0] == tried[1] > 0
    for found in (priority, fewest):
        assert (found["oversold units"], found["invariant violations"]) == ("0", "0")
    # ...only where units ship from differs: fewer parcels per order with fewest shipments.
    per_order = [float(found["shipments per order"].split()[0]) for found in (priority, fewest)]
    assert 1 <= per_order[1] < per_order[0], per_order
    assert f"shipments per order, seed 0, per_shipment: priority {per_order[0]:.3f}, " in output
    assert output.splitlines()[-1].endswith(f"fewest_shipments {per_order[1]:.3f}")


def test_the_run_puts_the_shops_sourcing_strategy_back():
    GlobalSettings.get_solo()
    result = simulation.simulate_shop(days=2, seed=1, sourcing=Sourcing.FEWEST_SHIPMENTS, keep=True)
    assert result.sourcing == Sourcing.FEWEST_SHIPMENTS
    assert GlobalSettings.get_solo().sourcing == Sourcing.PRIORITY


def test_days_must_be_positive():
    with pytest.raises(CommandError, match="at least one day"):
        simulate("--days", "0")


# -- first promises by cause ---------------------------------------------------------------------

CAUSES = [cause.value for cause in Cause]


def cause_table(output: str) -> dict[str, list[int]]:
    """The rows of the 'first promises by cause' table: name -> [rows, kept, missed, not due,
    cancelled]."""
    table = {}
    for line in output.splitlines():
        for name in [*CAUSES, "all"]:
            if line.startswith(f"  {name} "):
                cells = line[len(name) + 2 :].split()
                table[name] = [int(cell) for cell in cells[:5]]
    return table


def reason_table(output: str) -> dict[str, list[int]]:
    table = {}
    for line in output.splitlines():
        for reason in MissReason:
            if line.startswith(f"  {reason.value} "):
                table[reason.value] = [int(cell) for cell in line[len(reason.value) + 2 :].split()]
    return table


def test_a_short_run_reports_every_cause_and_the_counts_add_up_to_the_rows():
    # seed 3: since orders are paid (some abandoned and expired), seed 2 meets no free-stock promise;
    # with the scripted merchant (buying from suggestions, it meets none either)
    output = simulate("--days", "20", "--seed", "3", "--supply", "scripted")
    causes, reasons = cause_table(output), reason_table(output)
    waited = int(figures(output)["rows that waited"])

    assert set(causes) == {*CAUSES, "all"}, output
    assert sum(causes[name][0] for name in CAUSES) == causes["all"][0] == waited
    for name, (rows, *outcomes) in causes.items():
        assert rows == sum(outcomes), name  # kept + missed + not due + cancelled
    for column in range(1, 5):
        assert sum(causes[name][column] for name in CAUSES) == causes["all"][column]
    assert all(causes[name][0] > 0 for name in CAUSES), output  # the seed meets every cause
    # every miss has one reason, per cause column and in all
    assert set(reasons) == {reason.value for reason in MissReason}
    for i, name in enumerate(CAUSES):
        assert sum(row[i] for row in reasons.values()) == causes[name][2]
    assert sum(row[-1] for row in reasons.values()) == causes["all"][2]
    # the headline share is the table's total
    kept, missed = causes["all"][1], causes["all"][2]
    assert figures(output)["allocated by first promise"].startswith(f"{100 * kept / (kept + missed):.1f} %")
    # the date each customer was given is the one the walk gave, the basis is that walk's
    assert figures(output)["first promises off the walk"] == "0"


# Each classification on a scripted shop: the real services on a fake clock, judged by
# the simulation's PromiseAudit.

DAY0 = dt.date(2025, 2, 3)


def day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


def at(n: int, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day(n), dt.time(hour)))


@pytest.fixture
def clock():
    with time_machine.travel(at(0), tick=False) as traveller:
        yield traveller


@pytest.fixture
def audit():
    return simulation.PromiseAudit()


def buy(audit, product, quantity, n=0, user=None):
    """Check out on day n and record the first promise of the waiting row, as the run does."""
    order = checkout_place_order(
        lines=[CartLine(product.pk, quantity)],
        customer=Customer(email="c@example.com", full_name="C", address="x", user=user),
        today=day(n),
    )
    audit.record(order=order, today=day(n))
    return order.rows.get(status__in=["backordered", "preordered"])


def night(clock, product, n):
    clock.move_to(at(n, 23))
    backorders_allocate(product_id=product.pk, today=day(n))


def backorderable(lead=30, **kwargs):
    return ProductFactory(backorderable=True, use_global_lead_time_days=False, lead_time_days=lead, **kwargs)


def test_on_time_supply_that_arrives_on_time_is_kept_under_on_time_inbound(clock, audit, main):
    product = backorderable()
    supply = inbound_create(source=main, product=product, quantity=2, expected_date=day(5), reference="PO")
    row = buy(audit, product, 2)
    assert row.promise_date == day(5)

    clock.move_to(at(5, 7))
    inbound_receive(supply=supply)
    night(clock, product, 5)

    assert audit.tally(end=day(10)).verdicts[row.pk] == Verdict(Cause.ON_TIME, Outcome.KEPT)


@pytest.mark.parametrize("fate", ["slips", "short", "cancelled"])
def test_late_short_or_cancelled_supply_is_a_miss_because_supply_was_late(clock, audit, main, fate):
    product = backorderable()
    supply = inbound_create(source=main, product=product, quantity=2, expected_date=day(5), reference="PO")
    row = buy(audit, product, 2)
    clock.move_to(at(3))
    if fate == "slips":
        supply = inbound_update(supply=supply, quantity=2, expected_date=day(9))
    elif fate == "short":
        supply = inbound_update(supply=supply, quantity=1, expected_date=day(5))
    else:
        inbound_cancel(supply=supply)
    if fate != "cancelled":
        clock.move_to(at((supply.expected_date - DAY0).days, 7))
        inbound_receive(supply=supply)
        night(clock, product, (supply.expected_date - DAY0).days)

    assert audit.tally(end=day(12)).verdicts[row.pk] == Verdict(
        Cause.LATE, Outcome.MISSED, MissReason.SUPPLY_LATE
    )


def test_a_preorder_covered_by_stock_on_the_shelf_is_kept_under_free_stock(clock, audit, main):
    product = ProductFactory(preorder_enabled=True, release_date=day(10))
    receive(product, 5, main)
    row = buy(audit, product, 2)
    assert row.promise_date == day(10)

    clock.move_to(at(10, 23))
    preorders_release(today=day(10))

    assert audit.tally(end=day(12)).verdicts[row.pk] == Verdict(Cause.FREE_STOCK, Outcome.KEPT)


def test_with_no_supply_in_sight_the_lead_time_is_kept_or_was_too_short(clock, audit, main):
    product = backorderable(lead=10)
    kept, missed = buy(audit, product, 2), buy(audit, product, 3)
    assert kept.promise_date == missed.promise_date == day(10)

    clock.move_to(at(8, 7))
    receive(product, 2, main)  # enough for the first row only
    night(clock, product, 8)

    verdicts = audit.tally(end=day(12)).verdicts
    assert verdicts[kept.pk] == Verdict(Cause.LEAD_TIME, Outcome.KEPT)
    assert verdicts[missed.pk] == Verdict(Cause.LEAD_TIME, Outcome.MISSED, MissReason.LEAD_TIME_SHORT)


def test_a_higher_tier_joining_ahead_is_a_miss_because_the_queue_changed(clock, audit, main):
    vip = get_user_model().objects.create_user("vip", "vip@example.com", "pw")
    CustomerTier.objects.create(user=vip, priority=5)
    product = backorderable()
    supply = inbound_create(source=main, product=product, quantity=2, expected_date=day(5), reference="PO")
    row = buy(audit, product, 2)
    clock.move_to(at(1))
    buy(audit, product, 2, n=1, user=vip)  # served first when the supply comes

    clock.move_to(at(5, 7))
    inbound_receive(supply=supply)
    night(clock, product, 5)

    assert audit.tally(end=day(8)).verdicts[row.pk] == Verdict(
        Cause.ON_TIME, Outcome.MISSED, MissReason.QUEUE_CHANGED
    )


def test_a_row_released_back_into_the_queue_ahead_is_a_miss_because_the_queue_changed(clock, audit, main):
    product = backorderable()
    receive(product, 2, main)
    earlier = checkout_place_order(
        lines=[CartLine(product.pk, 2)], customer=Customer(email="e@example.com", full_name="E", address="y")
    ).rows.get()  # allocated from the shelf
    supply = inbound_create(source=main, product=product, quantity=2, expected_date=day(5), reference="PO")
    clock.move_to(at(0, 11))
    row = buy(audit, product, 2)
    assert row.promise_date == day(5)

    clock.move_to(at(2))
    row_release(row_id=earlier.pk)  # the units were found damaged: back in its place in the queue
    stock_adjust(source=main, product=product, change=-2, reason="Damaged")
    clock.move_to(at(5, 7))
    inbound_receive(supply=supply)
    night(clock, product, 5)

    assert audit.tally(end=day(8)).verdicts[row.pk] == Verdict(
        Cause.ON_TIME, Outcome.MISSED, MissReason.QUEUE_CHANGED
    )


def test_cancelled_before_the_date_and_not_yet_due_are_counted_apart(clock, audit, main):
    product = backorderable(lead=20)
    cancelled, waiting = buy(audit, product, 1), buy(audit, product, 1)
    clock.move_to(at(3))
    row_cancel(row_ids=[cancelled.pk], by_customer=True)

    tally = audit.tally(end=day(10))
    assert tally.verdicts[cancelled.pk] == Verdict(Cause.LEAD_TIME, Outcome.CANCELLED)
    assert tally.verdicts[waiting.pk] == Verdict(Cause.LEAD_TIME, Outcome.NOT_DUE)
    assert tally.share() is None  # nothing was due


def test_on_time_supply_keeps_its_promise_when_free_stock_is_below_safety_stock(clock, audit, main):
    """1 unit free with a safety stock of 3: the next 5 units first refill the safety stock,
    so only 3 reach the queue. The 4th and 5th waiting units must not be promised that supply."""
    product = backorderable(lead=14, use_global_safety_stock=False, safety_stock=3)
    receive(product, 1, main)
    supply = inbound_create(source=main, product=product, quantity=5, expected_date=day(5), reference="PO")
    first, second = buy(audit, product, 2), buy(audit, product, 2)
    assert (first.promise_date, second.promise_date) == (day(5), day(14))

    clock.move_to(at(5, 7))
    inbound_receive(supply=supply)
    night(clock, product, 5)

    verdicts = audit.tally(end=day(20)).verdicts
    assert verdicts[first.pk] == Verdict(Cause.ON_TIME, Outcome.KEPT)
    assert verdicts[second.pk] == Verdict(Cause.LEAD_TIME, Outcome.MISSED, MissReason.LEAD_TIME_SHORT)


# -- money: payments, captures, refunds ----------------------------------------------------------


@pytest.fixture
def money(settings):
    """Prices with tax included and a flat shipping charge, so a row's value is its unit price
    × quantity and each order's shipping 4.90: the test's own arithmetic."""
    settings.BILLING_CURRENCY = "EUR"
    settings.BILLING_SHIPPING = "4.90"
    settings.BILLING_FREE_SHIPPING_FROM = ""
    settings.BILLING_PRICES_INCLUDE_TAX = True
    settings.BILLING_AUTHORIZATION_DAYS = 7
    return settings


def _expected(statuses) -> D:
    """The value of the simulated orders' rows in ``statuses``, plus 4.90 per order with one."""
    rows = OrderRow.objects.filter(product__sku__startswith=simulation.SKU_PREFIX, status__in=statuses)
    goods = sum((row.unit_price * row.quantity for row in rows), start=D("0"))
    return goods + D("4.90") * len({row.order_id for row in rows})


@pytest.mark.parametrize(
    "settlement, charged",
    [
        ("per_shipment", [RowStatus.SHIPPED]),
        ("at_checkout", [RowStatus.SHIPPED, RowStatus.ALLOCATED, *WAITING]),
    ],
)
def test_a_short_run_settles_its_money_and_the_books_add_up(money, settlement, charged):
    """Per shipment: captured = the shipped rows + shipping per order shipped; at checkout:
    captured − refunded = the rows not cancelled + shipping per order with one."""
    result = simulation.simulate_shop(days=16, seed=4, keep=True, settlement=settlement)

    assert (result.violations, result.money_violations, result.money_open) == (0, 0, 0), result.lines()
    assert result.orders_paid > 0 and result.orders_abandoned > 0 and result.payments_declined > 0
    assert result.orders_expired == result.orders_abandoned
    assert result.captured > 0
    assert result.captured - result.refunded == _expected(charged)
    if settlement == "per_shipment":
        assert result.refunded == 0 and result.pay_links_paid > 0 and result.released > 0
    else:
        assert result.refunded > 0 and result.pay_links_paid == 0
    # an abandoned order's rows were cancelled when its window closed, none of them charged
    expired = OrderRow.objects.filter(
        product__sku__startswith=simulation.SKU_PREFIX, events__reason="Payment not completed"
    )
    assert expired.exists() and not expired.exclude(status=RowStatus.CANCELLED).exists()
    assert not LedgerEntry.objects.filter(order__rows__in=expired).exists()


def test_the_command_prints_the_money_of_both_settlements(money):
    output = simulate("--days", "4", "--seed", "1", "--settlement", "both")
    blocks = output.split("Simulated ")[1:]
    assert len(blocks) == 2
    for block, name in zip(blocks, ["charge per shipment", "charge at checkout"], strict=True):
        found = figures(block)
        assert found["settlement"] == name
        assert found["captured"].endswith(" EUR") and D(found["captured"].split()[0]) > 0
        assert "refunded" in found and found["money violations"] == "0"


def test_the_audit_catches_money_written_by_hand(money, monkeypatch):
    """The money check is not vacuous: a capture changed behind billing's back is reported."""
    audit = simulation._Simulation.audit

    def corrupt_then_audit(self, end):
        entry = LedgerEntry.objects.filter(
            kind="capture", state="succeeded", order_id__in=self.order_ids
        ).first()
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=entry.amount + 1, drawn=0)
        audit(self, end)

    monkeypatch.setattr(simulation._Simulation, "audit", corrupt_then_audit)
    result = simulation.simulate_shop(days=3, seed=1, settlement="at_checkout")
    assert result.money_violations >= 1
    assert any(detail.startswith("money: ") for detail in result.violation_details)
