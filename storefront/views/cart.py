"""The cart pages: add, change, remove, review. Availability comes from orders.selectors
(the one door); the cart itself is in storefront.cart."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from catalog.availability import Decision
from catalog.models import Product
from orders.selectors import availability_for
from orders.services import MAX_LINE_QUANTITY

from ..cart import Cart, alternatives_by_product, split_text
from ..forms import CartLineForm, CartRemoveForm
from ..money import cart_totals


def _posted_product(form) -> Product:
    """The active product a cart form names, or 404 (unknown, inactive or unreadable id)."""
    form.is_valid()
    if "product_id" in form.errors or "product_id" not in form.cleaned_data:
        raise Http404("No such product.")
    return get_object_or_404(Product, pk=form.cleaned_data["product_id"], is_active=True)


def _quantity_error(form) -> str:
    return " ".join(form.errors.get("quantity", [_("Enter a valid quantity.")]))


class _Refused(Exception):
    """The quantity asked for may not be in the cart; the message says why."""


def _cart_set_checked(cart: Cart, product: Product, quantity: int) -> Decision:
    """Put ``quantity`` of ``product`` in the cart if the per-order limit and availability
    allow it; the decision says how it will be served. Raises _Refused with the reason."""
    if quantity > MAX_LINE_QUANTITY:  # the form caps one entry; an add can pass it in total
        raise _Refused(
            _("%(product)s: at most %(n)s per order.")
            % {"product": product.name, "n": number_format(MAX_LINE_QUANTITY, force_grouping=True)}
        )
    decision = availability_for(product=product).decide(quantity)
    if not decision.ok:
        raise _Refused(decision.reason)
    cart.set(product.pk, quantity, outcome=decision.outcome)
    return decision


@require_POST
def cart_add(request: HttpRequest) -> HttpResponse:
    form = CartLineForm(request.POST)
    product = _posted_product(form)
    back = reverse("storefront:product_detail", kwargs={"slug": product.slug})
    if not form.is_valid():
        messages.error(
            request, _("%(product)s: %(error)s") % {"product": product.name, "error": _quantity_error(form)}
        )
        return redirect(back)
    cart = Cart(request.session)
    added = form.cleaned_data["quantity"]
    total = cart.quantity_of(product.pk) + added
    try:
        decision = _cart_set_checked(cart, product, total)
    except _Refused as refused:
        messages.error(request, str(refused))
        return redirect(back)
    text = _("Added %(n)s × %(product)s to your cart.") % {"n": added, "product": product.name}
    if decision.notify_customer:
        text += " " + _("Of the %(total)s in your cart: %(split)s") % {
            "total": total,
            "split": split_text(decision),
        }
    messages.success(request, text)
    return redirect("storefront:cart")


@require_POST
def cart_update(request: HttpRequest) -> HttpResponse:
    form = CartLineForm(request.POST)
    product = _posted_product(form)
    cart = Cart(request.session)
    if not cart.quantity_of(product.pk):
        messages.error(request, _("%(product)s is not in your cart.") % {"product": product.name})
        return redirect("storefront:cart")
    if not form.is_valid():
        messages.error(
            request,
            _("%(product)s: %(error)s Your cart was not changed.")
            % {"product": product.name, "error": _quantity_error(form)},
        )
        return redirect("storefront:cart")
    quantity = form.cleaned_data["quantity"]
    try:
        decision = _cart_set_checked(cart, product, quantity)
    except _Refused as refused:
        messages.error(request, _("%(reason)s Your cart was not changed.") % {"reason": refused})
        return redirect("storefront:cart")
    text = _("%(product)s: quantity changed to %(n)s.") % {"product": product.name, "n": quantity}
    if decision.notify_customer:
        text += " " + split_text(decision)
    messages.success(request, text)
    return redirect("storefront:cart")


@require_POST
def cart_remove(request: HttpRequest) -> HttpResponse:
    form = CartRemoveForm(request.POST)
    if not form.is_valid():
        raise Http404("No such product.")
    pid = form.cleaned_data["product_id"]
    if Cart(request.session).remove(pid):
        name = Product.objects.filter(pk=pid).values_list("name", flat=True).first() or _("The item")
        messages.success(request, _("%(product)s was removed from your cart.") % {"product": name})
    return redirect("storefront:cart")


@require_GET
def cart_detail(request: HttpRequest) -> HttpResponse:
    review = Cart(request.session).review()
    review.flash(request)
    return render(
        request,
        "storefront/cart.html",
        {
            "review": review,
            "totals": cart_totals(review.lines),
            "alternatives": alternatives_by_product(line.product for line in review.problems),
        },
    )
