"""Test settings for Celery workers started by the SMTP tests: mail goes over SMTP.

config.settings.test always sends to locmem (what the unit tests read); a worker is
another process, so the tests point it at their aiosmtpd sink with
DJANGO_SETTINGS_MODULE=tests.notifications.smtp_settings and EMAIL_URL=smtp://...
(base.py reads EMAIL_URL into EMAIL_HOST/EMAIL_PORT; only the backend is put back here).
"""

from config.settings.test import *  # noqa: F403
from config.settings.test import env

EMAIL_BACKEND = env.email_url("EMAIL_URL")["EMAIL_BACKEND"]
# A stalled server must not hold a worker for ever (Django's default is no timeout).
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=30.0)
