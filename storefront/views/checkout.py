"""Checkout and its confirmation page. The order is placed by
orders.services.checkout_place_order; the payment page (views.payment) comes between."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from orders.exceptions import CheckoutRefused
from orders.links import guest_order_path
from orders.services import Customer, checkout_place_order

from ..access import order_remember, order_visible
from ..cart import Cart, CartChanged, alternatives_by_product
from ..forms import CheckoutForm
from ..money import cart_totals, order_money
from .account import orders_with_rows


def _checkout_initial(request: HttpRequest) -> dict:
    user = request.user
    if not user.is_authenticated:
        return {}
    last_address = user.orders.values_list("address", flat=True).first()
    return {
        "email": user.email,
        "full_name": user.get_full_name() or user.get_username(),
        "address": last_address or "",
    }


def _customer(request: HttpRequest, form: CheckoutForm) -> Customer:
    data = form.cleaned_data
    return Customer(
        email=data["email"],
        full_name=data["full_name"],
        address=data["address"],
        user=request.user if request.user.is_authenticated else None,
        language=request.LANGUAGE_CODE,
    )


@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest) -> HttpResponse:
    cart = Cart(request.session)
    problems = []
    if request.method == "POST":
        form = CheckoutForm(request.POST)
        # The cart is checked once, by the checkout under its locks (refuse_if_changed):
        # a cart that changed since the customer saw it places nothing and is shown again.
        if form.is_valid() and (lines := cart.lines_to_place()):
            try:
                order = checkout_place_order(
                    lines=lines,
                    customer=_customer(request, form),
                    check=cart.refuse_if_changed,
                    expect_waiting=cart.expected_waiting(),
                )
            except CartChanged:
                pass
            except CheckoutRefused as refused:
                problems = refused.problems
            else:
                cart.clear()
                order_remember(request, order.number)
                messages.success(
                    request,
                    _("Your order %(number)s is placed. Please pay to confirm it.")
                    % {"number": order.number},
                )
                return redirect("storefront:order_pay", number=order.number)
    else:
        form = None
    review = cart.review()
    review.flash(request)
    if review.is_empty:
        if not review.notices:
            messages.info(request, _("Your cart is empty."))
        return redirect("storefront:cart")
    if form is None:
        form = CheckoutForm(initial=_checkout_initial(request))
    elif review.notices and not problems:
        # The customer has not seen these changes yet: show them before placing anything.
        messages.warning(request, _("Your cart changed. Please check it, then place your order again."))
    refused = {p.product_id for p in problems} | {line.product.pk for line in review.problems}
    return render(
        request,
        "storefront/checkout.html",
        {
            "review": review,
            "form": form,
            "problems": problems,
            "totals": cart_totals(review.lines),
            "alternatives": alternatives_by_product(
                line.product for line in review.lines if line.product.pk in refused
            ),
        },
    )


@require_GET
def order_confirmation(request: HttpRequest, number: str) -> HttpResponse:
    order = get_object_or_404(orders_with_rows(), number=number)
    if not order_visible(request, order):
        raise Http404("No such order.")
    return render(
        request,
        "storefront/confirmation.html",
        {
            "order": order,
            "money": order_money(order),
            "pay_url": reverse("storefront:order_pay", kwargs={"number": order.number}),
            "guest_link": request.build_absolute_uri(guest_order_path(order)),
        },
    )
