"""manage.py reconcile_payments: names every order that breaks a money invariant, exits non-zero."""

from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from payments import PaymentStatus

from billing.models import EntryKind, LedgerEntry, LedgerLine
from orders.models import OrderRow, RowStatus
from orders.services import row_cancel, shipment_create
from tests.billing.factories import pay, place
from tests.catalog.factories import ProductFactory
from tests.helpers import receive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("global_settings")]


@pytest.fixture
def shop(settings, main):
    settings.BILLING_SHIPPING, settings.BILLING_FREE_SHIPPING_FROM = "4.90", ""
    settings.BILLING_TAX_RATE, settings.BILLING_PRICES_INCLUDE_TAX = "0.20", True
    shelf = ProductFactory(price=D("20.00"))
    receive(shelf, 10, main)
    later = ProductFactory(price=D("10.00"), backorderable=True)
    return settings, shelf, later


def settled(shop, main, capture_callbacks, mode):
    settings, shelf, later = shop
    settings.BILLING_SETTLEMENT = mode
    order = place([(shelf, 1), (later, 2)])
    with capture_callbacks(execute=True):
        pay(order, PaymentStatus.PREAUTH if mode == "per_shipment" else PaymentStatus.CONFIRMED)
        shipment_create(order=order, source=main)
        row_cancel(row_ids=[order.rows.get(status=RowStatus.BACKORDERED).pk], by_customer=True)
    return order


def run(*args):
    out = StringIO()
    call_command("reconcile_payments", *args, stdout=out)
    return out.getvalue()


def run_failing(*args) -> tuple[str, str]:
    """(the error, the report) of a run that exits non-zero."""
    out = StringIO()
    with pytest.raises(CommandError) as error:
        call_command("reconcile_payments", *args, stdout=out)
    return str(error.value), out.getvalue()


@pytest.fixture
def orders(shop, main, django_capture_on_commit_callbacks):
    return {
        mode: settled(shop, main, django_capture_on_commit_callbacks, mode)
        for mode in ("per_shipment", "at_checkout")
    }


def test_a_settled_shop_reconciles(orders):
    assert "0 order(s) break an invariant; 0 entr(y/ies) not settled yet." in run("--strict")


def test_a_shipment_captured_for_the_wrong_amount_is_named(orders):
    order = orders["per_shipment"]
    LedgerEntry.objects.filter(order=order, kind=EntryKind.CAPTURE).update(amount=D("20.00"))
    with pytest.raises(CommandError, match=order.number) as error:
        run()
    assert orders["at_checkout"].number not in str(error.value)


def test_a_prepaid_row_cancelled_without_its_refund_is_named(orders):
    order = orders["at_checkout"]
    OrderRow.objects.filter(order=order, status=RowStatus.SHIPPED).update(status=RowStatus.CANCELLED)
    with pytest.raises(CommandError, match=order.number):
        run()


def test_a_capture_of_a_cancelled_row_and_an_over_refund_are_named_each(orders):
    per_shipment, prepaid = orders["per_shipment"], orders["at_checkout"]
    OrderRow.objects.filter(order=per_shipment, status=RowStatus.SHIPPED).update(status=RowStatus.CANCELLED)
    LedgerLine.objects.filter(entry__order=prepaid, entry__kind=EntryKind.REFUND).update(amount=D("25.00"))
    error, report = run_failing()
    assert per_shipment.number in error and prepaid.number in error
    assert f"BROKEN {per_shipment.number}: capture" in report and "charges cancelled row" in report
    assert f"BROKEN {prepaid.number}: refund" in report and "worth less" in report


def test_entries_not_settled_yet_fail_only_when_strict(orders):
    LedgerEntry.objects.filter(kind=EntryKind.CAPTURE, shipment__isnull=False).update(
        state="awaiting_payment"
    )
    assert "1 entr(y/ies) not settled yet" in run()
    with pytest.raises(CommandError, match="not settled"):
        run("--strict")
