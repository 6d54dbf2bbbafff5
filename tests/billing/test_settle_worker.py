"""Real Celery workers on Redis and PostgreSQL: the capture job handed to two workers at once
(a redelivery, a sweep beside the after-commit send) captures once."""

from decimal import Decimal as D

import pytest

from billing.models import DummyGatewayCall, EntryState
from billing.tasks import settle_entry
from tests.billing.factories import shipped_with_capture_pending
from tests.workers import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
TASK = "billing.tasks.settle_entry"


def test_two_workers_given_the_same_capture_job_capture_once(
    celery_workers, settings, monkeypatch, main, global_settings
):
    capture = shipped_with_capture_pending(settings, monkeypatch, main, 2)  # its job is sent below

    workers = [celery_workers.worker(), celery_workers.worker()]
    for _ in range(4):
        settle_entry.delay(capture.pk)

    wait_until(
        lambda: sum(len(w.results(TASK)) for w in workers) == 4, timeout=60, what="four settle jobs to finish"
    )
    capture.refresh_from_db()
    assert capture.state == EntryState.SUCCEEDED
    assert list(DummyGatewayCall.objects.values_list("operation", "amount")) == [("capture", D("44.90"))]
    assert all(w.received(TASK) for w in workers), "each worker took some of the jobs"
