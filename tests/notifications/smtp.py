"""A real SMTP server for tests: an aiosmtpd sink on 127.0.0.1 in a thread.

``SmtpSink`` records every message it accepts (parsed with the ``email`` package), and
can be told to misbehave the way mail servers do:

* ``refuse(at="RCPT" | "DATA")``: answer ``451 4.3.0 Try again later`` (a temporary
  failure) to that command until ``accept()``;
* ``stall_after(n)``: once ``n`` messages are accepted, hold the next one's DATA without
  answering until ``release()``. The server has the whole message but has not said
  250, so it has not accepted it. A client that disconnects while held (a killed
  worker) leaves the message in ``dropped``, never in ``received``;
* ``stop()`` / ``start()``: the server is down (connection refused) and back, on the
  same port.

Used in-process (``sink.django_settings()`` for pytest-django's ``settings``) and by
real Celery workers (``sink.url`` as their EMAIL_URL, with ``WORKER_SETTINGS``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from aiosmtpd.controller import Controller

logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO

# Settings module for worker processes: the test settings, but mail goes over SMTP to EMAIL_URL.
WORKER_SETTINGS = "tests.notifications.smtp_settings"
TEMPORARY_FAILURE = "451 4.3.0 Try again later"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Received:
    """One message the sink accepted (answered 250 to its DATA)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes

    @property
    def to(self) -> str:
        return str(self.message["To"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"]).strip()

    def part(self, content_type: str) -> str:
        body = self.message.get_body(preferencelist=(content_type.split("/", 1)[1],))
        if body is None or body.get_content_type() != content_type:
            raise AssertionError(f"no {content_type} part in {self.subject!r}")
        return body.get_content()

    @property
    def text(self) -> str:
        return self.part("text/plain")

    @property
    def html(self) -> str:
        return self.part("text/html")


def parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)


class _Handler:
    """aiosmtpd hooks; runs on the sink's event loop thread."""

    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.sink._refusing == "RCPT":
            self.sink._note_refused("RCPT")
            return self.sink._refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        sink = self.sink
        raw = envelope.original_content or envelope.content
        if sink._refusing == "DATA":
            sink._note_refused("DATA")
            return sink._refusal
        if sink._should_stall():
            sink.held.set()
            try:
                while sink._stalling:
                    await asyncio.sleep(0.02)
            except asyncio.CancelledError:
                # The client went away (or the sink stopped) before we answered: not accepted.
                with sink._lock:
                    sink.dropped.append(parse(raw))
                raise
            finally:
                sink.held.clear()
        with sink._lock:
            sink.received.append(
                Received(
                    mail_from=envelope.mail_from,
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    message=parse(raw),
                    raw=raw,
                )
            )
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(self, host: str = "127.0.0.1", port: int | None = None):
        self.host = host
        self.port = port or free_port(host)
        self.received: list[Received] = []
        self.dropped: list[EmailMessage] = []  # held DATA whose client left before our answer
        self.refused: Counter[str] = Counter()  # commands answered with a refusal
        self.held = threading.Event()  # set while a DATA is stalled
        self._lock = threading.Lock()
        self._handler = _Handler(self)
        self._controller: Controller | None = None
        self._refusing: str | None = None
        self._refusal = TEMPORARY_FAILURE
        self._stall_after: int | None = None
        self._stalling = False

    # -- lifecycle --

    def start(self) -> SmtpSink:
        assert self._controller is None, "sink already running"
        # A fresh controller each time (its event loop is closed by stop()).
        self._controller = Controller(self._handler, hostname=self.host, port=self.port, ready_timeout=10)
        self._controller.start()
        return self

    def stop(self) -> None:
        self._stalling = False
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def django_settings(self) -> dict:
        """Settings that make this process's Django send over SMTP to the sink."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": self.host,
            "EMAIL_PORT": self.port,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_USE_TLS": False,
            "EMAIL_USE_SSL": False,
            "EMAIL_TIMEOUT": 10,
        }

    # -- misbehaviour switches --

    def refuse(self, *, at: str = "RCPT", reply: str = TEMPORARY_FAILURE) -> None:
        assert at in ("RCPT", "DATA"), at
        self._refusal, self._refusing = reply, at

    def accept(self) -> None:
        self._refusing = None

    def stall_after(self, accepted: int) -> None:
        """Hold the DATA of the message that follows the ``accepted``-th accepted one."""
        self._stall_after, self._stalling = accepted, True

    def release(self) -> None:
        self._stalling = False
        self._stall_after = None

    def _should_stall(self) -> bool:
        if not self._stalling or self._stall_after is None:
            return False
        with self._lock:
            return len(self.received) >= self._stall_after

    def _note_refused(self, command: str) -> None:
        with self._lock:
            self.refused[command] += 1

    # -- what arrived --

    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def count_by_message_id(self) -> Counter[str]:
        return Counter(m.message_id for m in self.messages())

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages() if address in m.rcpt_tos]

    def wait_for(self, count: int, *, timeout: float) -> list[Received]:
        """Wait until at least ``count`` messages were accepted; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the sink received {len(self.received)} of {count} messages in {timeout}s"
                )
            time.sleep(0.05)
        return self.messages()

    def wait_until(self, predicate, *, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.05)
        return value
