"""The payment step: the order's payment page (django-payments: the provider's form, or a
redirect to its page), the provider's return (success, failure), and a shipment's pay link.
Billing decides what may be paid (payment_start, pay_link_create) and records the outcome
(django-payments' status_changed); these views only show it."""

from urllib.error import URLError

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from payments import PaymentError, RedirectNeeded

from billing.exceptions import NotPayable
from billing.models import EntryKind, LedgerEntry, Payment, PaymentPurpose
from billing.selectors import order_is_paid
from billing.services import pay_link_create, payment_start
from orders.links import LinkExpired, guest_order_path
from orders.models import Order

from ..access import order_remember, order_visible
from .account import orders_with_rows
from .links import _guest_link_expired, _order_number_from_token


def _visible_order(request: HttpRequest, number: str) -> Order:
    order = get_object_or_404(orders_with_rows(), number=number)
    if not order_visible(request, order):
        raise Http404("No such order.")
    return order


def _when(moment) -> str:
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def _confirmation(order: Order) -> str:
    return reverse("storefront:order_confirmation", kwargs={"number": order.number})


def _order_page(order: Order) -> str:
    """The order's own page: the account's, or the signed guest page (for a browser that may see it)."""
    return order.get_absolute_url() if order.user_id else guest_order_path(order)


def _provider_form(request: HttpRequest, order: Order, payment: Payment, context: dict) -> HttpResponse:
    """The provider's form (GET), or the payer's answer to it (POST): a redirect to the
    provider's page, to 3-D Secure, or back to us (success / failure)."""
    try:
        form = payment.get_form(data=request.POST if request.method == "POST" else None)
    except RedirectNeeded as needed:
        return redirect(str(needed))
    except (PaymentError, URLError):
        # The provider failed after taking the answer: what billing recorded decides.
        payment.refresh_from_db()
        if payment.purpose == PaymentPurpose.CHECKOUT and order_is_paid(order_id=order.pk):
            return redirect(payment.get_success_url())
        messages.error(
            request, _("The payment service did not answer, so nothing was charged. Please try again.")
        )
        return redirect(request.path)
    return render(request, "storefront/payment.html", {"order": order, "form": form, **context})


@require_http_methods(["GET", "POST"])
def order_pay(request: HttpRequest, number: str) -> HttpResponse:
    """Pay for a placed order. The same payment for every tab while it waits; a new one
    after a decline; refused once paid or once the window has closed."""
    order = _visible_order(request, number)
    try:
        payment = payment_start(order_id=order.pk)
    except NotPayable as refused:
        if order_is_paid(order_id=order.pk):
            messages.info(
                request,
                _("Order %(number)s is paid already. Nothing more was charged.") % {"number": order.number},
            )
        else:
            messages.error(
                request,
                _("Order %(number)s can no longer be paid: %(reason)s")
                % {"number": order.number, "reason": refused.reason},
            )
        return redirect(_confirmation(order))
    return _provider_form(
        request, order, payment, {"payment": payment, "amount": payment.total, "shipment": None}
    )


@require_http_methods(["GET", "POST"])
def shipment_pay(request: HttpRequest, number: str, entry_id: int) -> HttpResponse:
    """A pay link: the amount of a shipment that no valid authorization covered."""
    order = _visible_order(request, number)
    entry = get_object_or_404(LedgerEntry, pk=entry_id, order=order, kind=EntryKind.CAPTURE)
    try:
        payment = pay_link_create(entry_id=entry.pk)
    except NotPayable:
        messages.info(request, _("This shipment is paid already. Nothing more was charged."))
        return redirect(_order_page(order))
    return _provider_form(
        request, order, payment, {"payment": payment, "amount": payment.total, "shipment": entry.shipment}
    )


def _guest_redirect(request: HttpRequest, token: str, name: str, **kwargs) -> HttpResponse:
    """A valid signed guest link lets this browser see and pay the order it names."""
    try:
        number = _order_number_from_token(token)
    except LinkExpired:
        return _guest_link_expired(request)
    get_object_or_404(Order, number=number)
    order_remember(request, number)
    return redirect(name, number=number, **kwargs)


@require_GET
def guest_pay(request: HttpRequest, token: str) -> HttpResponse:
    return _guest_redirect(request, token, "storefront:order_pay")


@require_GET
def guest_shipment_pay(request: HttpRequest, token: str, entry_id: int) -> HttpResponse:
    return _guest_redirect(request, token, "storefront:shipment_pay", entry_id=entry_id)


def _returned(request: HttpRequest, token: str) -> tuple[Payment, Order]:
    payment = get_object_or_404(Payment.objects.select_related("order"), token=token)
    return payment, payment.order


def _after_return(request: HttpRequest, payment: Payment, order: Order) -> HttpResponse:
    if payment.purpose == PaymentPurpose.PAY_LINK and order_visible(request, order):
        return redirect(_order_page(order))
    if order_visible(request, order):
        return redirect(_confirmation(order))
    # Back in a browser that does not know the order (the session ended): say no more than the result.
    return render(request, "storefront/payment_return.html", {"number": order.number})


@require_GET
def payment_success(request: HttpRequest, token: str) -> HttpResponse:
    payment, order = _returned(request, token)
    payment.refresh_from_db()
    if payment.purpose == PaymentPurpose.PAY_LINK:
        messages.success(
            request, _("Payment received for order %(number)s. Thank you!") % {"number": order.number}
        )
    elif order_is_paid(order_id=order.pk):
        messages.success(
            request,
            _("Thank you! Payment received: your order %(number)s is confirmed.") % {"number": order.number},
        )
    else:  # a real provider may confirm a moment after it sends the payer back
        messages.info(request, _("We are waiting for the payment service to confirm your payment."))
    return _after_return(request, payment, order)


@require_GET
def payment_failure(request: HttpRequest, token: str) -> HttpResponse:
    payment, order = _returned(request, token)
    if payment.purpose == PaymentPurpose.CHECKOUT and order_is_paid(order_id=order.pk):
        # another attempt (another tab) paid it: this one is not charged
        messages.info(
            request,
            _("Order %(number)s is paid already. Nothing more was charged.") % {"number": order.number},
        )
        return _after_return(request, payment, order)
    text = _("Your payment did not go through, so nothing was charged.")
    if payment.purpose == PaymentPurpose.CHECKOUT and timezone.now() <= order.totals.pay_by:
        text += " " + _("You can try again until %(when)s.") % {"when": _when(order.totals.pay_by)}
        messages.error(request, text)
        if order_visible(request, order):
            return redirect("storefront:order_pay", number=order.number)
    else:
        messages.error(request, text)
    return _after_return(request, payment, order)
