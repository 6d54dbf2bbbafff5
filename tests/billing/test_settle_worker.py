"""Real Celery workers on Redis and PostgreSQL: the capture job handed to two workers at once
(a redelivery, a sweep beside the after-commit send) captures once."""

from decimal import Decimal as D

import pytest
from payments import PaymentStatus

from billing.models import DummyGatewayCall, EntryKind, EntryState, LedgerEntry
from billing.services import payment_status_changed
from billing.tasks import settle_entry
from orders.services import shipment_create
from tests.billing.factories import place
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.workers import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
TASK = "billing.tasks.settle_entry"


def test_two_workers_given_the_same_capture_job_capture_once(
    celery_workers, settings, monkeypatch, main, global_settings
):
    settings.BILLING_SETTLEMENT, settings.BILLING_SHIPPING, settings.BILLING_FREE_SHIPPING_FROM = (
        "per_shipment",
        "4.90",
        "",
    )
    monkeypatch.setattr("billing.tasks.enqueue_settle", lambda entry_id: None)  # sent below, twice
    product = ProductFactory(price=D("20.00"))
    receive(product, 2, main)
    order = place([(product, 2)])
    payment = order.payments.create(variant="dummy", currency="EUR", total=D("44.90"))
    payment.status = PaymentStatus.PREAUTH
    payment.save()
    payment_status_changed(payment_id=payment.pk)
    shipment_create(order=order, source=main)
    capture = LedgerEntry.objects.get(kind=EntryKind.CAPTURE)

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
