"""Error pages a person can act on: 503 while the database is down, 403 naming the permission."""

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.db import InterfaceError, OperationalError
from django.urls import reverse

from tests.helpers import staff_client
from tests.orders.factories import OrderRowFactory

ROOT = Path(__file__).resolve().parents[2]

STOREFRONT_503 = "We'll be back in a moment"
ADMIN_503 = "The database cannot be reached right now"

# -- 503: the database is unreachable ------------------------------------------------------

OUTAGE_REQUESTS = """
import json
import django
django.setup()
from django.conf import settings
from django.test import Client

signed_in = Client(HTTP_HOST="localhost")
signed_in.cookies[settings.SESSION_COOKIE_NAME] = "a" * 32  # loading the session needs the database
answers = {}
sign_in = {"username": "admin", "password": "restock-demo"}
for name, client, method, path, data in [
    ("shop", Client(HTTP_HOST="localhost"), "get", "/", {}),
    ("admin", signed_in, "get", "/admin/orders/orderrow/", {}),
    ("admin_login", Client(HTTP_HOST="localhost"), "post", "/admin/login/", sign_in),
]:
    response = getattr(client, method)(path, data)
    answers[name] = {
        "status": response.status_code,
        "retry_after": response.get("Retry-After"),
        "html": response.content.decode(),
    }
print(json.dumps(answers))
"""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # free once closed: nothing listens there


def test_a_database_that_refuses_connections_answers_503_on_storefront_and_admin():
    """A real outage: the settings point at a PostgreSQL port nobody listens on."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://restock@127.0.0.1:{closed_port()}/restock",
        "ALLOWED_HOSTS": "localhost",
        "LOG_LEVEL": "INFO",
    }
    command = [sys.executable, "-c", OUTAGE_REQUESTS]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])

    shop = answers["shop"]
    assert (shop["status"], shop["retry_after"]) == (503, "60")
    assert STOREFRONT_503 in shop["html"] and "Nothing you already ordered is lost." in shop["html"]
    assert 'class="site-header"' in shop["html"] and "css/shop.css" in shop["html"]  # the storefront look
    for name in ("admin", "admin_login"):
        page = answers[name]
        assert page["status"] == 503, name
        assert ADMIN_503 in page["html"]
        assert 'id="site-name"' in page["html"] and "Restock administration" in page["html"]  # the admin look
        assert "admin/css/base.css" in page["html"]
    assert STOREFRONT_503 not in answers["admin"]["html"]

    log = result.stderr
    assert "Database unavailable: GET / answered 503" in log
    assert "Database unavailable: GET /admin/orders/orderrow/ answered 503" in log
    assert "Database unavailable: POST /admin/login/ answered 503" in log
    assert "Connection refused" in log and "django.db.utils.OperationalError" in log  # with the exception


@pytest.mark.django_db
@pytest.mark.parametrize(
    "error",
    [OperationalError("the database system is shutting down"), InterfaceError("connection already closed")],
    ids=["operational", "interface"],
)
def test_a_lost_database_connection_is_logged_with_its_exception(client, caplog, error):
    with (
        mock.patch("django.db.backends.base.base.BaseDatabaseWrapper.cursor", side_effect=error),
        caplog.at_level(logging.ERROR, logger="config.middleware"),
    ):
        response = client.get(reverse("storefront:product_list"))
    assert response.status_code == 503
    assert STOREFRONT_503 in response.content.decode()
    [record] = [r for r in caplog.records if r.name == "config.middleware"]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "Database unavailable: GET / answered 503"
    assert record.exc_info[1] is error


@pytest.mark.django_db
def test_a_staff_page_during_an_outage_keeps_the_admin_look(client):
    staff_client(client, "orders.view_orderrow")
    with mock.patch(
        "django.db.backends.base.base.BaseDatabaseWrapper.cursor", side_effect=OperationalError("gone")
    ):
        response = client.get("/admin/orders/orderrow/")
    assert response.status_code == 503
    html = response.content.decode()
    assert ADMIN_503 in html and "Restock administration" in html


@pytest.mark.django_db
def test_other_database_errors_are_not_called_an_outage(client):
    from django.db import ProgrammingError

    with (
        mock.patch(
            "django.db.backends.base.base.BaseDatabaseWrapper.cursor",
            side_effect=ProgrammingError("column does not exist"),
        ),
        pytest.raises(ProgrammingError),
    ):
        client.get(reverse("storefront:product_list"))


# -- 403: what is missing --------------------------------------------------------------------


def admin_look(html: str) -> None:
    assert 'id="site-name"' in html and "Restock administration" in html
    assert "Log out" in html  # the user tools of a signed-in admin page
    assert "403 Forbidden" not in html


@pytest.mark.django_db
def test_admin_403_names_the_one_missing_permission(client):
    staff_client(client, "orders.view_orderrow")
    row = OrderRowFactory()
    response = client.post(reverse("admin:orders_orderrow_change", args=[row.pk]), {})
    assert response.status_code == 403
    html = response.content.decode()
    admin_look(html)
    assert (
        "You need the permission <strong>“Can change order row”</strong> "
        "(<code>orders.change_orderrow</code>) to open this page." in html
    )


@pytest.mark.django_db
def test_admin_403_on_a_custom_admin_page(client):
    staff_client(client)
    response = client.get(reverse("admin:dashboard"))
    assert response.status_code == 403
    html = response.content.decode()
    admin_look(html)
    assert "“Can view order row”</strong> (<code>orders.view_orderrow</code>)" in html


@pytest.mark.django_db
def test_admin_403_lists_each_permission_that_would_open_the_page(client):
    """A list needs view or change: both are named, as either would do."""
    staff_client(client, "orders.view_order")
    response = client.get(reverse("admin:orders_orderrow_changelist"))
    assert response.status_code == 403
    html = response.content.decode()
    admin_look(html)
    assert "You need one of these permissions to open this page:" in html
    assert "“Can view order row”</strong> (<code>orders.view_orderrow</code>)" in html
    assert "“Can change order row”</strong> (<code>orders.change_orderrow</code>)" in html
    assert "orders.view_order<" not in html  # held, so not named


@pytest.mark.django_db
@pytest.mark.urls("tests.config.urls_forbidden")
def test_storefront_403_has_the_storefront_look(client):
    response = client.get("/forbidden/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "This page isn't available to you" in html
    assert 'class="site-header"' in html and "Sign in" in html
    assert "Restock administration" not in html
