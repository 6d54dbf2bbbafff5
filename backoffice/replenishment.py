"""The replenishment page (``admin:replenishment``): suggestions by preferred supplier, with
the numbers behind each, and one action that drafts the selected ones as purchase orders.

Served by RestockAdminSite.get_urls through admin_view (staff only). Seeing it needs
``inventory.view_purchaseorder``; the action ``inventory.add_purchaseorder``. The page asks
orders.selectors.replenishment_suggestions and the action
orders.services.purchase_orders_from_suggestions; neither re-derives the rule.
"""

from itertools import groupby

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from catalog.selectors import global_settings_get
from orders.exceptions import ReplenishmentRefused
from orders.selectors import replenishment_suggestions
from orders.services import purchase_orders_from_suggestions

VIEW_PURCHASING = "inventory.view_purchaseorder"
ADD_PURCHASING = "inventory.add_purchaseorder"


def _selected_ids(values: list[str]) -> list[int]:
    ids = []
    for value in values:
        try:
            ids.append(int(value))
        except ValueError:
            continue  # not a product id: never offered by the page
    return ids


def _groups(suggestions) -> list[dict]:
    """Suggestions by preferred supplier (by name), those without one last."""

    def key(s):
        supplier = s.supplier
        return (supplier is None, supplier.name if supplier else "", supplier.pk if supplier else 0)

    ordered = sorted(suggestions, key=lambda s: (*key(s), s.product.name, s.product.pk))
    return [
        {"supplier": items[0].supplier, "items": items}
        for _key, items in ((k, list(g)) for k, g in groupby(ordered, key=key))
    ]


def replenishment_view(site, request):
    user = request.user
    if not user.has_perm(VIEW_PURCHASING):
        raise PermissionDenied
    can_order = user.has_perm(ADD_PURCHASING)
    here = reverse("admin:replenishment", current_app=site.name)
    if request.method == "POST":
        if not can_order:
            raise PermissionDenied
        ids = _selected_ids(request.POST.getlist("product"))
        if not ids:
            messages.warning(request, _("Select the suggestions to order first."))
            return HttpResponseRedirect(here)
        try:
            orders = purchase_orders_from_suggestions(product_ids=ids, user=user)
        except ReplenishmentRefused as exc:
            messages.error(
                request,
                format_html(
                    "{} <ul>{}</ul>",
                    _("No purchase order was drafted:"),
                    format_html_join("", "<li>{}: {}</li>", exc.problems),
                ),
            )
            return HttpResponseRedirect(here)
        links = format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            (
                (
                    reverse("admin:inventory_purchaseorder_change", args=[po.pk], current_app=site.name),
                    po.number,
                )
                for po in orders
            ),
        )
        text = ngettext(
            "Drafted %(count)d purchase order:", "Drafted %(count)d purchase orders:", len(orders)
        ) % {"count": len(orders)}
        messages.success(request, format_html("{} {}", text, links))
        return HttpResponseRedirect(here)
    show_all = request.GET.get("all") == "1"
    window_days = global_settings_get().demand_window_days
    suggestions = replenishment_suggestions(window_days=window_days, only_to_order=not show_all)
    context = {
        **site.each_context(request),
        "title": _("Replenishment suggestions"),
        "groups": _groups(suggestions),
        "count": len(suggestions),
        "show_all": show_all,
        "can_order": can_order,
        "window_days": window_days,
    }
    request.current_app = site.name
    return TemplateResponse(request, "admin/replenishment/index.html", context)
