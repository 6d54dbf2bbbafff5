"""Billing's worker tests start real Celery workers with the fixture of tests/notifications."""

from tests.notifications.conftest import celery_workers, pytest_runtest_makereport  # noqa: F401
