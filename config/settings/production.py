"""Production: PostgreSQL, Redis broker, SMTP, a shared cache; no development default is taken.

Every variable below is checked at import and all problems are reported at once, so
a missing or development value stops the web and worker processes before they serve
anything (console email would mark customer emails sent; a per-process cache would
multiply rate limits by the number of web processes; SQLite has no row locks).
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import CACHES, CELERY_BROKER_URL, DATABASES, EMAIL_BACKEND, MIDDLEWARE, env

PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.filebased.FileBasedCache",
}
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


def _scheme(name: str) -> str:
    """The scheme of a URL variable, for messages: never its password."""
    return env.str(name, default="").partition(":")[0] or "(empty)"


def _problems() -> list[str]:
    """One line per missing or development-only variable."""
    problems = []
    secret = env.str("SECRET_KEY", default="")
    if not secret:
        problems.append("SECRET_KEY is not set.")
    elif secret.startswith("django-insecure") or len(secret) < 50 or len(set(secret)) < 5:
        problems.append("SECRET_KEY must be a long random value in production.")
    if not env.list("ALLOWED_HOSTS", default=[]):
        problems.append("ALLOWED_HOSTS is not set (the host names of the shop, comma-separated).")
    if not env.str("DATABASE_URL", default=""):
        problems.append("DATABASE_URL is not set (PostgreSQL: postgres://user:password@host:5432/restock).")
    elif not DATABASES["default"]["ENGINE"].endswith(("postgresql", "postgis")):
        problems.append(
            f"DATABASE_URL must point at PostgreSQL (stock correctness rests on its row locks), "
            f"not {_scheme('DATABASE_URL')}://."
        )
    if not CELERY_BROKER_URL:
        problems.append("CELERY_BROKER_URL is not set (redis://host:6379/0): jobs would run in web requests.")
    elif CELERY_BROKER_URL.startswith("memory:"):
        problems.append("CELERY_BROKER_URL must be a broker every process shares (redis://), not memory://.")
    if not env.str("EMAIL_URL", default=""):
        problems.append("EMAIL_URL is not set (smtp+tls://user:password@smtp.example.com:587).")
    elif EMAIL_BACKEND != SMTP_BACKEND:
        problems.append(
            f"EMAIL_URL must be an SMTP server (smtp://, smtp+tls://, smtp+ssl://), "
            f"not {_scheme('EMAIL_URL')}://: the outbox would mark emails sent that nobody receives."
        )
    if not env.str("CACHE_URL", default=""):
        problems.append("CACHE_URL is not set (a cache shared by every web process: redis://host:6379/1).")
    elif CACHES["default"]["BACKEND"] in PER_PROCESS_CACHES:
        problems.append(
            f"CACHE_URL must be shared by every web process (redis://, dbcache://, memcached), "
            f"not {_scheme('CACHE_URL')}://: each process would keep its own rate-limit counts."
        )
    return problems


if problems := _problems():
    raise ImproperlyConfigured(
        "config.settings.production refuses to start:\n" + "\n".join(f"  - {p}" for p in problems)
    )

SECRET_KEY = env("SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True

# gunicorn serves the static files itself (runserver does it in development).
MIDDLEWARE = [MIDDLEWARE[0], "whitenoise.middleware.WhiteNoiseMiddleware", *MIDDLEWARE[1:]]

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
