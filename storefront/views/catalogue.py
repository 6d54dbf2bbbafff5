"""The catalogue: the product list and the product page."""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from catalog.availability import Outcome
from catalog.models import Product
from orders.selectors import alternatives_for, availability_for, availability_for_many

from ..cart import Cart
from ..forms import QuantityForm

PRODUCTS_PER_PAGE = 12


@require_GET
def product_list(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(Product.objects.filter(is_active=True), PRODUCTS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    products = list(page.object_list)
    found = availability_for_many(products=products)
    return render(
        request,
        "storefront/product_list.html",
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
        "storefront/product_detail.html",
        {
            "product": product,
            "availability": availability,
            "quantity": quantity,
            "quantity_form": form,
            "decision": availability.decide(quantity),
            "in_cart": in_cart,
            # "Want it sooner?": only where one unit could not ship now.
            "alternatives": (
                alternatives_for(product=product)
                if availability.decide(1).outcome != Outcome.IN_STOCK
                else []
            ),
        },
    )
