from django.shortcuts import render

from catalog.models import Product

from .selectors import availability_for_many


def product_list(request):
    products = list(Product.objects.filter(is_active=True))
    found = availability_for_many(products=products)
    return render(
        request,
        "orders/product_list.html",
        {"items": [(p, found[p.pk]) for p in products]},
    )
