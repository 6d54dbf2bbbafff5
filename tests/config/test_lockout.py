"""Sign-in lockout (django-axes, with the project's settings: axes is on here).

After AXES_FAILURE_LIMIT (5) wrong passwords a username is locked whatever the client, and
a client whatever the usernames, for the cool-off (15 minutes); even the right password is
refused meanwhile, with a page that says so. Staff lift it in the admin.
"""

import datetime as dt

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.helpers import staff_client
from tests.orders.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")
ADMIN_LOGIN = reverse("admin:login")
SHOP_LOCKED = "Too many failed sign-in attempts"
LIMIT = 5


@pytest.fixture
def admin_user():
    return UserFactory(username="boss", is_staff=True, is_superuser=True)


def sign_in(client, username, password, *, ip="10.0.0.1", url=LOGIN):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def fail(client, username, times, *, ip="10.0.0.1", url=LOGIN):
    return [sign_in(client, username, "wrong password", ip=ip, url=url) for _ in range(times)]


def signed_in_as(client) -> str | None:
    return client.session.get(SESSION_KEY)


def test_settings_lock_a_username_and_a_client_after_five_failures_for_15_minutes():
    assert settings.AXES_ENABLED is True
    assert settings.AXES_FAILURE_LIMIT == LIMIT
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]
    assert dt.timedelta(hours=settings.AXES_COOLOFF_TIME) == dt.timedelta(minutes=15)


def test_four_failures_then_the_right_password_signs_in(client, ada):
    assert all(r.status_code == 200 for r in fail(client, "ada", LIMIT - 1))
    response = sign_in(client, "ada", PASSWORD)
    assert response.status_code == 302
    assert signed_in_as(client) == str(ada.pk)


def test_shop_sign_in_refuses_the_right_password_after_five_failures(client, ada):
    responses = fail(client, "ada", LIMIT)
    assert [r.status_code for r in responses[:-1]] == [200] * (LIMIT - 1)
    assert "Please enter a correct username and password" in responses[0].content.decode()
    assert responses[-1].status_code == 429  # the fifth failure already answers with the pause

    response = sign_in(client, "ada", PASSWORD)
    assert response.status_code == 429
    page = response.content.decode()
    assert SHOP_LOCKED in page
    assert "paused for 15 minutes" in page
    assert 'class="site-header"' in page  # the shop's own layout
    assert reverse("password_reset") in page
    assert signed_in_as(client) is None
    assert client.get(reverse("storefront:account")).status_code == 302  # still not signed in


def test_admin_sign_in_refuses_the_right_password_after_five_failures(client, admin_user):
    fail(client, "boss", LIMIT, url=ADMIN_LOGIN)
    response = sign_in(client, "boss", PASSWORD, url=ADMIN_LOGIN)
    assert response.status_code == 429
    page = response.content.decode()
    assert "Restock administration" in page  # the admin's look
    assert "Signing in to this account or from your connection is paused for 15 minutes" in page
    assert "Access attempts" in page  # how another administrator unlocks
    assert signed_in_as(client) is None
    assert client.get("/admin/").status_code == 302


def test_a_locked_username_is_locked_from_every_client(ada):
    fail(Client(), "ada", LIMIT, ip="10.0.0.1")
    other = Client()
    response = sign_in(other, "ada", PASSWORD, ip="192.0.2.7")
    assert response.status_code == 429
    assert SHOP_LOCKED in response.content.decode()
    assert signed_in_as(other) is None


def test_a_client_is_locked_across_usernames(ada):
    attacker = Client()
    for n in range(LIMIT):  # one guess each at five different accounts
        sign_in(attacker, f"someone{n}", "guess", ip="10.0.0.66")
    assert sign_in(attacker, "ada", PASSWORD, ip="10.0.0.66").status_code == 429
    # Ada herself, from her own connection, is not affected.
    elsewhere = Client()
    assert sign_in(elsewhere, "ada", PASSWORD, ip="10.0.0.1").status_code == 302


def test_the_pause_ends_after_the_cool_off(client, ada):
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        fail(client, "ada", LIMIT)
    with time_machine.travel(now + dt.timedelta(minutes=14), tick=False):
        assert sign_in(Client(), "ada", PASSWORD).status_code == 429  # and the pause restarts
    with time_machine.travel(now + dt.timedelta(minutes=14 + 15, seconds=1), tick=False):
        assert sign_in(client, "ada", PASSWORD).status_code == 302


def test_staff_unlock_in_the_admin_restores_access(client, ada):
    fail(client, "ada", LIMIT)
    assert sign_in(client, "ada", PASSWORD).status_code == 429

    staff = staff_client(Client(), "axes.view_accessattempt", "axes.delete_accessattempt")
    changelist = reverse("admin:axes_accessattempt_changelist")
    listing = staff.get(changelist, {"locked_out": "yes"})
    assert listing.status_code == 200
    assert "ada" in listing.content.decode()
    attempts = list(AccessAttempt.objects.filter(username="ada").values_list("pk", flat=True))
    assert attempts
    confirmed = staff.post(
        changelist,
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )
    assert confirmed.status_code == 302

    response = sign_in(client, "ada", PASSWORD)
    assert response.status_code == 302
    assert signed_in_as(client) == str(ada.pk)


def test_axes_reset_username_command_unlocks(client, ada):
    fail(client, "ada", LIMIT)
    call_command("axes_reset_username", "ada")
    assert sign_in(client, "ada", PASSWORD).status_code == 302
