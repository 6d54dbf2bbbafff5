"""Refunds on PostgreSQL: a worker killed between the provider's refund answer and our ledger
write, rerun, refunds once (the same proof as the capture's in test_settle_concurrency)."""

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from payments import PaymentStatus

from billing.models import DummyGatewayCall, EntryKind, EntryState, LedgerEntry
from billing.services import entry_settle
from orders.models import RowStatus
from orders.services import row_cancel
from tests.billing.factories import pay, place
from tests.catalog.factories import ProductFactory
from tests.helpers import receive

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
# A worker whose provider call goes through and which dies before recording the answer.
CRASH = """
import os, django
django.setup()
from billing import services
services._entry_record = lambda *args, **kwargs: os._exit(9)
services.entry_settle(entry_id={entry_id})
"""


@pytest.fixture
def pending_refund(settings, monkeypatch, main, global_settings):
    """A prepaid order whose backordered row the customer cancelled: the refund intent is
    written and its job has not run yet."""
    settings.BILLING_CURRENCY, settings.BILLING_SETTLEMENT = "EUR", "at_checkout"
    settings.BILLING_SHIPPING, settings.BILLING_FREE_SHIPPING_FROM = "4.90", ""
    settings.BILLING_TAX_RATE, settings.BILLING_PRICES_INCLUDE_TAX = "0.20", True
    monkeypatch.setattr("billing.tasks.enqueue_settle", lambda entry_id: None)  # the job is ours to run
    product = ProductFactory(price=D("20.00"), notify=True)
    receive(product, 1, main)
    order = place([(product, 2)])
    assert pay(order, PaymentStatus.CONFIRMED).status == PaymentStatus.CONFIRMED
    waiting = order.rows.get(status=RowStatus.BACKORDERED)
    row_cancel(row_ids=[waiting.pk], by_customer=True)
    return LedgerEntry.objects.get(order=order, kind=EntryKind.REFUND)


def test_a_worker_killed_after_the_provider_refunded_refunds_once_when_rerun(pending_refund):
    assert (pending_refund.state, pending_refund.amount) == (EntryState.PENDING, D("20.00"))
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH.format(entry_id=pending_refund.pk)], cwd=ROOT, env=env, timeout=120
    )
    assert crashed.returncode == 9
    pending_refund.refresh_from_db()
    assert pending_refund.state == EntryState.PENDING  # our write never happened
    assert list(DummyGatewayCall.objects.values_list("operation", "amount")) == [("refund", D("20.00"))]

    # The job comes back while the dead worker's claim still holds: nothing to do.
    entry_settle(entry_id=pending_refund.pk)
    assert DummyGatewayCall.objects.count() == 1
    # After the claim ran out: the provider answers the same key with its first answer.
    later = timezone.now() + dt.timedelta(seconds=settings.BILLING_CLAIM_SECONDS + 1)
    entry_settle(entry_id=pending_refund.pk, now=later)

    pending_refund.refresh_from_db()
    call = DummyGatewayCall.objects.get()
    assert (call.operation, call.amount) == ("refund", D("20.00"))
    assert (pending_refund.state, pending_refund.provider_reference, pending_refund.attempts) == (
        EntryState.SUCCEEDED,
        call.reference,
        2,
    )
    assert LedgerEntry.objects.filter(kind=EntryKind.REFUND).count() == 1
