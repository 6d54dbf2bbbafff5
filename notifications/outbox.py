"""The outbox: messages are written with the event that causes them, then sent.

The bottom of notifications: the emails (events, waitlist, accounts) decide what to
write and call outbox_write; after commit the outbox announces ``messages_written``,
and receivers.py queues the send job (tasks.send_outbox). It imports neither.

Sending claims a batch (FOR UPDATE SKIP LOCKED, then a lease), so two workers
never send the same message. Each message is marked sent as soon as the mail
server accepts it; a failure is retried later with backoff and jitter, up to
OUTBOX_MAX_ATTEMPTS, then marked failed with the error.
"""

import datetime as dt
import logging
import random
import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.dispatch import Signal
from django.template.loader import render_to_string
from django.utils import timezone, translation

from orders.models import Order

from .exceptions import HeaderInjection
from .models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)  # a claim older than this was a dead worker's

# Sent after commit when there is something to send (messages, or order notes the send
# job renders into messages); receivers.py queues the send job.
messages_written = Signal()


def _check_header(field: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        raise HeaderInjection(field=field, value=value)
    return value


@dataclass(frozen=True)
class Attachment:
    filename: str
    mimetype: str
    content: str  # text (a CSV...): kept in the message row, so it is sent exactly as written

    def as_json(self) -> dict:
        return {
            "filename": _check_header("filename", self.filename),
            "mimetype": self.mimetype,
            "content": self.content,
        }


def outbox_message(
    *,
    kind: str,
    key: str,
    to: str,
    context: dict,
    language: str,
    attachments: tuple[Attachment, ...] = (),
) -> OutboxMessage:
    """Render templates/notifications/<kind>{_subject.txt,.txt,.html} into an unsaved message,
    in `language` (with its dates and money): the order's or subscriber's for a customer,
    settings.ADMIN_LANGUAGE_CODE for the merchant or a supplier. Required, so no email takes
    whatever language the request or job happens to run in."""
    _check_header("recipient", to)
    context = {"site_url": settings.SITE_URL, **context}
    with translation.override(language):
        subject = render_to_string(f"notifications/{kind}_subject.txt", context).strip()
        body_text = render_to_string(f"notifications/{kind}.txt", context)
        body_html = render_to_string(f"notifications/{kind}.html", context)
    order = context.get("order")
    return OutboxMessage(
        key=f"{kind}:{key}:{to.lower()}"[:200],
        kind=kind,
        # the order's communication log (admin) lists the emails about it
        order_id=order.pk if isinstance(order, Order) else None,
        to_email=to,
        subject=_check_header("subject", subject),
        body_text=body_text,
        body_html=body_html,
        attachments=[attachment.as_json() for attachment in attachments],
    )


def outbox_write(*, messages: list[OutboxMessage]) -> None:
    """Save messages in the caller's transaction; a key seen before is ignored.

    After commit the send job is queued (outbox_announce); if the broker is down the
    periodic send picks the messages up later, and the request does not fail.
    """
    if not messages:
        return
    OutboxMessage.objects.bulk_create(messages, ignore_conflicts=True)
    outbox_announce()


def outbox_announce() -> None:
    """After the caller's commit, announce messages_written (the send job is queued)."""
    # A named function, not a functools.partial: when a robust callback raises, Django
    # logs func.__qualname__, which a partial lacks, and the AttributeError would escape
    # the commit (the order is placed but the request fails). Looked up at each call:
    # tests and benches swap it.
    transaction.on_commit(_announce, robust=True)


def _announce() -> None:
    messages_written.send(sender=OutboxMessage)


@dataclass
class SendResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


def _backoff(attempts: int) -> dt.timedelta:
    base = settings.OUTBOX_RETRY_SECONDS * 2 ** max(0, attempts - 1)
    seconds = min(base, settings.OUTBOX_RETRY_MAX_SECONDS)
    return dt.timedelta(seconds=seconds * random.uniform(0.5, 1.5))  # jitter spreads retries  # noqa: S311


def _claim(batch_size: int, now: dt.datetime) -> list[OutboxMessage]:
    with transaction.atomic():
        due = Q(status=OutboxStatus.PENDING, next_attempt_at__lte=now) | Q(
            status=OutboxStatus.SENDING, claimed_until__lt=now
        )
        rows = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(due)
            .order_by("next_attempt_at", "pk")[:batch_size]
        )
        if rows:
            OutboxMessage.objects.filter(pk__in=[r.pk for r in rows]).update(
                status=OutboxStatus.SENDING, claimed_until=now + LEASE, attempts=F("attempts") + 1
            )
    for row in rows:
        row.attempts += 1
    return rows


def _failed(message: OutboxMessage, error: Exception, now: dt.datetime) -> str:
    final = message.attempts >= settings.OUTBOX_MAX_ATTEMPTS
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxStatus.FAILED if final else OutboxStatus.PENDING,
        next_attempt_at=now + _backoff(message.attempts),
        claimed_until=None,
        last_error=f"{type(error).__name__}: {error}"[:2000],
    )
    return "failed" if final else "retried"


def outbox_send_batch(*, batch_size: int = 100) -> SendResult:
    """Send one batch of due messages over one mail connection."""
    now = timezone.now()
    result = SendResult()
    rows = _claim(batch_size, now)
    if not rows:
        return result
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
    except (smtplib.SMTPException, OSError) as exc:
        for message in rows:
            result.add(_failed(message, exc, now))
        return result
    # Stop well inside the lease (each send is bounded by EMAIL_TIMEOUT), so no other
    # worker can take over a message this one is still sending.
    deadline = now + LEASE / 2
    try:
        for index, message in enumerate(rows):
            if timezone.now() > deadline:
                _release([m.pk for m in rows[index:]])
                break
            email = EmailMultiAlternatives(
                subject=message.subject,
                body=message.body_text,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[message.to_email],
                headers={"Message-ID": message.message_id},
                connection=connection,
            )
            if message.body_html:
                email.attach_alternative(message.body_html, "text/html")
            for attachment in message.attachments:
                email.attach(attachment["filename"], attachment["content"], attachment["mimetype"])
            try:
                email.send()
            except (smtplib.SMTPException, OSError) as exc:
                result.add(_failed(message, exc, now))
                continue
            # Marked right away: a crash can resend at most this one message.
            OutboxMessage.objects.filter(pk=message.pk).update(
                status=OutboxStatus.SENT, sent_at=timezone.now(), claimed_until=None, last_error=""
            )
            result.add("sent")
    finally:
        connection.close()
    return result


def _release(message_ids: list[int]) -> None:
    """Give claimed but unsent messages back to the queue, their attempt not counted."""
    OutboxMessage.objects.filter(pk__in=message_ids, status=OutboxStatus.SENDING).update(
        status=OutboxStatus.PENDING, claimed_until=None, attempts=F("attempts") - 1
    )


def outbox_retry(*, message_ids: list[int]) -> int:
    """Merchant's "retry": failed messages go back to the queue with fresh attempts."""
    return OutboxMessage.objects.filter(pk__in=message_ids, status=OutboxStatus.FAILED).update(
        status=OutboxStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
    )
