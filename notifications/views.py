"""Pages reached from emails (cancel a waiting row) and the back-in-stock waitlist."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from orders import services as order_services
from orders.exceptions import OrderError
from orders.links import LinkInvalid, order_url

from .links import row_from_cancel_token


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
