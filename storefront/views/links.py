"""Pages reached by a signed link with no sign-in: a guest's order page and its cancel form,
and the cancel link in emails. The tokens are made and read by orders.links and
notifications.links (emails carry them too)."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from notifications.links import row_from_cancel_token
from orders.exceptions import OrderError
from orders.links import LinkExpired, LinkInvalid, order_number_from_token, order_url
from orders.models import Order
from orders.services import row_cancel

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
    return order_page(
        request,
        order,
        cancel_url=cancel_url,
        guest=True,
        pay_url=reverse("storefront:guest_pay", kwargs={"token": token}),
        pay_link_url=lambda entry_id: reverse(
            "storefront:guest_shipment_pay", kwargs={"token": token, "entry_id": entry_id}
        ),
    )


@require_POST
def guest_row_cancel(request: HttpRequest, token: str) -> HttpResponse:
    try:
        number = _order_number_from_token(token)
    except LinkExpired:
        return _guest_link_expired(request)
    order = get_object_or_404(Order, number=number)
    cancel_row(request, order)
    return redirect("storefront:guest_order", token=token)


@require_http_methods(["GET", "POST"])
def row_cancel_link(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks to confirm (mail scanners follow links), POST cancels. Works once."""
    try:
        row = row_from_cancel_token(token)
    except LinkInvalid as exc:
        return render(request, "storefront/row_cancel.html", {"error": str(exc)}, status=404)
    if request.method == "POST":
        try:
            row_cancel(row_ids=[row.pk], by_customer=True, reason="Cancelled from email link")
        except OrderError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _("%(n)s × %(product)s cancelled.") % {"n": row.quantity, "product": row.product.name},
            )
        return redirect(request.path)
    return render(
        request,
        "storefront/row_cancel.html",
        {"row": row, "order": row.order, "order_url": order_url(row.order)},
    )
