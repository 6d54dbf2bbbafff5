"""The signed-in customer's orders: the list, one order's page, cancelling a waiting row.
The order page and its cancel form also serve the signed guest link (views.links)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from orders.exceptions import InvalidTransition, NotAllowed, OrderError
from orders.models import Order, OrderRow, ReturnRequest, RowStatus
from orders.selectors import rows_returnable
from orders.services import return_request, row_cancel

from ..forms import ReturnRequestForm, RowCancelForm
from ..money import order_money

ORDERS_PER_PAGE = 20


def orders_with_rows():
    rows = OrderRow.objects.select_related("product", "source").order_by("line_no", "pk")
    return Order.objects.select_related("totals").prefetch_related(Prefetch("rows", queryset=rows))


@login_required
@require_GET
def account(request: HttpRequest) -> HttpResponse:
    orders = Order.objects.filter(user=request.user).select_related("totals").prefetch_related("rows")
    page = Paginator(orders, ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    summaries = []
    for order in page.object_list:
        live = [r for r in order.rows.all() if r.status != RowStatus.CANCELLED]
        totals = getattr(order, "totals", None)  # the snapshot; none for orders placed before billing
        summaries.append(
            {
                "order": order,
                "units": sum(r.quantity for r in live),
                "total": totals.total if totals else sum((r.line_total for r in live), 0),
                "currency": totals.currency if totals else None,
            }
        )
    return render(request, "storefront/account.html", {"page": page, "summaries": summaries})


def order_page(
    request: HttpRequest,
    order: Order,
    *,
    cancel_url: str,
    guest: bool,
    pay_url: str,
    pay_link_url,
    return_url: str = "",
) -> HttpResponse:
    """``pay_link_url(entry_id)``: where this page's reader pays a shipment's pay link;
    ``return_url``: where a signed-in customer asks to return shipped units (none for guests)."""
    money = order_money(order)
    pay_links = [(entry, pay_link_url(entry.pk)) for entry in money.pay_links]
    returnable = rows_returnable(order_id=order.pk) if return_url else {}
    return render(
        request,
        "storefront/order_detail.html",
        {
            "order": order,
            "cancel_url": cancel_url,
            "guest": guest,
            "money": money,
            "pay_url": pay_url,
            "pay_links": pay_links,
            "shipments": order.shipments.select_related("source").order_by("shipped_at", "pk"),
            "returns": ReturnRequest.objects.filter(row__order=order)
            .select_related("row__product")
            .order_by("created_at", "pk"),
            "returnable": [(row, returnable[row.pk]) for row in order.rows.all() if row.pk in returnable],
            "return_url": return_url,
        },
    )


@login_required
@require_GET
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    # Another customer's order answers 404, exactly like an order that does not exist.
    order = get_object_or_404(orders_with_rows(), number=number, user=request.user)
    cancel_url = reverse("storefront:order_row_cancel", kwargs={"number": number})
    return order_page(
        request,
        order,
        cancel_url=cancel_url,
        guest=False,
        pay_url=reverse("storefront:order_pay", kwargs={"number": number}),
        pay_link_url=lambda entry_id: reverse(
            "storefront:shipment_pay", kwargs={"number": number, "entry_id": entry_id}
        ),
        return_url=reverse("storefront:order_return", kwargs={"number": number}),
    )


def cancel_row(request: HttpRequest, order: Order) -> None:
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
        messages.error(
            request, _("%(product)s: this row can no longer be cancelled.") % {"product": row.product.name}
        )
    else:
        messages.success(
            request, _("Cancelled %(n)s × %(product)s.") % {"n": row.quantity, "product": row.product.name}
        )


@login_required
@require_POST
def order_row_cancel(request: HttpRequest, number: str) -> HttpResponse:
    order = get_object_or_404(Order, number=number, user=request.user)
    cancel_row(request, order)
    return redirect("storefront:order_detail", number=number)


@login_required
@require_POST
def order_return(request: HttpRequest, number: str) -> HttpResponse:
    """The signed-in customer asks to return shipped units of one row of their order."""
    order = get_object_or_404(Order, number=number, user=request.user)
    form = ReturnRequestForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("storefront:order_detail", number=number)
    row = get_object_or_404(
        OrderRow.objects.select_related("product"), pk=form.cleaned_data["row_id"], order=order
    )
    try:
        ret = return_request(
            row_id=row.pk,
            quantity=form.cleaned_data["quantity"],
            reason=form.cleaned_data["reason"],
            user=request.user,
        )
    except OrderError as refused:
        messages.error(request, str(refused))
    else:
        messages.success(
            request,
            _("We have your request to return %(quantity)s × %(product)s; we will email you the next steps.")
            % {"quantity": ret.quantity, "product": row.product.name},
        )
    return redirect("storefront:order_detail", number=number)
