"""Outbox faults against a real SMTP server (aiosmtpd sink), real workers and real Redis.

Each test ends with exactly one delivered message per outbox row, none missing: the
sink counts what it accepted by Message-ID, which the outbox makes stable per row.

* the send task killed mid-batch (SIGKILL of the worker's process group) and rerun;
* the mail server refusing for a while (451 to RCPT or DATA, or not listening);
* Redis stopped while customers check out, then restarted (a private redis-server on
  its own port: the machine's shared Redis is never touched);
* a rolled-back checkout sends nothing.
"""

import datetime as dt
import logging
import shutil
import subprocess
import time
from collections import Counter

import pytest
from django.db import transaction
from django.utils import timezone

from notifications.events import emails_send_batch
from notifications.models import OrderPlacedNote, OutboxMessage, OutboxStatus
from notifications.outbox import outbox_write
from notifications.receivers import send_window_forget
from notifications.tasks import send_outbox
from orders.models import Order
from orders.services import CartLine, Customer, checkout_place_order
from tests.billing.factories import pay
from tests.catalog.factories import ProductFactory
from tests.conftest import CI
from tests.helpers import celery_publishing
from tests.inventory.factories import SourceFactory
from tests.workers import wait_until

from .smtp import WORKER_SETTINGS, SmtpSink, free_port

DELIVERY_TIMEOUT = 30.0


def message(n: int) -> OutboxMessage:
    return OutboxMessage(
        key=f"fault:{n}:c{n}@example.com",
        kind="fault",
        to_email=f"c{n}@example.com",
        subject=f"Message {n}",
        body_text=f"Plain {n}",
        body_html=f"<p>Html {n}</p>",
    )


def outbox_rows() -> list[OutboxMessage]:
    return list(OutboxMessage.objects.order_by("pk"))


def all_sent() -> bool:
    return set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.SENT}


def assert_each_delivered_once(sink: SmtpSink) -> None:
    """One accepted message per outbox row, none missing, none extra; every row "sent"."""
    rows = outbox_rows()
    assert rows, "no outbox rows"
    assert {row.status for row in rows} == {OutboxStatus.SENT}
    assert sink.count_by_message_id() == Counter({row.message_id: 1 for row in rows})
    by_id = {m.message_id: m for m in sink.messages()}
    assert all(by_id[row.message_id].rcpt_tos == (row.to_email,) for row in rows)


def place(product, n: int, quantity: int = 1):
    customer = Customer(email=f"c{n}@example.com", full_name=f"Customer {n}", address="1 Queue Street")
    return checkout_place_order(lines=[CartLine(product.pk, quantity)], customer=customer)


# -- a. The send task killed mid-batch, then rerun. --------------------------------------------


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_send_task_killed_mid_batch_then_rerun_delivers_each_message_once(celery_workers, sink):
    with transaction.atomic():
        outbox_write(messages=[message(n) for n in range(1, 31)])
    rows = outbox_rows()
    assert len(rows) == 30
    # After commit send_outbox waits on Redis for a worker. The sink accepts nine messages
    # and holds the tenth's DATA: the worker is mid-batch, blocked on the server's reply.
    sink.stall_after(9)
    worker = celery_workers.worker(DJANGO_SETTINGS_MODULE=WORKER_SETTINGS, EMAIL_URL=sink.url)
    sink.wait_until(sink.held.is_set, timeout=DELIVERY_TIMEOUT, what="the worker to reach message 10")
    assert [m.message_id for m in sink.messages()] == [row.message_id for row in rows[:9]]

    worker.kill()  # SIGKILL the process group: no cleanup, no reply awaited

    # Why the in-flight message is not a duplicate here, and could be in general:
    # the worker marks a row sent right after the server's 250. A worker killed between
    # the end of DATA and that 250 (or between the 250 and its UPDATE) leaves the row
    # unsent although the server may already have taken the message: the rerun sends it
    # again. That window (at most one message per killed worker) cannot be closed from
    # the client side of SMTP; the stable Message-ID lets mail systems recognise the copy.
    # This test kills the worker while the sink holds DATA *without* having answered 250,
    # and the sink proves it: that message is in ``dropped`` (the connection closed before
    # any answer) and not among the accepted ones. So the honest expectation is exactly
    # one delivery of it, by the rerun.
    sink.wait_until(lambda: sink.dropped, timeout=10, what="the sink to see the killed client leave")
    assert [m["Message-ID"] for m in sink.dropped] == [rows[9].message_id]
    assert len(sink.messages()) == 9
    sink.release()

    states = Counter(OutboxMessage.objects.values_list("status", flat=True))
    assert states == {OutboxStatus.SENT: 9, OutboxStatus.SENDING: 21}  # 9 marked one by one
    # The dead worker's claim (a lease of 5 minutes) keeps the rest from anyone else...
    assert emails_send_batch().sent == 0
    # ...until it runs out: here at once instead of in 5 minutes.
    expired = OutboxMessage.objects.filter(status=OutboxStatus.SENDING).update(
        claimed_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert expired == 21

    celery_workers.worker(DJANGO_SETTINGS_MODULE=WORKER_SETTINGS, EMAIL_URL=sink.url)
    send_outbox.delay()  # as beat's sweep would (the killed job may also come back: harmless)

    wait_until(all_sent, timeout=DELIVERY_TIMEOUT, what="the rerun to send the rest")
    assert_each_delivered_once(sink)
    # Messages 1..9 went out in the first run, 10..30 in the rerun, in order.
    assert [m.message_id for m in sink.messages()] == [row.message_id for row in rows]
    attempts = dict(OutboxMessage.objects.values_list("pk", "attempts"))
    assert [attempts[row.pk] for row in rows] == [1] * 9 + [2] * 21


# -- b. The mail server refusing for a while. --------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("fault", ["451 to RCPT", "451 to DATA", "server down"])
def test_a_refusing_mail_server_delays_messages_with_backoff_and_loses_none(fault, sink, settings):
    for name, value in sink.django_settings().items():
        setattr(settings, name, value)
    settings.OUTBOX_RETRY_SECONDS = 30
    settings.OUTBOX_RETRY_MAX_SECONDS = 3600
    settings.OUTBOX_MAX_ATTEMPTS = 8
    outbox_write(messages=[message(n) for n in range(1, 6)])  # no commit here: nothing sends yet

    def break_server():
        if fault == "server down":
            sink.stop()
        else:
            sink.refuse(at=fault.rsplit(" ", 1)[1])

    def make_due():
        OutboxMessage.objects.update(next_attempt_at=timezone.now())

    break_server()
    for attempt, base in ((1, 30), (2, 60)):  # the backoff doubles
        before = timezone.now()
        result = emails_send_batch()
        assert (result.sent, result.retried, result.failed) == (0, 5, 0)
        rows = outbox_rows()
        assert {(row.status, row.attempts, row.claimed_until) for row in rows} == {
            (OutboxStatus.PENDING, attempt, None)
        }
        expected_error = "Connection refused" if fault == "server down" else "451"
        assert all(expected_error in row.last_error for row in rows), rows[0].last_error
        waits = [(row.next_attempt_at - before).total_seconds() for row in rows]
        assert all(base * 0.5 - 1 <= wait <= base * 1.5 + 1 for wait in waits), waits  # with jitter
        assert len(set(waits)) > 1  # the jitter spreads them
        # Not due yet: a sweep now sends nothing and does not even try the server.
        refused = sum(sink.refused.values())
        assert emails_send_batch().sent + emails_send_batch().retried == 0
        assert sum(sink.refused.values()) == refused
        make_due()
    assert sink.messages() == []
    if fault == "server down":
        assert sink.refused == Counter()
    else:
        assert sink.refused[fault.rsplit(" ", 1)[1]] == 10  # every message, both attempts

    # The server is back and the backoff has passed: each message goes out once.
    if fault == "server down":
        sink.start()
    else:
        sink.accept()
    result = emails_send_batch()
    assert (result.sent, result.retried, result.failed) == (5, 0, 0)
    assert emails_send_batch().sent == 0
    assert_each_delivered_once(sink)
    assert {(row.attempts, row.last_error) for row in outbox_rows()} == {(3, "")}


# -- c. Redis stopped during checkouts, then restarted. ----------------------------------------


class PrivateRedis:
    """A redis-server of this test's own on a free port (no persistence): stop and start it
    at will without touching the Redis other tests and engineers share."""

    def __init__(self, folder):
        self.port, self.folder = free_port(), folder
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)

        def answers():
            try:
                return client.ping()
            except redis.ConnectionError:
                return False

        wait_until(answers, timeout=10, interval=0.05, what=f"redis-server on port {self.port}")
        client.close()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()  # as a crash: nothing saved
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def private_redis(tmp_path):
    if not shutil.which("redis-server"):
        reason = "needs redis-server on PATH to start a private broker"
        pytest.fail(reason) if CI else pytest.skip(reason)
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


CHECKOUT_LIMIT = 10.0  # seconds: a broker that is down must not hang a checkout


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_checkouts_succeed_while_redis_is_down_and_their_emails_go_out_once_it_is_back(
    celery_workers, sink, private_redis, caplog
):
    SourceFactory(code="main")
    product = ProductFactory(backorderable=True)
    with celery_publishing(broker_url=private_redis.url):
        first = place(product, 0)  # published to the private Redis (no worker yet)
        private_redis.stop()
        # Its send window ends (notifications.receivers.send_outbox): each checkout below
        # tries to publish, fails, and leaves the window open for the next to try.
        send_window_forget()

        orders, took = [first], []
        with caplog.at_level(logging.WARNING, logger="notifications.receivers"):
            for n in range(1, 4):
                started = time.monotonic()
                orders.append(place(product, n))  # after commit: send_outbox cannot be published
                took.append(time.monotonic() - started)
        assert all(seconds < CHECKOUT_LIMIT for seconds in took), took
        assert caplog.text.count("Broker unreachable; the outbox waits for the periodic send") == 3
        assert Order.objects.count() == 4
        for order in orders:
            pay(order)  # the confirmations go out once paid; the send job cannot be queued either
        # Each order left its note; its emails are rendered by the send job, and none ran.
        noted = set(OrderPlacedNote.objects.values_list("order__email", flat=True))
        assert noted == {f"c{n}@example.com" for n in range(4)}
        assert outbox_rows() == []

        # Redis comes back empty (no persistence): the one job that was published is lost
        # too. Nothing depends on it: beat's periodic send finds the pending rows.
        private_redis.start()
        on_private = {"CELERY_BROKER_URL": private_redis.url}
        celery_workers.worker(DJANGO_SETTINGS_MODULE=WORKER_SETTINGS, EMAIL_URL=sink.url, **on_private)
        beat = celery_workers.beat(
            OUTBOX_SWEEP_SECONDS="1",
            ALLOCATION_SWEEP_SECONDS="3600",
            PREORDER_RELEASE_SECONDS="3600",
            RESTOCK_IMPORT_SECONDS="3600",
            **on_private,
        )
        wait_until(all_sent, timeout=DELIVERY_TIMEOUT, what="beat's send_outbox to deliver the outbox")
    assert_each_delivered_once(sink)
    assert "notifications.tasks.send_outbox" in beat.output()
    assert {m.subject for m in sink.messages()} == {f"Your Restock order {o.number}" for o in orders}
    assert not OrderPlacedNote.objects.exists()


# -- d. A rolled-back transaction sends nothing. -----------------------------------------------


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_checkout_sends_nothing_through_a_real_worker(celery_workers, sink):
    SourceFactory(code="main")
    product = ProductFactory(notify=True)  # would mail the customer and the merchant
    celery_workers.worker(DJANGO_SETTINGS_MODULE=WORKER_SETTINGS, EMAIL_URL=sink.url)

    with pytest.raises(RuntimeError, match="payment declined"), transaction.atomic():
        doomed = place(product, 1, quantity=2)
        assert OrderPlacedNote.objects.filter(order=doomed).exists()  # its emails' note is written...
        raise RuntimeError("payment declined")  # ...and rolled back with the order

    assert Order.objects.count() == 0
    assert OutboxMessage.objects.count() == OrderPlacedNote.objects.count() == 0
    # Proof that the worker had its chance: a sweep, then a committed order behind it,
    # are both processed; only the committed order's messages arrive.
    send_outbox.delay()
    kept = place(product, 2, quantity=2)
    pay(kept)  # its emails go out once it is paid
    wait_until(lambda: all_sent() and len(sink.messages()) == 2, timeout=DELIVERY_TIMEOUT, what="delivery")
    time.sleep(0.5)  # nothing else trickles in
    assert_each_delivered_once(sink)
    assert all(kept.number in m.subject for m in sink.messages())
    assert not [m for m in sink.messages() if doomed.number in m.raw.decode(errors="replace")]
    assert not sink.to("c1@example.com")
