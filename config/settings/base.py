"""Settings shared by every environment. Every knob is an env var (django-environ)."""

from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="django-insecure-local-development-only")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config.apps.RestockAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "solo",
    "import_export",  # product import/export (CSV, XLSX) and the order lists' CSV export
    "catalog",
    "inventory",
    "orders",
    "payments",  # django-payments: the provider-agnostic payments library (billing.Payment)
    "billing",
    "notifications",
    "backoffice",  # the admin site, dashboard, product admin, demo and simulation commands
    "storefront",
    "axes",  # sign-in lockout; its admin lists locked clients and unlocks them
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The customer's language: the switcher's cookie, else the browser's Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    # The admin stays in the merchant's language, whatever the storefront's switcher chose.
    "config.middleware.AdminLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Error pages: a friendly 503 when the database is down; the 403 names the missing permission.
    "config.middleware.DatabaseUnavailableMiddleware",
    "config.middleware.DeniedPermissionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
# The waiting rows' covering index (INCLUDE columns) is for PostgreSQL; SQLite, the embedded
# default, builds it without them, which is all it needs.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
if DATABASES["default"]["ENGINE"].endswith(("postgresql", "postgis")):
    # JIT off: short OLTP queries compile longer than they run (31 ms of a 49 ms dashboard query).
    _db_options = DATABASES["default"].setdefault("OPTIONS", {})
    _db_options["options"] = f"{_db_options.get('options', '')} -c jit=off".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: per-process memory by default. django-ratelimit counts form posts here, so
# production needs a cache shared by every web process: redis://host:6379/1.
# django_ratelimit is not in INSTALLED_APPS: all that would add is its system check,
# which flags Django's own RedisCache as "not officially supported" (W001,
# jsocol/django-ratelimit#283) and so fails `check --deploy --fail-level WARNING`.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
# Behind a reverse proxy REMOTE_ADDR is the proxy's address: name the header it sets
# with the client's address (e.g. HTTP_X_REAL_IP) so each client has its own limit.
RATELIMIT_IP_META_KEY = env("RATELIMIT_IP_META_KEY", default=None)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# Sign-in lockout (django-axes): after AXES_FAILURE_LIMIT wrong passwords a username is
# locked whatever the client, and a client whatever the usernames, for the cool-off.
# Axes' backend goes first; it needs `request` in authenticate() (every sign-in form passes it).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_MINUTES", default=15.0) / 60  # hours, as axes reads a float
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Not reset on success: axes would also wipe the client's failures against other usernames,
# so an attacker with an account of their own could clear their counter by signing in.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "storefront.views.accounts.signin_locked"
AXES_CLIENT_IP_CALLABLE = "storefront.views.accounts.client_ip"  # the address the rate limits use
AXES_DISABLE_ACCESS_LOG = True  # failures only, not a table of every sign-in

# The storefront and customers' emails speak English and German; the admin and the merchant's
# emails speak ADMIN_LANGUAGE_CODE. Dates follow the language (config/formats/<lang>/formats.py).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
ADMIN_LANGUAGE_CODE = env("ADMIN_LANGUAGE_CODE", default=LANGUAGE_CODE)
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploads (product pictures and their renditions). runserver serves them when DEBUG is on;
# in production the web server (or a CDN) serves MEDIA_ROOT at MEDIA_URL (README).
MEDIA_URL = env("MEDIA_URL", default="/media/")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

# Email: console by default; smtp://user:pass@host:port in production.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
# A stalled mail server must not hold a send job (and its claimed messages) forever.
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=30.0)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Restock <shop@restock.invalid>")
MERCHANT_EMAILS = env.list("MERCHANT_EMAILS", default=["merchant@restock.invalid"])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
# A guest order link (no sign-in) works this many days; "find my order" emails a fresh one.
GUEST_LINK_DAYS = env.int("GUEST_LINK_DAYS", default=90)
# The customer pages that models and emails link to, by URL name: storefront serves them, and
# the apps below it reverse these names instead of importing storefront.
CUSTOMER_URL_NAMES = {
    "product": "storefront:product_detail",
    "category": "storefront:category_detail",
    "order": "storefront:order_detail",
    "guest_order": "storefront:guest_order",
    "row_cancel": "storefront:row_cancel",
    "unsubscribe": "storefront:unsubscribe",
    # where the payment provider sends the payer back (billing.Payment: by the payment's token)
    "payment_success": "storefront:payment_success",
    "payment_failure": "storefront:payment_failure",
    # a shipment's pay link in an email (by order number and ledger entry; guests by signed link)
    "shipment_pay": "storefront:shipment_pay",
    "guest_shipment_pay": "storefront:guest_shipment_pay",
}
# Waiting rows are grouped by age, split at these days (7,30,90: 0-6, 7-29, 30-89, 90+) by
# orders.selectors.age_buckets for the dashboard, the order-row admin filter and the daily
# digest, which lists the rows waiting at least the first of them.
AGED_BACKORDER_DAYS = [int(d) for d in env.list("AGED_BACKORDER_DAYS", default=["7", "30", "90"])]

# Celery: no broker configured -> tasks run in-process (eagerly) so the
# embedded default needs nothing else running.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
# A broker that is down must not hang a request: bounded connection attempts.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 1,
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    # A job whose worker died (unacknowledged) is handed out again this long after it was
    # delivered: above the longest job (see README, "What a crash costs"), since a job still
    # running then is handed out twice (harmless, every job is idempotent, but wasted).
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=900),
    # How often a running worker looks for such jobs (kombu scans only every 10th look
    # unless the throttle is 1).
    "unacked_restore_interval": env.int("CELERY_RESTORE_SECONDS", default=10),
    "unacked_restore_throttle": 1,
}
CELERY_BEAT_SCHEDULE = {
    # The safety net if an after-commit trigger was lost (broker down, worker killed).
    "allocation-sweep": {
        "task": "notifications.tasks.allocation_sweep",
        "schedule": env.float("ALLOCATION_SWEEP_SECONDS", default=300.0),
    },
    # Back-in-stock alerts whose trigger was lost: derived from stock and subscriptions.
    "waitlist-sweep": {
        "task": "notifications.tasks.waitlist_sweep",
        "schedule": env.float("WAITLIST_SWEEP_SECONDS", default=300.0),
    },
    "release-preorders": {
        "task": "notifications.tasks.release_preorders",
        "schedule": env.float("PREORDER_RELEASE_SECONDS", default=900.0),
    },
    "send-outbox": {
        "task": "notifications.tasks.send_outbox",
        "schedule": env.float("OUTBOX_SWEEP_SECONDS", default=60.0),
    },
    "aged-backorders-digest": {
        "task": "notifications.tasks.send_aged_backorders_digest",
        "schedule": crontab(hour=env.int("DIGEST_HOUR", default=7), minute=0),
    },
    "refresh-promises": {
        "task": "notifications.tasks.refresh_all_promises",
        "schedule": crontab(hour=env.int("DIGEST_HOUR", default=7), minute=30),
    },
    "import-restock-files": {
        "task": "notifications.tasks.import_restock_files",
        "schedule": env.float("RESTOCK_IMPORT_SECONDS", default=60.0),
    },
    # Pending captures, refunds and releases whose job was lost (billing's ledger first).
    "billing-settle-sweep": {
        "task": "billing.tasks.settle_pending_sweep",
        "schedule": env.float("BILLING_SETTLE_SWEEP_SECONDS", default=300.0),
    },
    # Orders unpaid when their time to pay ran out are cancelled; the customer is emailed.
    "expire-unpaid-orders": {
        "task": "notifications.tasks.expire_unpaid_orders",
        "schedule": env.float("BILLING_EXPIRE_SECONDS", default=60.0),
    },
    # The admin's rows-by-status snapshot (counting a million rows per page view is too slow).
    "row-status-summary": {
        "task": "notifications.tasks.refresh_row_status_summary",
        "schedule": env.float("ROW_STATUS_SUMMARY_SECONDS", default=300.0),
    },
    # The dashboard's money-waiting snapshot (valuing every waiting row per page view is too slow).
    "money-waiting-summary": {
        "task": "billing.tasks.refresh_money_waiting_summary",
        "schedule": env.float("BILLING_WAITING_SUMMARY_SECONDS", default=300.0),
    },
    # Merchants told of products newly below their reorder point (once per crossing).
    "reorder-point-alert": {
        "task": "notifications.tasks.alert_reorder_points",
        "schedule": crontab(hour=env.int("DIGEST_HOUR", default=7), minute=15),
    },
    # Merchants alerted of pay links unpaid after BILLING_PAY_LINK_ALERT_DAYS (once per link).
    "pay-links-overdue": {
        "task": "notifications.tasks.alert_overdue_pay_links",
        "schedule": env.float("BILLING_PAY_LINK_ALERT_SECONDS", default=3600.0),
    },
}

# django-import-export's admin: export needs the model's view permission and import its change
# permission (the library's default lets any staff member who reaches the URL do both).
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "change"

# A rows-by-status snapshot older than this (beat not running) is not shown: rows are counted.
ROW_STATUS_SUMMARY_MAX_AGE = env.int("ROW_STATUS_SUMMARY_MAX_AGE", default=900)
# A money-waiting snapshot older than this (beat not running) is not shown: rows are valued.
BILLING_WAITING_SUMMARY_MAX_AGE = env.int("BILLING_WAITING_SUMMARY_MAX_AGE", default=900)

# Outbox: messages per send batch, retries with exponential backoff and jitter.
OUTBOX_BATCH_SIZE = env.int("OUTBOX_BATCH_SIZE", default=100)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=8)
OUTBOX_RETRY_SECONDS = env.float("OUTBOX_RETRY_SECONDS", default=30.0)
OUTBOX_RETRY_MAX_SECONDS = env.float("OUTBOX_RETRY_MAX_SECONDS", default=3600.0)
# One send job per burst of writes: the first write in this window queues the job to start
# when the window ends, the others find it queued (0: a job per write).
OUTBOX_SEND_WINDOW_SECONDS = env.float("OUTBOX_SEND_WINDOW_SECONDS", default=1.0)
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
}

# Restock imports dropped here are picked up by the scheduled import job.
# A pathlib.Path either way (env.path would give django-environ's Path, which has no glob()).
RESTOCK_IMPORT_DIR = Path(env("RESTOCK_IMPORT_DIR", default=str(BASE_DIR / "var" / "restock-inbox")))
# Receipts above this many units in one line are refused as a likely typo.
RESTOCK_MAX_QUANTITY = env.int("RESTOCK_MAX_QUANTITY", default=100_000)

# After the sale (orders/): shipments' carriers, each with a name and its tracking page, where
# {number} is the tracking number (JSON in the environment, e.g.
# SHIPPING_CARRIERS='{"ups": {"name": "UPS", "url": "https://www.ups.com/track?tracknum={number}"}}').
SHIPPING_CARRIERS = env.json(
    "SHIPPING_CARRIERS",
    default={
        "dhl": {
            "name": "DHL",
            "url": "https://www.dhl.com/global-en/home/tracking.html?tracking-id={number}",
        },
        "ups": {"name": "UPS", "url": "https://www.ups.com/track?tracknum={number}"},
        "dpd": {"name": "DPD", "url": "https://tracking.dpd.de/status/en_US/parcel/{number}"},
        "post": {"name": "Post", "url": ""},  # no tracking page: the number is shown, not linked
    },
)
# A customer may ask to return shipped units this many days after they shipped.
RETURNS_WINDOW_DAYS = env.int("RETURNS_WINDOW_DAYS", default=30)

# Billing (billing/): one currency, flat shipping, one tax rate; each placed order snapshots
# these (billing.OrderTotals), so changing them never changes a placed order.
BILLING_CURRENCY = env("BILLING_CURRENCY", default="EUR")  # ISO 4217
BILLING_SHIPPING = env("BILLING_SHIPPING", default="4.90")  # per order, entered like the prices
BILLING_FREE_SHIPPING_FROM = env("BILLING_FREE_SHIPPING_FROM", default="50.00")  # subtotal; empty = never
BILLING_TAX_RATE = env("BILLING_TAX_RATE", default="0.20")  # 0.20 = 20 %
BILLING_PRICES_INCLUDE_TAX = env.bool("BILLING_PRICES_INCLUDE_TAX", default=True)
# per_shipment: authorize at checkout, capture each shipment; at_checkout: capture it all at once.
# Here, not in the admin's global settings: it must match what the provider can do (env).
BILLING_SETTLEMENT = env("BILLING_SETTLEMENT", default="per_shipment")
BILLING_PAYMENT_WINDOW_MINUTES = env.int("BILLING_PAYMENT_WINDOW_MINUTES", default=30)
BILLING_AUTHORIZATION_DAYS = env.int("BILLING_AUTHORIZATION_DAYS", default=7)
BILLING_PAY_LINK_ALERT_DAYS = env.int("BILLING_PAY_LINK_ALERT_DAYS", default=3)
# A capture/refund job claims its ledger row this long; a crashed job's row is retried after.
BILLING_CLAIM_SECONDS = env.int("BILLING_CLAIM_SECONDS", default=300)
# django-payments: the dummy provider (a page to approve, decline or fail) unless PAYMENT_VARIANT
# names a real one. Stripe's provider captures at checkout only (BILLING_SETTLEMENT=at_checkout).
PAYMENT_MODEL = "billing.Payment"
PAYMENT_VARIANT = env("PAYMENT_VARIANT", default="dummy")
PAYMENT_VARIANTS = {
    "dummy": ("billing.providers.DummyProvider", {}),
    "stripe": (
        "payments.stripe.StripeProviderV3",
        {
            "api_key": env("STRIPE_SECRET_KEY", default=""),
            "endpoint_secret": env("STRIPE_WEBHOOK_SECRET", default=""),
        },
    ),
}
PAYMENT_HOST = urlsplit(SITE_URL).netloc
PAYMENT_USES_SSL = urlsplit(SITE_URL).scheme == "https"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
