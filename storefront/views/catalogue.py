"""The catalogue: the product listings (the shop, a category, a search) and the product page."""

from django.core.paginator import Paginator
from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from catalog.availability import Outcome
from catalog.models import Category, Product, ProductImage
from catalog.search import products_matching
from catalog.selectors import categories_tree, category_products, category_trail
from orders.selectors import alternatives_for, availability_for, availability_for_many, product_offers

from ..cart import Cart
from ..forms import SORT_BY_SHIPS_BY, ProductFilterForm, QuantityForm

PRODUCTS_PER_PAGE = 12
# The SQL order of each sort key; the ships-by date is the availability rule's, so that
# sort happens after it (orders.selectors.product_offers) on the name order.
ORDERINGS = {
    "": ("-rank", "name", "pk"),
    "name": ("name", "pk"),
    "price": ("price", "name", "pk"),
    "-price": ("-price", "name", "pk"),
    SORT_BY_SHIPS_BY: ("name", "pk"),
}


def _images() -> Prefetch:
    return Prefetch("images", queryset=ProductImage.objects.order_by("position", "pk"))


def _listing(request: HttpRequest, products: QuerySet, *, heading: str, category: Category | None = None):
    """One page of ``products`` as the customer searched, kept and sorted them (ProductFilterForm)."""
    form = ProductFilterForm(request.GET)
    text, keep, sort = form.values()
    if text:
        products = products_matching(products, text=text)
    elif not sort:
        sort = "name"
    products = products.order_by(*ORDERINGS[sort])
    if keep or sort == SORT_BY_SHIPS_BY:
        # Every candidate is asked (the rule decides what is in stock and when it ships),
        # then one page of them is shown.
        offers = product_offers(products=products, keep=keep or None, by_ships_by=sort == SORT_BY_SHIPS_BY)
        page = Paginator(offers, PRODUCTS_PER_PAGE).get_page(request.GET.get("page"))
        items = [(o.product, o.availability) for o in page.object_list]
    else:
        page = Paginator(products, PRODUCTS_PER_PAGE).get_page(request.GET.get("page"))
        found = availability_for_many(products=page.object_list)
        items = [(p, found[p.pk]) for p in page.object_list]
    prefetch_related_objects([product for product, _avail in items], _images())  # this page's only
    return render(
        request,
        "storefront/product_list.html",
        {
            "page": page,
            "items": items,
            "heading": heading,
            "search_text": text,
            "filter_form": form,
            "category": category,
            "trail": category_trail(category),
            "categories": categories_tree(),
        },
    )


@require_GET
def product_list(request: HttpRequest) -> HttpResponse:
    return _listing(request, Product.objects.filter(is_active=True), heading=_("Shop"))


@require_GET
def category_detail(request: HttpRequest, slug: str) -> HttpResponse:
    category = get_object_or_404(Category.objects.select_related("parent"), slug=slug)
    return _listing(request, category_products(category=category), heading=category.name, category=category)


@require_GET
def product_detail(request: HttpRequest, slug: str) -> HttpResponse:
    product = get_object_or_404(
        Product.objects.select_related("category__parent").prefetch_related(_images()),
        slug=slug,
        is_active=True,
    )
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
            "trail": category_trail(product.category),
        },
    )
