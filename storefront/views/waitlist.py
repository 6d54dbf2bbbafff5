"""The back-in-stock waitlist's pages: "notify me" on a product, the unsubscribe link in its
email, and the signed-in customer's alerts. The waitlist itself is notifications.waitlist."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from catalog.models import Product
from notifications import waitlist
from notifications.models import Subscription

from ..forms import SubscribeForm, posted_address

# Per client (IP address) and per address: enough for a person, not for a script.
RATE_PER_CLIENT = "20/h"
RATE_PER_ADDRESS = "5/h"
SUBSCRIPTIONS_PER_PAGE = 25


def _initial_email(request: HttpRequest) -> str:
    return request.user.email if request.user.is_authenticated else ""


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=RATE_PER_CLIENT, method="POST", block=False)
@ratelimit(key=posted_address, rate=RATE_PER_ADDRESS, method="POST", block=False)
def subscribe(request: HttpRequest, slug: str) -> HttpResponse:
    """POST an address to the product's waitlist. The answer is the same whether the address
    was new, already waiting or anything else, so nobody learns who is subscribed."""
    if getattr(request, "limited", False):
        return render(request, "storefront/subscribe_limited.html", status=429)
    product = get_object_or_404(Product, slug=slug, is_active=True)
    if request.method == "GET":
        form = SubscribeForm(initial={"email": _initial_email(request)})
        return render(request, "storefront/subscribe.html", {"product": product, "form": form})
    form = SubscribeForm(request.POST)
    if not form.is_valid():
        return render(request, "storefront/subscribe.html", {"product": product, "form": form})
    email = form.cleaned_data["email"]
    waitlist.subscription_create(
        product=product,
        email=email,
        user=request.user if request.user.is_authenticated else None,
        language=request.LANGUAGE_CODE,
    )
    return render(request, "storefront/subscribe_done.html", {"product": product, "email": email})


@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """The link in a back-in-stock email: no sign-in. GET asks to confirm (mail scanners
    follow links), POST unsubscribes; a second POST says it was already done."""
    subscription = waitlist.subscription_from_token(token)
    if subscription is None:
        error = _(
            "This unsubscribe link is not valid. Copy the whole link from the email, "
            "or remove the alert in your account."
        )
        return render(request, "storefront/unsubscribe.html", {"error": error}, status=404)
    if request.method == "POST":
        name = subscription.product.name
        if subscription.unsubscribed_at is not None:
            messages.info(
                request, _("You were already unsubscribed from alerts about %(product)s.") % {"product": name}
            )
        else:
            waitlist.subscription_cancel(subscription=subscription)
            messages.success(
                request, _("Unsubscribed: we will not email you about %(product)s.") % {"product": name}
            )
        return redirect(request.path)
    return render(request, "storefront/unsubscribe.html", {"subscription": subscription})


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
        messages.success(
            request,
            _("Removed the back-in-stock alert for %(product)s.") % {"product": subscription.product.name},
        )
        return redirect("storefront:subscriptions")
    page = Paginator(
        mine.select_related("product").order_by("-created_at", "-pk"), SUBSCRIPTIONS_PER_PAGE
    ).get_page(request.GET.get("page"))
    return render(request, "storefront/subscriptions.html", {"page": page})
