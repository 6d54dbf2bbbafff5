"""Storefront, cart, checkout and customer account pages.

Views parse input, ask orders.selectors for availability (the one door) and call
orders.services for every write; none of them re-derives a stock rule.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalog.models import Product

from .cart import Cart, split_text
from .exceptions import CheckoutRefused, EmptyCart, InvalidTransition, NotAllowed
from .forms import CartLineForm, CartRemoveForm, CheckoutForm, QuantityForm, RowCancelForm, SignupForm
from .links import LinkExpired, LinkInvalid, guest_order_path, order_number_from_token
from .models import Order, OrderRow, RowStatus
from .selectors import availability_for, availability_for_many
from .services import MAX_LINE_QUANTITY, Customer, checkout_place_order, row_cancel

PRODUCTS_PER_PAGE = 12
ORDERS_PER_PAGE = 20
PLACED_KEY = "orders_placed"  # order numbers this session placed: may see their confirmation
PLACED_KEEP = 20


def _order_number_from_token(token: str) -> str:
    """The order number a guest link names; LinkExpired for a genuine but old link."""
    try:
        return order_number_from_token(token)
    except LinkExpired:
        raise
    except LinkInvalid:
        raise Http404("This link is not valid.") from None


def _orders_with_rows():
    rows = OrderRow.objects.select_related("product", "source").order_by("line_no", "pk")
    return Order.objects.prefetch_related(Prefetch("rows", queryset=rows))


# -- catalogue --------------------------------------------------------------------------------


@require_GET
def product_list(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(Product.objects.filter(is_active=True), PRODUCTS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    products = list(page.object_list)
    found = availability_for_many(products=products)
    return render(
        request,
        "orders/product_list.html",
        {"page": page, "items": [(p, found[p.pk]) for p in products]},
    )


@require_GET
def product_detail(request: HttpRequest, slug: str) -> HttpResponse:
    product = get_object_or_404(Product, slug=slug, is_active=True)
    availability = availability_for(product=product)
    form = QuantityForm(request.GET if "quantity" in request.GET else None)
    quantity = form.cleaned_data["quantity"] if form.is_bound and form.is_valid() else 1
    in_cart = Cart(request.session).quantity_of(product.pk)
    return render(
        request,
        "orders/product_detail.html",
        {
            "product": product,
            "availability": availability,
            "quantity": quantity,
            "quantity_form": form,
            "decision": availability.decide(quantity),
            "in_cart": in_cart,
        },
    )


# -- cart -------------------------------------------------------------------------------------


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
    back = reverse("orders:product_detail", kwargs={"slug": product.slug})
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
    return redirect("orders:cart")


@require_POST
def cart_update(request: HttpRequest) -> HttpResponse:
    form = CartLineForm(request.POST)
    product = _posted_product(form)
    cart = Cart(request.session)
    if not cart.quantity_of(product.pk):
        messages.error(request, f"{product.name} is not in your cart.")
        return redirect("orders:cart")
    if not form.is_valid():
        messages.error(request, f"{product.name}: {_quantity_error(form)} Your cart was not changed.")
        return redirect("orders:cart")
    quantity = form.cleaned_data["quantity"]
    decision = availability_for(product=product).decide(quantity)
    if not decision.ok:
        messages.error(request, f"{decision.reason} Your cart was not changed.")
        return redirect("orders:cart")
    cart.set(product.pk, quantity, outcome=decision.outcome)
    text = f"{product.name}: quantity changed to {quantity}."
    if decision.notify_customer:
        text += f" {split_text(decision)}"
    messages.success(request, text)
    return redirect("orders:cart")


@require_POST
def cart_remove(request: HttpRequest) -> HttpResponse:
    form = CartRemoveForm(request.POST)
    if not form.is_valid():
        raise Http404("No such product.")
    pid = form.cleaned_data["product_id"]
    if Cart(request.session).remove(pid):
        name = Product.objects.filter(pk=pid).values_list("name", flat=True).first() or "The item"
        messages.success(request, f"{name} was removed from your cart.")
    return redirect("orders:cart")


@require_GET
def cart_detail(request: HttpRequest) -> HttpResponse:
    review = Cart(request.session).review()
    review.flash(request)
    return render(request, "orders/cart.html", {"review": review})


# -- checkout ---------------------------------------------------------------------------------


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


def _remember_placed(request: HttpRequest, order: Order) -> None:
    placed = request.session.get(PLACED_KEY)
    placed = [n for n in placed if isinstance(n, str)] if isinstance(placed, list) else []
    request.session[PLACED_KEY] = [*placed[-(PLACED_KEEP - 1) :], order.number]


@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest) -> HttpResponse:
    cart = Cart(request.session)
    review = cart.review()
    review.flash(request)
    if review.is_empty:
        if not review.notices:
            messages.info(request, "Your cart is empty.")
        return redirect("orders:cart")
    problems = []
    if request.method == "POST":
        form = CheckoutForm(request.POST)
        if review.notices:
            # The customer has not seen these changes yet: show them before placing anything.
            messages.warning(request, "Your cart changed. Please check it, then place your order again.")
        elif form.is_valid():
            data = form.cleaned_data
            customer = Customer(
                email=data["email"],
                full_name=data["full_name"],
                address=data["address"],
                user=request.user if request.user.is_authenticated else None,
            )
            try:
                order = checkout_place_order(lines=review.cart_lines(), customer=customer)
            except CheckoutRefused as refused:
                problems = refused.problems
            except EmptyCart:
                messages.info(request, "Your cart is empty.")
                return redirect("orders:cart")
            else:
                cart.clear()
                _remember_placed(request, order)
                messages.success(request, f"Thank you! Your order {order.number} is placed.")
                return redirect("orders:order_confirmation", number=order.number)
    else:
        form = CheckoutForm(initial=_checkout_initial(request))
    return render(
        request,
        "orders/checkout.html",
        {"review": review, "form": form, "problems": problems},
    )


@require_GET
def order_confirmation(request: HttpRequest, number: str) -> HttpResponse:
    order = get_object_or_404(_orders_with_rows(), number=number)
    placed = request.session.get(PLACED_KEY)
    own = request.user.is_authenticated and order.user_id == request.user.pk
    if not own and not (isinstance(placed, list) and number in placed):
        raise Http404("No such order.")
    return render(
        request,
        "orders/confirmation.html",
        {"order": order, "guest_link": request.build_absolute_uri(guest_order_path(order))},
    )


# -- account ----------------------------------------------------------------------------------


@login_required
@require_GET
def account(request: HttpRequest) -> HttpResponse:
    orders = Order.objects.filter(user=request.user).prefetch_related("rows")
    page = Paginator(orders, ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    summaries = []
    for order in page.object_list:
        live = [r for r in order.rows.all() if r.status != RowStatus.CANCELLED]
        summaries.append(
            {
                "order": order,
                "units": sum(r.quantity for r in live),
                "total": sum((r.line_total for r in live), 0),
            }
        )
    return render(request, "orders/account.html", {"page": page, "summaries": summaries})


def _order_page(request: HttpRequest, order: Order, *, cancel_url: str, guest: bool) -> HttpResponse:
    return render(
        request,
        "orders/order_detail.html",
        {"order": order, "cancel_url": cancel_url, "guest": guest},
    )


@login_required
@require_GET
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    # Another customer's order answers 404, exactly like an order that does not exist.
    order = get_object_or_404(_orders_with_rows(), number=number, user=request.user)
    cancel_url = reverse("orders:order_row_cancel", kwargs={"number": number})
    return _order_page(request, order, cancel_url=cancel_url, guest=False)


def _guest_link_expired(request: HttpRequest) -> HttpResponse:
    return render(
        request, "orders/guest_link_expired.html", {"days": settings.GUEST_LINK_DAYS}, status=410
    )


@require_GET
def guest_order(request: HttpRequest, token: str) -> HttpResponse:
    try:
        number = _order_number_from_token(token)
    except LinkExpired:
        return _guest_link_expired(request)
    order = get_object_or_404(_orders_with_rows(), number=number)
    cancel_url = reverse("orders:guest_row_cancel", kwargs={"token": token})
    return _order_page(request, order, cancel_url=cancel_url, guest=True)


def _cancel_row(request: HttpRequest, order: Order) -> None:
    form = RowCancelForm(request.POST)
    if not form.is_valid():
        raise Http404("No such row.")
    row = get_object_or_404(
        OrderRow.objects.select_related("product"), pk=form.cleaned_data["row_id"], order=order
    )
    try:
        row_cancel(
            row_ids=[row.pk],
            user=request.user if request.user.is_authenticated else None,
            by_customer=True,
        )
    except NotAllowed as refused:
        messages.error(request, str(refused))
    except InvalidTransition:
        messages.error(request, f"{row.product.name}: this row can no longer be cancelled.")
    else:
        messages.success(request, f"Cancelled {row.quantity} × {row.product.name}.")


@login_required
@require_POST
def order_row_cancel(request: HttpRequest, number: str) -> HttpResponse:
    order = get_object_or_404(Order, number=number, user=request.user)
    _cancel_row(request, order)
    return redirect("orders:order_detail", number=number)


@require_POST
def guest_row_cancel(request: HttpRequest, token: str) -> HttpResponse:
    try:
        number = _order_number_from_token(token)
    except LinkExpired:
        return _guest_link_expired(request)
    order = get_object_or_404(Order, number=number)
    _cancel_row(request, order)
    return redirect("orders:guest_order", token=token)


# -- sign up ------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    if request.user.is_authenticated:
        return redirect(next_url or "orders:account")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.get_username()}! Your account is ready.")
        return redirect(next_url or "orders:account")
    return render(request, "registration/signup.html", {"form": form, "next": next_url})
