"""A burst of checkouts queues the send job once, and every email still goes out once
(notifications.receivers.send_outbox, issue 12).

Nothing is mocked: the checkouts and payments run in the test process, the send job is
published to the test Redis, a real `celery -A config worker` sends over SMTP to an
aiosmtpd sink. What is published is counted with Celery's own before_task_publish
signal, sent for each message handed to the broker.
"""

import time

import pytest
from celery.signals import before_task_publish

from notifications.models import OutboxMessage, OutboxStatus
from orders.services import CartLine, Customer, checkout_place_order
from tests.billing.factories import pay
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.inventory.factories import SourceFactory
from tests.workers import wait_until

from .smtp import WORKER_SETTINGS

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SEND = "notifications.tasks.send_outbox"
WINDOW = 8.0  # seconds; the burst below takes well under it, even on a busy machine
BURST = 8
DELIVERY_TIMEOUT = WINDOW + 30


@pytest.fixture
def published():
    """The names of the tasks handed to the broker during the test, in order."""
    names: list[str] = []

    def heard(sender=None, **kwargs):
        names.append(sender)

    before_task_publish.connect(heard, weak=False)
    yield names
    before_task_publish.disconnect(heard)


def all_sent() -> bool:
    return set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.SENT}


def place_and_pay(product, n: int):
    customer = Customer(email=f"c{n}@example.com", full_name=f"Customer {n}", address="1 Way")
    order = checkout_place_order(lines=[CartLine(product.pk, 1)], customer=customer)
    pay(order)  # the confirmation goes out once paid: a second announcement per order
    return order


def test_a_burst_of_checkouts_queues_the_send_job_once_and_every_email_goes_out_once(
    settings, celery_workers, sink, published
):
    settings.OUTBOX_SEND_WINDOW_SECONDS = WINDOW
    celery_workers.worker(DJANGO_SETTINGS_MODULE=WORKER_SETTINGS, EMAIL_URL=sink.url)
    product = ProductFactory(name="Brass Lamp")
    receive(product, 100, SourceFactory(code="main"))

    started = time.monotonic()
    orders = [place_and_pay(product, n) for n in range(BURST)]
    took = time.monotonic() - started
    assert took < WINDOW, f"the burst took {took:.1f} s, longer than the {WINDOW} s window"
    # 16 announcements (a note per checkout, a payment per order): one job queued.
    assert published.count(SEND) == 1

    wait_until(all_sent, timeout=DELIVERY_TIMEOUT, what="the one send job to send the burst's emails")
    outbox = list(OutboxMessage.objects.all())
    sink.wait_for(len(outbox), timeout=5)
    assert sorted(sink.count_by_message_id().values()) == [1] * len(outbox)  # each once
    assert {m.subject for m in sink.messages()} == {f"Your Restock order {o.number}" for o in orders}

    # The window is over: the next order queues a job of its own (nothing waits for beat).
    later = place_and_pay(product, BURST)
    assert published.count(SEND) == 2
    wait_until(all_sent, timeout=DELIVERY_TIMEOUT, what="the next send job")
    sink.wait_for(BURST + 1, timeout=5)
    assert sorted(sink.count_by_message_id().values()) == [1] * (BURST + 1)
    assert [m.subject for m in sink.to("c8@example.com")] == [f"Your Restock order {later.number}"]
