"""Password reset through the outbox: a mail server that is down or stalled neither loses
the email nor holds the request; the link in the email sets a new password; requests are
rate-limited per address and per client, with the same answer whatever happened."""

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from notifications.events import emails_send_batch
from notifications.models import OutboxMessage, OutboxStatus
from storefront.views.accounts import RESET_RATE_PER_ADDRESS, RESET_RATE_PER_CLIENT
from tests.helpers import purge_broker, without_csrf_tokens
from tests.notifications.smtp import SmtpSink
from tests.orders.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager", "fresh_rate_limits")]

RESET = reverse("password_reset")
DONE = reverse("password_reset_done")
PER_ADDRESS = int(RESET_RATE_PER_ADDRESS.split("/")[0])
PER_CLIENT = int(RESET_RATE_PER_CLIENT.split("/")[0])


@pytest.fixture
def sink(settings):
    """A real SMTP server this process sends to, not started: the mail server is down
    (unlike tests/notifications' sink, which listens)."""
    server = SmtpSink()
    for name, value in server.django_settings().items():
        setattr(settings, name, value)
    yield server
    server.stop()


def ask(client, email, ip="10.0.0.1"):
    return client.post(RESET, {"email": email}, REMOTE_ADDR=ip)


def resets():
    return OutboxMessage.objects.filter(kind="password_reset")


def make_due():
    OutboxMessage.objects.update(next_attempt_at=timezone.now())


def reset_path(text: str) -> str:
    match = re.search(r"https?://\S+/accounts/reset/\S+/", text)
    assert match, text
    return urlsplit(match.group(0)).path


def test_mail_server_down_keeps_the_email_in_the_outbox_and_sends_it_later(client, ada, sink):
    response = ask(client, "ada@example.com")  # nothing listens on the sink's port
    assert response.status_code == 302 and response.url == DONE
    (message,) = resets()
    assert (message.status, message.to_email) == (OutboxStatus.PENDING, "ada@example.com")

    assert emails_send_batch().retried == 1  # the sweep tries while the server is down
    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING and "Connection refused" in message.last_error

    sink.start()
    make_due()
    assert emails_send_batch().sent == 1
    (received,) = sink.to("ada@example.com")
    assert received.subject == "Reset your Restock password"
    assert reset_path(received.text) == reset_path(received.html)


@pytest.mark.redis
def test_a_stalled_mail_server_does_not_hold_the_request(
    client, ada, sink, live_broker, broker_client, django_capture_on_commit_callbacks
):
    """After commit the request only queues the send job on the broker (no worker here)."""
    sink.start()
    sink.stall_after(0)  # the server takes the connection but never answers the DATA
    purge_broker(broker_client)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = ask(client, "ada@example.com")
        assert response.status_code == 302 and response.url == DONE
        assert not sink.held.is_set()  # the request never reached the server
        assert resets().get().status == OutboxStatus.PENDING
        assert broker_client.llen("celery") == 1  # the send job waits for a worker
    finally:
        sink.release()
        purge_broker(broker_client)


def test_the_link_in_the_email_sets_a_new_password(client, ada, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the send job runs in-process
        ask(client, "ada@example.com")
    (email,) = mail.outbox
    assert email.to == ["ada@example.com"]
    path = reset_path(email.body)
    html = email.alternatives[0][0]
    assert path in html

    form_page = client.get(path, follow=True)
    assert form_page.status_code == 200
    assert "Choose a new password" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(
        set_url, {"new_password1": "a new long passphrase", "new_password2": "a new long passphrase"}
    )
    assert done.status_code == 302 and done.url == reverse("password_reset_complete")

    fresh = Client()
    signed_in = fresh.post(reverse("login"), {"username": "ada", "password": "a new long passphrase"})
    assert signed_in.status_code == 302
    # The link works once.
    again = client.get(path, follow=True).content.decode()
    assert "This link has expired" in again


def test_thirty_requests_for_one_address_send_at_most_its_limit(ada):
    answers = [ask(Client(), "Ada@Example.com ", ip=f"10.0.1.{n}") for n in range(30)]
    assert {(a.status_code, a.url) for a in answers} == {(302, DONE)}  # the same answer every time
    assert resets().count() == PER_ADDRESS == 3


def test_one_client_asking_for_many_addresses_is_limited():
    for n in range(PER_CLIENT + 5):
        UserFactory(username=f"user{n}", email=f"user{n}@example.com")
    client = Client()
    answers = [ask(client, f"user{n}@example.com", ip="10.0.0.66") for n in range(PER_CLIENT + 5)]
    assert {(a.status_code, a.url) for a in answers} == {(302, DONE)}
    assert resets().count() == PER_CLIENT == 20


def test_the_same_answer_whether_or_not_an_account_uses_the_address(client, ada):
    known = client.post(RESET, {"email": "ada@example.com"}, follow=True)
    unknown = client.post(RESET, {"email": "nobody@example.com"}, follow=True)
    assert known.redirect_chain == unknown.redirect_chain == [(DONE, 302)]
    assert without_csrf_tokens(known.content) == without_csrf_tokens(unknown.content)
    assert list(resets().values_list("to_email", flat=True)) == ["ada@example.com"]


def test_an_invalid_address_is_refused_on_the_form(client):
    response = client.post(RESET, {"email": "ada@example.com\nBcc: x@example.com"})
    assert response.status_code == 200
    assert "An email address cannot contain a line break." in response.content.decode()
    assert not resets().exists()
