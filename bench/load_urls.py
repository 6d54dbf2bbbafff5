"""The shop's URLs plus the yardstick of bench/checkout_load.py: a checkout written with
the plain ORM, posted the same way as the shop's (session cart, CSRF, the same form).

Benchmark only, never mounted by config.urls. It does the work every checkout must do
and nothing else: lock the cart's stock rows in primary-key order, take free stock by
source priority, backorder the rest, insert the order and its rows, update the stock,
empty the cart. No policy (backorders are allowed without limit), no events, no
emails, no totals: a floor to compare against, not a shop.
"""

import secrets
from collections import defaultdict

from django.db import transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.urls import path
from django.views.decorators.http import require_POST

from config.urls import urlpatterns as shop_urlpatterns
from inventory.models import Stock
from orders.models import Order, OrderRow, RowStatus
from storefront.forms import CheckoutForm


@require_POST
def plain_checkout(request: HttpRequest) -> HttpResponse:
    cart = {int(k): v for k, v in (request.session.get("cart") or {}).items()}
    form = CheckoutForm(request.POST)
    if not cart or not form.is_valid():
        return HttpResponseBadRequest("empty cart or bad form")
    with transaction.atomic():
        stocks = list(
            Stock.objects.select_for_update(of=("self",))
            .filter(product_id__in=cart, source__is_active=True)
            .select_related("product", "source")
            .order_by("pk")
        )
        by_product = defaultdict(list)
        for stock in sorted(stocks, key=lambda s: (s.source.priority, s.source_id)):
            by_product[stock.product_id].append(stock)
        order = Order.objects.create(number="Y-" + secrets.token_hex(5).upper(), **form.cleaned_data)
        rows = []
        for line_no, (product_id, quantity) in enumerate(sorted(cart.items()), start=1):
            remaining = quantity
            for stock in by_product[product_id]:
                take = min(stock.on_hand - stock.allocated, remaining)
                if take > 0:
                    Stock.objects.filter(pk=stock.pk).update(allocated=F("allocated") + take)
                    rows.append((stock.product, RowStatus.ALLOCATED, take, stock.source_id, line_no))
                    remaining -= take
            if remaining:
                product = by_product[product_id][0].product
                rows.append((product, RowStatus.BACKORDERED, remaining, None, line_no))
        OrderRow.objects.bulk_create(
            OrderRow(
                order=order,
                product=product,
                status=status,
                quantity=quantity,
                source_id=source_id,
                unit_price=product.price,
                queue_at=order.placed_at,
                line_no=line_no,
            )
            for product, status, quantity, source_id, line_no in rows
        )
    request.session.pop("cart", None)
    return redirect("storefront:order_pay", number=order.number)


urlpatterns = [path("bench/plain-checkout/", plain_checkout), *shop_urlpatterns]
