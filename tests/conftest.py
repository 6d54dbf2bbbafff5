"""Shared fixtures and the rule for tests that need real services.

Tests marked ``postgres`` need PostgreSQL (row locks, concurrency), ``redis`` a
Redis broker, ``browser`` Debian's Chromium. Without them the test is skipped
with the reason; under CI=true a missing service fails the test instead.
"""

import os
import shutil
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings

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
    return None


def pytest_runtest_setup(item):
    for marker in ("postgres", "redis", "browser"):
        if item.get_closest_marker(marker) and (reason := _missing(marker)):
            if CI:
                pytest.fail(f"CI=true requires this test: {reason}", pytrace=False)
            pytest.skip(reason)
