"""The customer's access: sign-up, the sign-in lockout page (and the client address django-axes
counts failures by), password reset with its email through the outbox, and "find my order"."""

import logging

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import login
from django.contrib.auth.views import PasswordResetView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from notifications import accounts

from ..forms import FindOrderForm, PasswordResetOutboxForm, SignupForm, posted_address

log = logging.getLogger(__name__)


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    if request.user.is_authenticated:
        return redirect(next_url or "storefront:account")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(
            request, _("Welcome, %(name)s! Your account is ready.") % {"name": user.get_username()}
        )
        return redirect(next_url or "storefront:account")
    return render(request, "registration/signup.html", {"form": form, "next": next_url})


def signin_locked(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' lockout answer (AXES_LOCKOUT_CALLABLE): the admin's look on the admin
    sign-in, the shop's elsewhere. Says how long the pause lasts and how it ends sooner."""
    cool_off = get_cool_off(request)
    context = {"minutes": round(cool_off.total_seconds() / 60) if cool_off else None}
    match = request.resolver_match
    if match is not None and match.namespace == "admin":
        context.update(admin.site.each_context(request), title="Sign-in paused")
        return render(request, "admin/locked_out.html", context, status=429)
    return render(request, "registration/locked_out.html", context, status=429)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as the rate limits read it (RATELIMIT_IP_META_KEY behind a proxy);
    django-axes counts failed sign-ins per this address (AXES_CLIENT_IP_CALLABLE)."""
    return request.META.get(settings.RATELIMIT_IP_META_KEY or "REMOTE_ADDR") or None


# Resets: a person asks a few times, a script hundreds. Over the limit nothing is sent, and
# the answer is the same "check your email" page (it reveals nothing about the address).
RESET_RATE_PER_CLIENT = "20/h"
RESET_RATE_PER_ADDRESS = "3/h"

_password_reset = PasswordResetView.as_view(form_class=PasswordResetOutboxForm)


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=RESET_RATE_PER_CLIENT, method="POST", block=False)
@ratelimit(key=posted_address, rate=RESET_RATE_PER_ADDRESS, method="POST", block=False)
def password_reset(request: HttpRequest) -> HttpResponse:
    """Django's password reset, with its email through the outbox and rate limits."""
    if getattr(request, "limited", False) and PasswordResetOutboxForm(request.POST).is_valid():
        log.warning("Password reset over the rate limit: nothing sent")
        return redirect("password_reset_done")
    return _password_reset(request)


FIND_ORDER_RATE_PER_CLIENT = "20/h"
FIND_ORDER_RATE_PER_ADDRESS = "3/h"


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=FIND_ORDER_RATE_PER_CLIENT, method="POST", block=False)
@ratelimit(key=posted_address, rate=FIND_ORDER_RATE_PER_ADDRESS, method="POST", block=False)
def find_order(request: HttpRequest) -> HttpResponse:
    """Order number + email: a fresh link goes to the order's own address. The answer is the
    same whether the order exists, the address matches, or the request was over the limit."""
    form = FindOrderForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if getattr(request, "limited", False):
            log.warning("Find my order over the rate limit: nothing sent")
        else:
            accounts.order_link_send(
                number=form.cleaned_data["number"],
                email=form.cleaned_data["email"],
                language=request.LANGUAGE_CODE,
            )
        return render(request, "storefront/find_order_sent.html", {"email": form.cleaned_data["email"]})
    return render(
        request, "storefront/find_order.html", {"form": form, "guest_link_days": settings.GUEST_LINK_DAYS}
    )
