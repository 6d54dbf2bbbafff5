"""Small helpers shared by tests."""

import re
from contextlib import contextmanager
from uuid import uuid4

from config.celery_app import app
from inventory.services import stock_receive

# The broker keys of the default queue and of kombu's "unacked" bookkeeping (redis transport).
BROKER_KEYS = ("celery", "unacked", "unacked_index", "unacked_mutex")


def receive(product, quantity: int, source, reference: str | None = None):
    """Put units on the shelf through the real service (ledger included)."""
    ref = reference or f"TEST-{uuid4().hex[:10]}"
    return stock_receive(source=source, product=product, quantity=quantity, reference=ref)


def staff_client(client, *perms: str, username: str = "clerk"):
    """Log ``client`` in as a staff user holding only the given permissions ("app.codename")."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(username, password="pw", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    client.force_login(user)
    return client


def _reset_producer_pools() -> None:
    # Celery caches its connection and producer pools for the first broker URL it used
    # (Celery._after_fork clears the same two attributes).
    app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None


@contextmanager
def celery_publishing(*, broker_url: str, eager: bool = False):
    """Point the test process's Celery app at ``broker_url``; restore it afterwards.

    Celery reads CELERY_BROKER_URL from the environment before its own conf, so the
    URL is set as the read and write URL (which take precedence) as well.
    """
    names = ("task_always_eager", "broker_url", "broker_read_url", "broker_write_url")
    before = {name: app.conf.get(name) for name in names}
    app.conf.update(
        task_always_eager=eager,
        broker_url=broker_url,
        broker_read_url=broker_url,
        broker_write_url=broker_url,
    )
    _reset_producer_pools()
    try:
        yield app
    finally:
        app.conf.update(before)
        _reset_producer_pools()


def purge_broker(client) -> None:
    """Empty the default queue and kombu's unacked bookkeeping left by earlier runs."""
    client.delete(*BROKER_KEYS)


def without_csrf_tokens(content: bytes | str) -> str:
    """A page with its CSRF tokens blanked: they differ on every render (the language
    switcher's form is on every page), and tell nothing about what was asked."""
    text = content.decode() if isinstance(content, bytes) else content
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', 'name="csrfmiddlewaretoken" value=""', text)
