"""Settings from the environment: embedded defaults, production refusals, check --deploy.

Each case runs Django in a subprocess with a controlled environment, so the
settings of this test process stay untouched and nothing leaks in from the
shell running the tests (DATABASE_URL, CELERY_BROKER_URL, EMAIL_URL...) or from
a developer's .env: the subprocess hands the settings' read of the project's
.env to a file the test chooses (none unless a test gives one).
"""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_DIR = ROOT / "config" / "settings"
ENV_EXAMPLE = ROOT / ".env.example"

# The variables the task promises to document; the settings may read more.
PROMISED = {
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "EMAIL_URL",
    "CACHE_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DEFAULT_FROM_EMAIL",
    "MERCHANT_EMAILS",
    "SITE_URL",
    "TIME_ZONE",
    "CONN_MAX_AGE",
    "CELERY_BROKER_CONNECTION_TIMEOUT",
    "RESTOCK_IMPORT_DIR",
    "RESTOCK_MAX_QUANTITY",
    "LOG_LEVEL",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_PRELOAD",
}


def names_read_in_settings() -> set[str]:
    """Every NAME in env("NAME", ...) / env.cast("NAME", ...) under config/settings."""
    pattern = re.compile(r"""\benv(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]*)["']""")
    return {name for path in SETTINGS_DIR.glob("*.py") for name in pattern.findall(path.read_text())}


def env_example() -> tuple[dict[str, str], set[str]]:
    """(active assignments, every documented name) of .env.example."""
    active, documented = {}, set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        if match := re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line):
            value = match[2]
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            active[match[1]] = value
            documented.add(match[1])
        elif match := re.match(r"^#\s*(?:prod:\s*)?([A-Z][A-Z0-9_]*)=", line):
            documented.add(match[1])
    return active, documented


CONTROLLED = names_read_in_settings() | PROMISED | {"DJANGO_SETTINGS_MODULE"}


# Runs in the subprocess before Django: base.py's env.read_env(BASE_DIR / ".env") reads
# the file named in argv[1] instead (nothing when empty), then argv[2:] runs as python would.
BOOTSTRAP = """
import runpy, sys
from pathlib import Path
import environ

dotenv, sys.argv = sys.argv[1], sys.argv[2:]
read_env = environ.Env.read_env.__func__

def read_chosen_env(cls, env_file=None, **kwargs):
    assert Path(env_file) == Path.cwd() / ".env", env_file
    if dotenv:
        read_env(cls, dotenv, **kwargs)

environ.Env.read_env = classmethod(read_chosen_env)
if sys.argv[0] == "-c":
    exec(sys.argv[1])
else:
    runpy.run_path(sys.argv[0], run_name="__main__")
"""


def run(
    module: str, args: list[str], env: dict[str, str] | None = None, dotenv: Path | None = None
) -> subprocess.CompletedProcess:
    """Run python with ARGS in the project, with only the given settings variables set and
    DOTENV (or no file) in place of the project's .env."""
    clean = {k: v for k, v in os.environ.items() if k not in CONTROLLED}
    clean.update(env or {}, DJANGO_SETTINGS_MODULE=module)
    return subprocess.run(
        [sys.executable, "-c", BOOTSTRAP, str(dotenv or ""), *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRINT_SETTINGS = """
import json
import django
django.setup()
from django.conf import settings as s
from config.celery_app import app
db = s.DATABASES["default"]
print(json.dumps({
    "DEBUG": s.DEBUG,
    "ALLOWED_HOSTS": s.ALLOWED_HOSTS,
    "CSRF_TRUSTED_ORIGINS": s.CSRF_TRUSTED_ORIGINS,
    "DB_ENGINE": db["ENGINE"],
    "DB_NAME": str(db["NAME"]),
    "DB_HOST": db.get("HOST"),
    "DB_PORT": db.get("PORT"),
    "CONN_MAX_AGE": db["CONN_MAX_AGE"],
    "DB_OPTIONS": db.get("OPTIONS", {}),
    "CELERY_BROKER_URL": s.CELERY_BROKER_URL,
    "CELERY_TASK_ALWAYS_EAGER": s.CELERY_TASK_ALWAYS_EAGER,
    "celery_app_eager": app.conf.task_always_eager,
    "CELERY_BROKER_CONNECTION_TIMEOUT": s.CELERY_BROKER_CONNECTION_TIMEOUT,
    "EMAIL_BACKEND": s.EMAIL_BACKEND,
    "EMAIL_HOST": s.EMAIL_HOST,
    "EMAIL_PORT": s.EMAIL_PORT,
    "EMAIL_HOST_USER": s.EMAIL_HOST_USER,
    "EMAIL_HOST_PASSWORD": s.EMAIL_HOST_PASSWORD,
    "EMAIL_USE_TLS": s.EMAIL_USE_TLS,
    "EMAIL_USE_SSL": s.EMAIL_USE_SSL,
    "DEFAULT_FROM_EMAIL": s.DEFAULT_FROM_EMAIL,
    "MERCHANT_EMAILS": s.MERCHANT_EMAILS,
    "SITE_URL": s.SITE_URL,
    "TIME_ZONE": s.TIME_ZONE,
    "RESTOCK_IMPORT_DIR": str(s.RESTOCK_IMPORT_DIR),
    "RESTOCK_MAX_QUANTITY": s.RESTOCK_MAX_QUANTITY,
    "LOG_LEVEL": s.LOGGING["root"]["level"],
    "SECRET_KEY": s.SECRET_KEY,
    "SECURE_SSL_REDIRECT": s.SECURE_SSL_REDIRECT,
    "SECURE_HSTS_SECONDS": s.SECURE_HSTS_SECONDS,
    "SESSION_COOKIE_SECURE": s.SESSION_COOKIE_SECURE,
}))
"""


def settings_of(module: str, dotenv: Path | None = None, **env: str) -> dict:
    result = run(module, ["-c", PRINT_SETTINGS], env, dotenv)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def production_env(**extra: str) -> dict[str, str]:
    """Everything production requires; nothing here is contacted by `check` or by importing settings."""
    return {
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "shop.example.com",
        "DATABASE_URL": "postgres://restock:db-secret@db.invalid:5432/restock",
        "CELERY_BROKER_URL": "redis://redis.invalid:6379/0",
        "EMAIL_URL": "smtp+tls://shop:mail-secret@smtp.invalid:587",
        "CACHE_URL": "redis://redis.invalid:6379/1",
        **extra,
    }


# -- .env.example ------------------------------------------------------------------


def test_env_example_documents_every_variable_the_settings_read():
    read = names_read_in_settings()
    _, documented = env_example()
    assert read >= PROMISED, f"promised but not read: {sorted(PROMISED - read)}"
    assert read <= documented, f"read in config/settings but not in .env.example: {sorted(read - documented)}"
    assert documented <= read, f"in .env.example but read nowhere: {sorted(documented - read)}"


def test_env_example_active_values_are_the_development_defaults():
    """Copying .env.example to .env changes nothing until it is edited."""
    active, _ = env_example()
    assert "SECRET_KEY" in active and "DATABASE_URL" not in active
    assert settings_of("config.settings.local", **active) == settings_of("config.settings.local")


def test_env_example_gives_each_variable_a_comment():
    lines = ENV_EXAMPLE.read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[A-Z][A-Z0-9_]*=", line):
            assert lines[i - 1].startswith("#"), f"no comment above {line!r}"


# -- embedded defaults ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "debug"), [("config.settings.base", False), ("config.settings.local", True)]
)
def test_embedded_defaults(module, debug):
    s = settings_of(module)
    assert s["DEBUG"] is debug
    assert s["DB_ENGINE"] == "django.db.backends.sqlite3"
    assert s["DB_NAME"] == str(ROOT / "db.sqlite3")
    assert s["CELERY_BROKER_URL"] == ""
    assert s["CELERY_TASK_ALWAYS_EAGER"] is True
    assert s["celery_app_eager"] is True
    assert s["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert s["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost"]
    assert s["SITE_URL"] == "http://127.0.0.1:8000"
    assert s["RESTOCK_IMPORT_DIR"] == str(ROOT / "var" / "restock-inbox")
    assert s["SECRET_KEY"].startswith("django-insecure")


def test_database_url_chooses_the_database(tmp_path):
    s = settings_of("config.settings.local", DATABASE_URL="postgres://shop:pw@db.example.com:5433/restock")
    assert (s["DB_ENGINE"], s["DB_NAME"]) == ("django.db.backends.postgresql", "restock")
    assert (s["DB_HOST"], s["DB_PORT"]) == ("db.example.com", 5433)
    path = tmp_path / "elsewhere.sqlite3"
    s = settings_of("config.settings.local", DATABASE_URL=f"sqlite:///{path}", CONN_MAX_AGE="60")
    assert (s["DB_ENGINE"], s["DB_NAME"], s["CONN_MAX_AGE"]) == ("django.db.backends.sqlite3", str(path), 60)


def test_postgresql_connections_run_without_jit_and_keep_the_urls_options():
    s = settings_of("config.settings.local", DATABASE_URL="postgres://shop:pw@db.example.com/restock")
    assert s["DB_OPTIONS"] == {"options": "-c jit=off"}
    url = "postgres://shop:pw@db.example.com/restock?sslmode=require&options=-c%20statement_timeout%3D5000"
    s = settings_of("config.settings.local", DATABASE_URL=url)
    assert s["DB_OPTIONS"] == {"sslmode": "require", "options": "-c statement_timeout=5000 -c jit=off"}
    assert "options" not in settings_of("config.settings.local")["DB_OPTIONS"]  # SQLite: none


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_shops_postgresql_connection_has_jit_off():
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


def test_a_broker_turns_eager_tasks_off():
    s = settings_of("config.settings.local", CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
    assert s["CELERY_BROKER_URL"] == "redis://127.0.0.1:6379/0"
    assert s["CELERY_TASK_ALWAYS_EAGER"] is False
    assert s["celery_app_eager"] is False


def test_smtp_email_url():
    s = settings_of("config.settings.local", EMAIL_URL="smtp://mail.example.com:2525")
    assert s["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (s["EMAIL_HOST"], s["EMAIL_PORT"], s["EMAIL_USE_TLS"]) == ("mail.example.com", 2525, False)


def test_smtp_tls_email_url_with_login():
    s = settings_of(
        "config.settings.local", EMAIL_URL="smtp+tls://shop%40example.com:p%40ss@smtp.example.com:587"
    )
    assert s["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (s["EMAIL_HOST"], s["EMAIL_PORT"]) == ("smtp.example.com", 587)
    assert (s["EMAIL_HOST_USER"], s["EMAIL_HOST_PASSWORD"]) == ("shop@example.com", "p@ss")
    assert (s["EMAIL_USE_TLS"], s["EMAIL_USE_SSL"]) == (True, False)


def test_every_other_knob_comes_from_the_environment(tmp_path):
    s = settings_of(
        "config.settings.local",
        DEBUG="False",
        ALLOWED_HOSTS="a.example,b.example",
        CSRF_TRUSTED_ORIGINS="https://a.example",
        DEFAULT_FROM_EMAIL="Shop <shop@a.example>",
        MERCHANT_EMAILS="x@a.example,y@a.example",
        SITE_URL="https://a.example",
        TIME_ZONE="Europe/Berlin",
        CELERY_BROKER_CONNECTION_TIMEOUT="7.5",
        RESTOCK_IMPORT_DIR=str(tmp_path / "inbox"),
        RESTOCK_MAX_QUANTITY="500",
        LOG_LEVEL="WARNING",
    )
    assert s["DEBUG"] is False
    assert s["ALLOWED_HOSTS"] == ["a.example", "b.example"]
    assert s["CSRF_TRUSTED_ORIGINS"] == ["https://a.example"]
    assert s["DEFAULT_FROM_EMAIL"] == "Shop <shop@a.example>"
    assert s["MERCHANT_EMAILS"] == ["x@a.example", "y@a.example"]
    assert (s["SITE_URL"], s["TIME_ZONE"]) == ("https://a.example", "Europe/Berlin")
    assert s["CELERY_BROKER_CONNECTION_TIMEOUT"] == 7.5
    assert s["RESTOCK_IMPORT_DIR"] == str(tmp_path / "inbox")
    assert (s["RESTOCK_MAX_QUANTITY"], s["LOG_LEVEL"]) == (500, "WARNING")


# -- the project's .env ------------------------------------------------------------------


def test_dotenv_fills_unset_variables_and_the_environment_wins(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("SITE_URL=https://from-dotenv.example\nTIME_ZONE=Asia/Tokyo\n")
    s = settings_of("config.settings.local", dotenv=dotenv, TIME_ZONE="Europe/Berlin")
    assert s["SITE_URL"] == "https://from-dotenv.example"
    assert s["TIME_ZONE"] == "Europe/Berlin"


# -- production ----------------------------------------------------------------------

REQUIRED = ("DATABASE_URL", "CELERY_BROKER_URL", "EMAIL_URL", "CACHE_URL")


def check(env: dict[str, str], *extra: str, dotenv: Path | None = None) -> subprocess.CompletedProcess:
    return run("config.settings.production", ["manage.py", "check", *extra], env, dotenv)


def refusal(result: subprocess.CompletedProcess) -> str:
    """The ImproperlyConfigured message of a production start that must fail."""
    assert result.returncode != 0, result.stdout
    assert "ImproperlyConfigured: config.settings.production refuses to start:" in result.stderr
    return result.stderr.split("refuses to start:", 1)[1]


def test_production_with_only_secret_key_and_allowed_hosts_names_every_missing_variable():
    env = {k: v for k, v in production_env().items() if k in ("SECRET_KEY", "ALLOWED_HOSTS")}
    message = refusal(check(env))
    for name in REQUIRED:
        assert f"- {name} is not set" in message


@pytest.mark.parametrize("name", REQUIRED)
def test_production_refuses_to_start_without(name):
    env = production_env()
    del env[name]
    message = refusal(check(env))
    assert f"- {name} is not set" in message
    assert [line for line in message.splitlines() if line.strip().startswith("- ")] == [
        line for line in message.splitlines() if f"- {name} " in line
    ], "only the missing variable is named"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        pytest.param("DATABASE_URL", "sqlite:////srv/shop.sqlite3", "must point at PostgreSQL", id="sqlite"),
        pytest.param("DATABASE_URL", "mysql://shop:db-secret@db.invalid/restock", "not mysql://", id="mysql"),
        pytest.param("CELERY_BROKER_URL", "", "CELERY_BROKER_URL is not set", id="empty-broker"),
        pytest.param("CELERY_BROKER_URL", "memory://", "not memory://", id="memory-broker"),
        pytest.param("EMAIL_URL", "consolemail://", "not consolemail://", id="console-email"),
        pytest.param("EMAIL_URL", "filemail:///tmp/mail", "not filemail://", id="file-email"),
        pytest.param("EMAIL_URL", "memorymail://", "not memorymail://", id="memory-email"),
        pytest.param("CACHE_URL", "locmemcache://", "not locmemcache://", id="locmem-cache"),
        pytest.param("CACHE_URL", "dummycache://", "not dummycache://", id="dummy-cache"),
        pytest.param("CACHE_URL", "filecache:///tmp/cache", "not filecache://", id="file-cache"),
    ],
)
def test_production_refuses_development_values(name, value, expected):
    message = refusal(check(production_env(**{name: value})))
    assert f"- {name} " in message and expected in message
    assert "db-secret" not in message, "a URL's password is never printed"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "postgresql://restock@db.invalid/restock"),
        ("EMAIL_URL", "smtp+ssl://shop:pw@smtp.invalid:465"),
        ("EMAIL_URL", "smtp://smtp.invalid:25"),
        ("CACHE_URL", "dbcache://restock_cache"),
        ("CACHE_URL", "rediss://redis.invalid:6380/1"),
    ],
)
def test_production_accepts_shared_services(name, value):
    result = check(production_env(**{name: value}))
    assert result.returncode == 0, result.stderr


def test_a_dotenv_copied_from_the_example_does_not_make_production_start():
    """.env.example holds the development values: production refuses them rather than run on them."""
    env = {k: v for k, v in production_env().items() if k in ("SECRET_KEY", "ALLOWED_HOSTS")}
    message = refusal(check(env, dotenv=ENV_EXAMPLE))
    assert "- DATABASE_URL is not set" in message
    assert "- CELERY_BROKER_URL is not set" in message
    assert "- EMAIL_URL must be an SMTP server" in message and "not consolemail://" in message
    assert "- CACHE_URL must be shared by every web process" in message and "not locmemcache://" in message


def test_production_refuses_to_start_without_secret_key():
    env = production_env()
    del env["SECRET_KEY"]
    assert "- SECRET_KEY is not set." in refusal(check(env))


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("django-insecure-local-development-only", id="development-default"),
        pytest.param("django-insecure-" + secrets.token_urlsafe(60), id="django-insecure-prefix"),
        pytest.param(secrets.token_urlsafe(20), id="short"),
        pytest.param("ab" * 40, id="not-random"),
    ],
)
def test_production_refuses_a_weak_secret_key(key):
    message = refusal(check(production_env(SECRET_KEY=key)))
    assert "- SECRET_KEY must be a long random value in production." in message


def test_production_requires_allowed_hosts():
    env = production_env()
    del env["ALLOWED_HOSTS"]
    assert "- ALLOWED_HOSTS is not set" in refusal(check(env))


def test_production_check_deploy_passes_with_no_warnings():
    result = check(production_env(), "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stderr


def test_check_deploy_would_catch_a_warning():
    """The test above can fail: turning HSTS off is reported as a warning."""
    result = check(production_env(SECURE_HSTS_SECONDS="0"), "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W004" in result.stdout + result.stderr


def test_production_is_never_debug_and_secure():
    s = settings_of("config.settings.production", **production_env(DEBUG="True"))
    assert s["DEBUG"] is False
    assert s["ALLOWED_HOSTS"] == ["shop.example.com"]
    assert (s["SECURE_SSL_REDIRECT"], s["SESSION_COOKIE_SECURE"]) == (True, True)
    assert s["SECURE_HSTS_SECONDS"] >= 31536000
    assert (s["CELERY_TASK_ALWAYS_EAGER"], s["celery_app_eager"]) == (False, False)
    assert (s["DB_ENGINE"], s["EMAIL_BACKEND"]) == (
        "django.db.backends.postgresql",
        "django.core.mail.backends.smtp.EmailBackend",
    )
