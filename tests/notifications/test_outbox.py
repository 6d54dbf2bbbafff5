import datetime as dt

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import transaction
from django.utils import timezone

from notifications.events import emails_send_batch
from notifications.exceptions import HeaderInjection
from notifications.models import OutboxMessage, OutboxStatus
from notifications.outbox import outbox_retry, outbox_write
from tests.notifications.failing_backend import RefusingBackend

pytestmark = pytest.mark.django_db


def message(n: int, **fields) -> OutboxMessage:
    return OutboxMessage(
        key=f"test:{n}:c{n}@example.com",
        kind="test",
        to_email=f"c{n}@example.com",
        subject=f"Message {n}",
        body_text=f"Plain {n}",
        body_html=f"<p>Html {n}</p>",
        **fields,
    )


@pytest.fixture
def refusing(settings):
    settings.EMAIL_BACKEND = "tests.notifications.failing_backend.RefusingBackend"
    RefusingBackend.refuse, RefusingBackend.down = set(), False
    yield RefusingBackend
    RefusingBackend.refuse, RefusingBackend.down = set(), False


def test_pending_messages_are_sent_once_with_both_parts_and_a_stable_message_id():
    outbox_write(messages=[message(1), message(2)])
    result = emails_send_batch()
    assert (result.sent, result.retried, result.failed) == (2, 0, 0)
    assert [m.subject for m in mail.outbox] == ["Message 1", "Message 2"]
    first = mail.outbox[0]
    assert first.body == "Plain 1"
    assert first.alternatives[0][0] == "<p>Html 1</p>"
    row = OutboxMessage.objects.get(key="test:1:c1@example.com")
    assert first.extra_headers["Message-ID"] == row.message_id
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)
    assert row.sent_at is not None
    assert emails_send_batch().sent == 0
    assert len(mail.outbox) == 2


def test_the_same_key_is_written_once():
    outbox_write(messages=[message(1)])
    outbox_write(messages=[message(1), message(2)])
    assert OutboxMessage.objects.count() == 2


def test_a_rolled_back_transaction_writes_and_sends_nothing(django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        outbox_write(messages=[message(1)])
        raise RuntimeError("checkout failed")
    assert callbacks == []
    assert OutboxMessage.objects.count() == 0
    assert mail.outbox == []


def test_after_commit_the_send_job_runs(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        outbox_write(messages=[message(1)])
    assert [m.to for m in mail.outbox] == [["c1@example.com"]]


def test_a_refused_message_is_retried_later_with_backoff_and_the_rest_go_out(refusing, settings):
    settings.OUTBOX_RETRY_SECONDS = 30
    refusing.refuse = {"c2@example.com"}
    outbox_write(messages=[message(1), message(2), message(3)])
    before = timezone.now()

    result = emails_send_batch()

    assert (result.sent, result.retried) == (2, 1)
    row = OutboxMessage.objects.get(to_email="c2@example.com")
    assert row.status == OutboxStatus.PENDING
    assert "SMTPRecipientsRefused" in row.last_error
    # first retry: 30 s with +-50 % jitter
    assert before + dt.timedelta(seconds=14) < row.next_attempt_at < before + dt.timedelta(seconds=46)
    assert emails_send_batch().retried == 0  # not due yet
    assert len(mail.outbox) == 2


def test_server_down_loses_nothing_and_sends_once_it_is_back(refusing):
    refusing.down = True
    outbox_write(messages=[message(1), message(2)])
    assert emails_send_batch().retried == 2
    assert mail.outbox == []
    refusing.down = False
    OutboxMessage.objects.update(next_attempt_at=timezone.now())  # the backoff has passed
    assert emails_send_batch().sent == 2
    assert sorted(m.subject for m in mail.outbox) == ["Message 1", "Message 2"]


def test_after_the_last_attempt_a_message_is_failed_and_the_admin_can_retry_it(refusing, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    refusing.refuse = {"c1@example.com"}
    outbox_write(messages=[message(1)])
    assert emails_send_batch().retried == 1
    OutboxMessage.objects.update(next_attempt_at=timezone.now())
    assert emails_send_batch().failed == 1
    row = OutboxMessage.objects.get()
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 2)
    OutboxMessage.objects.update(next_attempt_at=timezone.now())
    assert emails_send_batch().failed == 0  # failed messages are not picked up again

    refusing.refuse = set()
    assert outbox_retry(message_ids=[row.pk]) == 1
    assert emails_send_batch().sent == 1
    row.refresh_from_db()
    assert (row.status, row.last_error) == (OutboxStatus.SENT, "")


def test_a_claimed_message_is_not_sent_by_another_worker_until_its_lease_expires():
    outbox_write(messages=[message(1)])
    OutboxMessage.objects.update(
        status=OutboxStatus.SENDING, claimed_until=timezone.now() + dt.timedelta(minutes=5)
    )
    assert emails_send_batch().sent == 0
    OutboxMessage.objects.update(claimed_until=timezone.now() - dt.timedelta(seconds=1))
    assert emails_send_batch().sent == 1  # the claimer died: its lease ran out


def test_header_injection_is_refused_with_a_clear_error():
    from notifications.outbox import outbox_message

    with pytest.raises(HeaderInjection, match="recipient .* contains a line break"):
        outbox_message(kind="x", key="1", to="a@example.com\nBcc: all@example.com", context={}, language="en")


@pytest.mark.parametrize("size", [1, 10, 40])
def test_queries_per_batch_are_two_plus_one_per_message(size, django_assert_num_queries):
    outbox_write(messages=[message(n) for n in range(size)])
    # any order notes to render? (none), any refund notes settled? (none), savepoint, claim
    # (select for update), lease update, release, then one "sent" per message
    with django_assert_num_queries(6 + size):
        assert emails_send_batch(batch_size=100).sent == size


class SlowBackend(EmailBackend):
    """A locmem backend whose every message takes ``per_message`` of the clock to send."""

    clock = None  # the test's time_machine
    per_message = dt.timedelta(0)

    def send_messages(self, messages):
        sent = super().send_messages(messages)
        SlowBackend.clock.shift(SlowBackend.per_message * len(messages))
        return sent


@pytest.fixture
def slow_mail(settings, time_machine):
    settings.EMAIL_BACKEND = "tests.notifications.test_outbox.SlowBackend"
    time_machine.move_to(dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC), tick=False)
    SlowBackend.clock = time_machine
    yield SlowBackend
    SlowBackend.clock, SlowBackend.per_message = None, dt.timedelta(0)


def test_a_batch_that_runs_long_gives_the_rest_back_before_its_lease_ends(slow_mail):
    from notifications.outbox import LEASE

    outbox_write(messages=[message(n) for n in range(3)])
    start = timezone.now()
    slow_mail.per_message = LEASE * 0.3  # the batch stops at half its lease: after two sends

    result = emails_send_batch()

    assert result.sent == 2
    sent = OutboxMessage.objects.filter(status=OutboxStatus.SENT).order_by("sent_at")
    assert [(m.to_email, m.sent_at) for m in sent] == [
        ("c0@example.com", start + LEASE * 0.3),
        ("c1@example.com", start + LEASE * 0.6),
    ]
    late = OutboxMessage.objects.get(status=OutboxStatus.PENDING)
    assert (late.to_email, late.attempts, late.claimed_until) == ("c2@example.com", 0, None)
    assert emails_send_batch().sent == 1  # given back, so the next batch sends it at once
    assert [m.to for m in mail.outbox] == [["c0@example.com"], ["c1@example.com"], ["c2@example.com"]]
