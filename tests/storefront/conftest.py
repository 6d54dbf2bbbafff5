"""The password reset page's tests check its email reaches the real broker: they use the test
broker fixtures of tests/notifications."""

from tests.notifications.conftest import broker_client, live_broker  # noqa: F401
