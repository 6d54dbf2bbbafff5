"""Shared fixtures and the rule for tests that need real services.

Tests marked ``postgres`` need PostgreSQL (row locks, concurrency), ``redis`` a
Redis broker, ``browser`` Debian's Chromium. Without them the test is skipped
with the reason; under CI=true a missing service fails the test instead.

The fixtures below are the ones tests of several apps share; an app's own are in
tests/<app>/conftest.py, its factories in tests/<app>/factories.py.
"""

import os
import shutil
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core.cache import cache

from catalog.models import GlobalSettings
from config.celery_app import app
from inventory.signals import stock_freed
from notifications.receivers import send_window_forget
from tests.helpers import celery_publishing, purge_broker
from tests.inventory.factories import SourceFactory
from tests.orders.factories import UserFactory
from tests.workers import CeleryProcesses

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), 1):
            return True
    except OSError:
        return False


def _missing(marker: str) -> str | None:
    """Why a service this marker needs is not here, or None when it is."""
    if marker == "postgres":
        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            return "needs PostgreSQL: set DATABASE_URL=postgres://... (SQLite ignores FOR UPDATE)"
    elif marker == "redis":
        url = settings.TEST_BROKER_URL
        if not url.startswith("redis"):
            return "needs Redis: set CELERY_BROKER_URL=redis://127.0.0.1:6379/0"
        if not _reachable(url, 6379):
            return f"needs Redis: nothing answers at {url}"
    elif marker == "browser" and not shutil.which(CHROMIUM):
        return f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
    elif marker == "gettext" and not (shutil.which("xgettext") and shutil.which("msgfmt")):
        return "needs GNU gettext's xgettext and msgfmt (apt-get install gettext)"
    return None


def pytest_runtest_setup(item):
    for marker in ("postgres", "redis", "browser", "gettext"):
        if item.get_closest_marker(marker) and (reason := _missing(marker)):
            if CI:
                pytest.fail(f"CI=true requires this test: {reason}", pytrace=False)
            pytest.skip(reason)


# -- Sources and people. --


@pytest.fixture
def main():
    return SourceFactory(code="main", name="Main warehouse", priority=1)


@pytest.fixture
def overflow():
    return SourceFactory(code="overflow", name="Overflow", priority=2)


@pytest.fixture
def sources(main, overflow):
    return main, overflow


@pytest.fixture
def source(main):
    """The one source of a test that needs only one."""
    return main


@pytest.fixture(scope="session")
def _media_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def media_root(settings, _media_dir):
    """Uploads (product pictures) go to a temporary folder, never the project's media/."""
    settings.MEDIA_ROOT = str(_media_dir)
    return _media_dir


@pytest.fixture
def ada():
    return UserFactory(username="ada", email="ada@example.com")


@pytest.fixture
def global_settings(db):
    return GlobalSettings.get_solo()  # created on first read: a live shop has it


@pytest.fixture
def heard_freed():
    """The product ids of each stock_freed announcement during the test, in order."""
    heard: list[list[int]] = []

    def listener(sender, product_ids, **kwargs):
        heard.append(product_ids)

    stock_freed.connect(listener)
    yield heard
    stock_freed.disconnect(listener)


# -- Celery and the cache. --


@pytest.fixture
def eager():
    """Tasks run in-process, whatever CELERY_TASK_ALWAYS_EAGER says."""
    with celery_publishing(broker_url=app.conf.broker_url, eager=True):
        yield


@pytest.fixture
def live_broker():
    """Tasks sent by this test go to the test broker (a real worker runs them)."""
    # An earlier test's send job (coalesced per burst, notifications.receivers.send_outbox)
    # was purged with its broker: this test's first email must queue its own.
    send_window_forget()
    with celery_publishing(broker_url=settings.TEST_BROKER_URL, eager=False):
        yield settings.TEST_BROKER_URL
    send_window_forget()


@pytest.fixture
def broker_client(live_broker):
    """A plain Redis client on the test broker's database (to look at the queues)."""
    import redis

    client = redis.Redis.from_url(live_broker, socket_connect_timeout=2, socket_timeout=5)
    yield client
    client.close()


@pytest.fixture
def fresh_rate_limits():
    """The rate-limit counters live in the cache: the test starts (and leaves) it empty."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def celery_workers(request, transactional_db, live_broker, broker_client, tmp_path):
    """Start real Celery processes (tests/workers.py) on the test broker and the test database.

    Depends on transactional_db: the worker sees committed rows, and it is stopped
    before pytest-django flushes the tables. Its log is added to a failing test's report.
    """
    purge_broker(broker_client)
    processes = CeleryProcesses(broker_url=live_broker, folder=tmp_path)
    request.node.celery_processes = processes
    try:
        yield processes
    finally:
        processes.stop_all()
        purge_broker(broker_client)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    processes = getattr(item, "celery_processes", None)
    if processes is not None and report.failed:
        for title, text in processes.logs():
            report.sections.append((title, text[-20_000:] or "(empty)"))
