"""Captures on PostgreSQL: two workers on one shipment capture once; a worker killed between
the provider's answer and our ledger write, rerun, captures once."""

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from billing import gateway
from billing.models import DummyGatewayCall, EntryState, LedgerEntry
from billing.services import entry_settle
from tests.billing.factories import shipped_with_capture_pending
from tests.threads import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def shipped_capture(settings, monkeypatch, main, global_settings):
    """A shipment whose capture intent is written and whose job has not run yet (ours to run)."""
    return shipped_with_capture_pending(settings, monkeypatch, main, 1)


def test_two_workers_settling_the_same_capture_call_the_provider_once(shipped_capture, monkeypatch):
    calls = []
    perform = gateway.perform

    def counted(entry):
        calls.append(entry.pk)
        return perform(entry)

    monkeypatch.setattr(gateway, "perform", counted)
    errors = []

    def worker():
        try:
            entry_settle(entry_id=shipped_capture.pk)
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    run_together(worker, 2)

    assert errors == []
    assert calls == [shipped_capture.pk]
    shipped_capture.refresh_from_db()
    assert (shipped_capture.state, shipped_capture.attempts) == (EntryState.SUCCEEDED, 1)
    assert list(DummyGatewayCall.objects.values_list("operation", "amount")) == [("capture", D("24.90"))]


CRASH = """
import os, django
django.setup()
from billing import services
def killed(*args, **kwargs):
    os._exit(9)  # the provider answered; the process dies before our ledger write
services._entry_record = killed
services.entry_settle(entry_id={entry_id})
"""


def test_a_worker_killed_after_the_provider_answered_captures_once_when_rerun(shipped_capture):
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH.format(entry_id=shipped_capture.pk)], cwd=ROOT, env=env, timeout=120
    )
    assert crashed.returncode == 9
    shipped_capture.refresh_from_db()
    assert shipped_capture.state == EntryState.PENDING  # our write never happened
    assert DummyGatewayCall.objects.filter(operation="capture").count() == 1  # the provider's did

    # The job comes back (acks_late) while the dead worker's claim still holds: nothing to do.
    entry_settle(entry_id=shipped_capture.pk)
    assert DummyGatewayCall.objects.count() == 1
    # ...and after the claim ran out: the provider answers the same key with its first answer.
    later = timezone.now() + dt.timedelta(seconds=settings.BILLING_CLAIM_SECONDS + 1)
    entry_settle(entry_id=shipped_capture.pk, now=later)

    shipped_capture.refresh_from_db()
    call = DummyGatewayCall.objects.get()
    assert (shipped_capture.state, shipped_capture.provider_reference) == (
        EntryState.SUCCEEDED,
        call.reference,
    )
    assert call.amount == D("24.90")


def test_a_provider_without_idempotency_keys_is_not_called_twice(shipped_capture, settings, monkeypatch):
    settings.PAYMENT_VARIANTS = {**settings.PAYMENT_VARIANTS, "plain": ("payments.dummy.DummyProvider", {})}
    shipped_capture.payment.variant = "plain"
    shipped_capture.payment.save()
    LedgerEntry.objects.filter(pk=shipped_capture.pk).update(attempts=1, claimed_until=timezone.now())
    calls = []
    monkeypatch.setattr(gateway, "perform", lambda entry: calls.append(entry.pk))

    entry = entry_settle(entry_id=shipped_capture.pk)

    assert calls == []
    assert entry.state == EntryState.UNKNOWN and "check with the provider" in entry.error
