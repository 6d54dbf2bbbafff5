"""The cart pages: add, change, remove, review. Availability comes from orders.selectors
(the one door); the cart itself is in storefront.cart."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from catalog.models import Product
from orders.selectors import availability_for
from orders.services import MAX_LINE_QUANTITY

from ..cart import Cart, split_text
from ..forms import CartLineForm, CartRemoveForm


def _posted_product(form) -> Product:
    """The active product a cart form names, or 404 (unknown, inactive or unreadable id)."""
    form.is_valid()
    if "product_id" in form.errors or "product_id" not in form.cleaned_data:
        raise Http404("No such product.")
    return get_object_or_404(Product, pk=form.cleaned_data["product_id"], is_active=True)


def _quantity_error(form) -> str:
    return " ".join(form.errors.get("quantity", ["Enter a valid quantity."]))


@require_POST
def cart_add(request: HttpRequest) -> HttpResponse:
    form = CartLineForm(request.POST)
    product = _posted_product(form)
    back = reverse("storefront:product_detail", kwargs={"slug": product.slug})
    if not form.is_valid():
        messages.error(request, f"{product.name}: {_quantity_error(form)}")
        return redirect(back)
    cart = Cart(request.session)
    added = form.cleaned_data["quantity"]
    total = cart.quantity_of(product.pk) + added
    if total > MAX_LINE_QUANTITY:
        messages.error(request, f"{product.name}: at most {MAX_LINE_QUANTITY:,} per order.")
        return redirect(back)
    decision = availability_for(product=product).decide(total)
    if not decision.ok:
        messages.error(request, decision.reason)
        return redirect(back)
    cart.set(product.pk, total, outcome=decision.outcome)
    text = f"Added {added} × {product.name} to your cart."
    if decision.notify_customer:
        text += f" Of the {total} in your cart: {split_text(decision)}"
    messages.success(request, text)
    return redirect("storefront:cart")


@require_POST
def cart_update(request: HttpRequest) -> HttpResponse:
    form = CartLineForm(request.POST)
    product = _posted_product(form)
    cart = Cart(request.session)
    if not cart.quantity_of(product.pk):
        messages.error(request, f"{product.name} is not in your cart.")
        return redirect("storefront:cart")
    if not form.is_valid():
        messages.error(request, f"{product.name}: {_quantity_error(form)} Your cart was not changed.")
        return redirect("storefront:cart")
    quantity = form.cleaned_data["quantity"]
    decision = availability_for(product=product).decide(quantity)
    if not decision.ok:
        messages.error(request, f"{decision.reason} Your cart was not changed.")
        return redirect("storefront:cart")
    cart.set(product.pk, quantity, outcome=decision.outcome)
    text = f"{product.name}: quantity changed to {quantity}."
    if decision.notify_customer:
        text += f" {split_text(decision)}"
    messages.success(request, text)
    return redirect("storefront:cart")


@require_POST
def cart_remove(request: HttpRequest) -> HttpResponse:
    form = CartRemoveForm(request.POST)
    if not form.is_valid():
        raise Http404("No such product.")
    pid = form.cleaned_data["product_id"]
    if Cart(request.session).remove(pid):
        name = Product.objects.filter(pk=pid).values_list("name", flat=True).first() or "The item"
        messages.success(request, f"{name} was removed from your cart.")
    return redirect("storefront:cart")


@require_GET
def cart_detail(request: HttpRequest) -> HttpResponse:
    review = Cart(request.session).review()
    review.flash(request)
    return render(request, "storefront/cart.html", {"review": review})
