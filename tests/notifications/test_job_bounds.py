"""Every job ends well inside the broker's visibility timeout (a job still running when
it expires is handed out a second time): here the one whose length depends on someone
else, the outbox send against a slow mail server."""

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.utils import timezone

from config.celery_app import app
from notifications.models import OutboxMessage, OutboxStatus
from notifications.outbox import LEASE
from notifications.tasks import send_outbox
from tests.helpers import celery_publishing

pytestmark = pytest.mark.django_db

PER_MESSAGE = dt.timedelta(seconds=60)


class SlowServer(EmailBackend):
    """Takes each message, a minute of (travelled) time later."""

    traveller = None

    def send_messages(self, messages):
        SlowServer.traveller.shift(PER_MESSAGE * len(messages))
        return super().send_messages(messages)


def test_send_outbox_starts_no_batch_after_half_a_lease_and_leaves_the_rest_pending(settings):
    settings.EMAIL_BACKEND = f"{__name__}.SlowServer"
    settings.OUTBOX_BATCH_SIZE = 2
    OutboxMessage.objects.bulk_create(
        OutboxMessage(
            key=f"slow:{n}", kind="slow", to_email=f"c{n}@example.com", subject=f"{n}", body_text="x"
        )
        for n in range(20)
    )
    with (
        time_machine.travel(timezone.now(), tick=False) as traveller,
        celery_publishing(broker_url=app.conf.broker_url, eager=True),
    ):
        SlowServer.traveller = traveller
        started = timezone.now()
        result = send_outbox.delay().get()
        took = timezone.now() - started

    # Batch 1 (2 minutes) ends before LEASE/2; batch 2 starts then; batch 3 would start
    # after LEASE/2 and does not: the other 16 wait for the next run, untouched.
    assert LEASE / 2 < 2 * 2 * PER_MESSAGE <= LEASE
    assert result == {"sent": 4, "retried": 0, "failed": 0}
    assert took == 4 * PER_MESSAGE
    assert len(mail.outbox) == 4
    assert OutboxMessage.objects.filter(status=OutboxStatus.SENT).count() == 4
    assert OutboxMessage.objects.filter(status=OutboxStatus.PENDING, attempts=0).count() == 16
