"""Pages reached by a signed link with no sign-in: a guest's order page and its cancel form.
The tokens are made and read by orders.links."""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from orders.links import LinkExpired, LinkInvalid, order_number_from_token
from orders.models import Order

from .account import cancel_row, order_page, orders_with_rows


def _order_number_from_token(token: str) -> str:
    """The order number a guest link names; LinkExpired for a genuine but old link."""
    try:
        return order_number_from_token(token)
    except LinkExpired:
        raise
    except LinkInvalid:
        raise Http404("This link is not valid.") from None


def _guest_link_expired(request: HttpRequest) -> HttpResponse:
    return render(
        request, "storefront/guest_link_expired.html", {"days": settings.GUEST_LINK_DAYS}, status=410
    )


@require_GET
def guest_order(request: HttpRequest, token: str) -> HttpResponse:
    try:
        number = _order_number_from_token(token)
    except LinkExpired:
        return _guest_link_expired(request)
    order = get_object_or_404(orders_with_rows(), number=number)
    cancel_url = reverse("storefront:guest_row_cancel", kwargs={"token": token})
    return order_page(request, order, cancel_url=cancel_url, guest=True)


@require_POST
def guest_row_cancel(request: HttpRequest, token: str) -> HttpResponse:
    try:
        number = _order_number_from_token(token)
    except LinkExpired:
        return _guest_link_expired(request)
    order = get_object_or_404(Order, number=number)
    cancel_row(request, order)
    return redirect("storefront:guest_order", token=token)
