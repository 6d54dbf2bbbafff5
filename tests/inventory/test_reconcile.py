"""manage.py reconcile_stock: the ledger is the truth; drift is reported, --fix repairs it."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from inventory.models import Stock, StockMovement
from inventory.selectors import stock_drift
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.inventory.factories import SourceFactory, StockFactory

pytestmark = pytest.mark.django_db


def reconcile(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("reconcile_stock", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def reconcile_fails(*args) -> tuple[CommandError, str, str]:
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("reconcile_stock", *args, stdout=out, stderr=err)
    return caught.value, out.getvalue(), err.getvalue()


def on_hand(source, product) -> int:
    return Stock.objects.get(source=source, product=product).on_hand


@pytest.fixture
def kettle(kettle, main, shop):
    """Here the kettle of tests/inventory/conftest.py is on the shelf: 10 at main, 4 at shop."""
    receive(kettle, 10, main, reference="PO-1")
    receive(kettle, 4, shop, reference="PO-1")
    return kettle


def test_an_empty_shop_has_no_drift():
    out, _ = reconcile()

    assert out.strip() == "Ledger and counters agree."


def test_no_drift_exits_cleanly(kettle):
    out, err = reconcile()

    assert out.strip() == "Ledger and counters agree."
    assert err == ""


def test_drift_is_listed_with_source_and_sku_and_fails(kettle, main, shop):
    Stock.objects.filter(source=main, product=kettle).update(on_hand=7)

    error, out, _ = reconcile_fails()

    assert out.splitlines() == ["DRIFT KETTLE-1 at main: on hand 7, ledger says 10 (drift -3)"]
    assert str(error) == "1 stock row(s) drift from the ledger; run with --fix."
    assert error.returncode == 1
    # Reporting changes nothing.
    assert (on_hand(main, kettle), on_hand(shop, kettle)) == (7, 4)


def test_every_drifting_pair_is_listed(kettle, main, shop):
    lamp = ProductFactory(sku="LAMP-1")
    receive(lamp, 6, main, reference="PO-2")
    Stock.objects.filter(source=main, product=kettle).update(on_hand=12)
    StockFactory(source=shop, product=lamp, on_hand=0)  # a zero counter with no ledger agrees
    Stock.objects.filter(source=main, product=lamp).update(on_hand=1)

    error, out, _ = reconcile_fails()

    assert out.splitlines() == [
        "DRIFT KETTLE-1 at main: on hand 12, ledger says 10 (drift +2)",
        "DRIFT LAMP-1 at main: on hand 1, ledger says 6 (drift -5)",
    ]
    assert str(error) == "2 stock row(s) drift from the ledger; run with --fix."


def test_fix_sets_counters_from_the_ledger_and_a_second_run_is_clean(kettle, main, shop):
    Stock.objects.filter(source=main, product=kettle).update(on_hand=7)
    Stock.objects.filter(source=shop, product=kettle).update(on_hand=9)

    out, err = reconcile("--fix")

    assert out.splitlines() == [
        "DRIFT KETTLE-1 at main: on hand 7, ledger says 10 (drift -3)",
        "DRIFT KETTLE-1 at shop: on hand 9, ledger says 4 (drift +5)",
        "FIXED KETTLE-1 at main: on hand set to 10",
        "FIXED KETTLE-1 at shop: on hand set to 4",
        "Fixed 2 stock row(s).",
    ]
    assert err == ""
    assert (on_hand(main, kettle), on_hand(shop, kettle)) == (10, 4)
    assert StockMovement.objects.count() == 2  # the ledger is never rewritten
    assert reconcile()[0].strip() == "Ledger and counters agree."


def test_fix_recreates_a_deleted_stock_row_from_the_ledger(kettle, main):
    Stock.objects.filter(source=main, product=kettle).delete()

    _, out, _ = reconcile_fails()
    assert out.splitlines() == ["DRIFT KETTLE-1 at main: on hand 0, ledger says 10 (drift -10)"]

    reconcile("--fix")

    assert on_hand(main, kettle) == 10
    assert stock_drift() == []


def test_drift_below_allocated_units_cannot_be_fixed_and_is_reported(kettle, main, shop):
    # The counter says 20 with 15 allocated; the ledger says 10: setting 10 would
    # leave fewer units than are promised to orders.
    Stock.objects.filter(source=main, product=kettle).update(on_hand=20, allocated=15)
    Stock.objects.filter(source=shop, product=kettle).update(on_hand=1)

    error, out, err = reconcile_fails("--fix")

    assert str(error) == "1 stock row(s) could not be fixed."
    assert err.splitlines() == [
        "NOT FIXED KETTLE-1 at main: on hand 20, ledger says 10 (drift +10): "
        "cannot fix, 15 units are allocated"
    ]
    assert "FIXED KETTLE-1 at shop: on hand set to 4" in out.splitlines()
    stock = Stock.objects.get(source=main, product=kettle)
    assert (stock.on_hand, stock.allocated) == (20, 15)  # left alone
    assert on_hand(shop, kettle) == 4  # the fixable one was fixed
    # Still drifting, so a plain run still fails.
    assert "DRIFT KETTLE-1 at main" in reconcile_fails()[1]


def test_drift_at_exactly_the_allocated_units_is_fixed(kettle, main):
    Stock.objects.filter(source=main, product=kettle).update(on_hand=14, allocated=10)

    reconcile("--fix")

    stock = Stock.objects.get(source=main, product=kettle)
    assert (stock.on_hand, stock.allocated) == (10, 10)


@pytest.mark.parametrize("count", [1, 20])
def test_finding_drift_takes_a_constant_number_of_queries(count, django_assert_num_queries):
    source = SourceFactory()
    for product in ProductFactory.create_batch(count):
        receive(product, 5, source)
    Stock.objects.update(on_hand=3)

    # Ledger sums, counters: two reads whatever the number of rows.
    with django_assert_num_queries(2):
        drifts = stock_drift()

    assert len(drifts) == count
    assert {(d.on_hand, d.ledger) for d in drifts} == {(3, 5)}
