"""Pages reached from emails (cancel a waiting row), the back-in-stock waitlist, and the
customer's access: the sign-in lockout page, password reset and "find my order"."""

import logging

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import PasswordResetView
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from catalog.models import Product
from orders import services as order_services
from orders.exceptions import OrderError
from orders.links import LinkInvalid, order_url

from . import accounts, waitlist
from .forms import FindOrderForm, PasswordResetOutboxForm, SubscribeForm, normalize_email
from .links import row_from_cancel_token
from .models import Subscription

log = logging.getLogger(__name__)

@require_http_methods(["GET", "POST"])
def row_cancel_link(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks to confirm (mail scanners follow links), POST cancels. Works once."""
    try:
        row = row_from_cancel_token(token)
    except LinkInvalid as exc:
        return render(request, "notifications/row_cancel.html", {"error": str(exc)}, status=404)
    if request.method == "POST":
        try:
            order_services.row_cancel(row_ids=[row.pk], by_customer=True, reason="Cancelled from email link")
        except OrderError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{row.quantity} × {row.product.name} cancelled.")
        return redirect(request.path)
    return render(
        request,
        "notifications/row_cancel.html",
        {"row": row, "order": row.order, "order_url": order_url(row.order)},
    )


# -- back-in-stock waitlist ----------------------------------------------------------------------

# Per client (IP address) and per address: enough for a person, not for a script.
RATE_PER_CLIENT = "20/h"
RATE_PER_ADDRESS = "5/h"
SUBSCRIPTIONS_PER_PAGE = 25


def _posted_address(group: str, request: HttpRequest) -> str:
    """django-ratelimit key: the address the form names, however it is spelled."""
    return normalize_email(request.POST.get("email", ""))


def _initial_email(request: HttpRequest) -> str:
    return request.user.email if request.user.is_authenticated else ""


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=RATE_PER_CLIENT, method="POST", block=False)
@ratelimit(key=_posted_address, rate=RATE_PER_ADDRESS, method="POST", block=False)
def subscribe(request: HttpRequest, slug: str) -> HttpResponse:
    """POST an address to the product's waitlist. The answer is the same whether the address
    was new, already waiting or anything else, so nobody learns who is subscribed."""
    if getattr(request, "limited", False):
        return render(request, "notifications/subscribe_limited.html", status=429)
    product = get_object_or_404(Product, slug=slug, is_active=True)
    if request.method == "GET":
        form = SubscribeForm(initial={"email": _initial_email(request)})
        return render(request, "notifications/subscribe.html", {"product": product, "form": form})
    form = SubscribeForm(request.POST)
    if not form.is_valid():
        return render(request, "notifications/subscribe.html", {"product": product, "form": form})
    email = form.cleaned_data["email"]
    waitlist.subscription_create(
        product=product, email=email, user=request.user if request.user.is_authenticated else None
    )
    return render(request, "notifications/subscribe_done.html", {"product": product, "email": email})


@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """The link in a back-in-stock email: no sign-in. GET asks to confirm (mail scanners
    follow links), POST unsubscribes; a second POST says it was already done."""
    subscription = waitlist.subscription_from_token(token)
    if subscription is None:
        error = (
            "This unsubscribe link is not valid. Copy the whole link from the email, "
            "or remove the alert in your account."
        )
        return render(request, "notifications/unsubscribe.html", {"error": error}, status=404)
    if request.method == "POST":
        name = subscription.product.name
        if subscription.unsubscribed_at is not None:
            messages.info(request, f"You were already unsubscribed from alerts about {name}.")
        else:
            waitlist.subscription_cancel(subscription=subscription)
            messages.success(request, f"Unsubscribed: we will not email you about {name}.")
        return redirect(request.path)
    return render(request, "notifications/unsubscribe.html", {"subscription": subscription})


@login_required
@require_http_methods(["GET", "POST"])
def subscriptions(request: HttpRequest) -> HttpResponse:
    """The signed-in customer's back-in-stock alerts, waiting and already sent; POST removes one."""
    mine = Subscription.objects.filter(user=request.user, unsubscribed_at__isnull=True)
    if request.method == "POST":
        try:
            pk = int(request.POST.get("subscription", ""))
        except ValueError:
            raise Http404("No such alert.") from None
        subscription = get_object_or_404(mine.select_related("product"), pk=pk)
        waitlist.subscription_cancel(subscription=subscription)
        messages.success(request, f"Removed the back-in-stock alert for {subscription.product.name}.")
        return redirect("notifications:subscriptions")
    page = Paginator(
        mine.select_related("product").order_by("-created_at", "-pk"), SUBSCRIPTIONS_PER_PAGE
    ).get_page(request.GET.get("page"))
    return render(request, "notifications/subscriptions.html", {"page": page})


# -- sign-in lockout, password reset, find my order ------------------------------------------------


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


# Resets: a person asks a few times, a script hundreds. Over the limit nothing is sent, and
# the answer is the same "check your email" page (it reveals nothing about the address).
RESET_RATE_PER_CLIENT = "20/h"
RESET_RATE_PER_ADDRESS = "3/h"

_password_reset = PasswordResetView.as_view(form_class=PasswordResetOutboxForm)


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=RESET_RATE_PER_CLIENT, method="POST", block=False)
@ratelimit(key=_posted_address, rate=RESET_RATE_PER_ADDRESS, method="POST", block=False)
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
@ratelimit(key=_posted_address, rate=FIND_ORDER_RATE_PER_ADDRESS, method="POST", block=False)
def find_order(request: HttpRequest) -> HttpResponse:
    """Order number + email: a fresh link goes to the order's own address. The answer is the
    same whether the order exists, the address matches, or the request was over the limit."""
    form = FindOrderForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if getattr(request, "limited", False):
            log.warning("Find my order over the rate limit: nothing sent")
        else:
            accounts.order_link_send(number=form.cleaned_data["number"], email=form.cleaned_data["email"])
        return render(request, "notifications/find_order_sent.html", {"email": form.cleaned_data["email"]})
    return render(
        request, "notifications/find_order.html", {"form": form, "guest_link_days": settings.GUEST_LINK_DAYS}
    )
