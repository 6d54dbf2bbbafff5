"""The replenishment page: suggestions by preferred supplier with their numbers, and the one
action that drafts the selected ones as purchase orders (one per supplier)."""

import re
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse

from inventory.models import PurchaseOrder, PurchaseOrderLine, PurchaseOrderStatus, Supplier
from orders.exceptions import ReplenishmentRefused
from orders.models import RowStatus
from orders.services import purchase_orders_from_suggestions
from tests.catalog.factories import ProductFactory
from tests.helpers import receive, staff_client
from tests.inventory.factories import SupplierProductFactory
from tests.orders.factories import OrderRowFactory

pytestmark = pytest.mark.django_db

URL = "/admin/replenishment/"
VIEW, ADD = "inventory.view_purchaseorder", "inventory.add_purchaseorder"


def supplier(name: str, lead: int = 10) -> Supplier:
    return Supplier.objects.create(
        name=name, email=f"{name.split()[0].lower()}@supplier.example", lead_time_days=lead
    )


def product(sku: str, name: str, waiting: int, *, sells=None, moq: int = 1, pack: int = 1):
    item = ProductFactory(sku=sku, name=name, backorderable=True)
    if waiting:
        OrderRowFactory(product=item, quantity=waiting, status=RowStatus.BACKORDERED)
    if sells:
        SupplierProductFactory(
            supplier=sells,
            product=item,
            cost_price=Decimal("3.50"),
            min_order_qty=moq,
            pack_size=pack,
            is_preferred=True,
        )
    return item


@pytest.fixture
def shop(main, global_settings):
    """Two suppliers: Acme sells the kettle (MOQ 10) and the mug (packs of 6), Brio the lamp;
    nobody the vase. The pen has nothing to order (50 free)."""
    acme, brio = supplier("Acme Kitchen"), supplier("Brio Lighting", lead=20)
    items = {
        "kettle": product("KETTLE-1", "Copper kettle", 3, sells=acme, moq=10),
        "mug": product("MUG-1", "Stoneware mug", 4, sells=acme, pack=6),
        "lamp": product("LAMP-1", "Desk lamp", 2, sells=brio),
        "vase": product("VASE-1", "Glass vase", 1),
        "pen": product("PEN-1", "Fountain pen", 0, sells=brio),
    }
    receive(items["pen"], 50, main)
    return {"acme": acme, "brio": brio, **items}


def groups(html: str) -> dict[str, list[str]]:
    """Supplier heading -> SKUs listed under it, in page order."""
    found = {}
    for section in re.findall(r'<section class="module rp-group".*?</section>', html, re.S):
        heading = unescape(re.search(r"<h2[^>]*>(.*?)</h2>", section, re.S).group(1).strip())
        found[heading] = re.findall(r'data-sku="([^"]+)"', section)
    return found


def figures(html: str, sku: str) -> dict[str, str]:
    row = re.search(rf'<tr id="suggestion-{re.escape(sku)}".*?</tr>', html, re.S).group(0)
    return {
        name: re.sub(r"<div.*", "", value, flags=re.S).strip()
        for name, value in re.findall(r'data-figure="([^"]+)">(.*?)</td>', row, re.S)
    }


def test_suggestions_are_grouped_by_preferred_supplier_with_their_numbers(admin_client, shop):
    html = admin_client.get(URL).content.decode()

    assert groups(html) == {
        "Acme Kitchen": ["KETTLE-1", "MUG-1"],
        "Brio Lighting": ["LAMP-1"],
        "No preferred supplier": ["VASE-1"],
    }
    # 3 ordered in the window (28 days) over a 10-day lead: 1.07 → reorder point 2;
    # 3 waiting + 2 − 0 free − 0 inbound = 5, raised to the minimum of 10
    assert figures(html, "KETTLE-1") == {
        "demand": "3", "daily": "0.11", "lead": "10", "safety": "0", "reorder-point": "2",
        "waiting": "3", "free": "0", "inbound": "0", "in-draft": "0", "suggested": "10",
    }  # fmt: skip
    assert figures(html, "MUG-1")["suggested"] == "6"  # 4 + 2 = 6: one pack of 6
    # no supplier: nothing to tick
    assert f'name="product" value="{shop["vase"].pk}"' not in html
    assert f'name="product" value="{shop["kettle"].pk}"' in html


def test_every_product_on_request(admin_client, shop):
    html = admin_client.get(URL, {"all": "1"}).content.decode()
    assert "PEN-1" in groups(html)["Brio Lighting"]
    assert figures(html, "PEN-1")["suggested"] == "0"


def test_the_action_drafts_one_purchase_order_per_supplier(admin_client, shop, main):
    picked = [shop["kettle"].pk, shop["mug"].pk, shop["lamp"].pk]
    response = admin_client.post(URL, {"product": picked}, follow=True)

    orders = list(PurchaseOrder.objects.order_by("supplier__name"))
    assert [(o.supplier.name, o.status) for o in orders] == [
        ("Acme Kitchen", PurchaseOrderStatus.DRAFT),
        ("Brio Lighting", PurchaseOrderStatus.DRAFT),
    ]
    assert sorted(
        (line.purchase_order.supplier.name, line.product.sku, line.quantity, line.source.code, line.unit_cost)
        for line in PurchaseOrderLine.objects.all()
    ) == [
        ("Acme Kitchen", "KETTLE-1", 10, "main", Decimal("3.50")),
        ("Acme Kitchen", "MUG-1", 6, "main", Decimal("3.50")),
        ("Brio Lighting", "LAMP-1", 4, "main", Decimal("3.50")),  # 2 waiting + 2
    ]
    page = response.content.decode()
    assert "Drafted 2 purchase orders:" in page
    for order in orders:
        assert reverse("admin:inventory_purchaseorder_change", args=[order.pk]) in page
    # the drafts are shown against the products, not counted as inbound (not sent yet)
    assert figures(page, "KETTLE-1")["in-draft"] == "10"
    assert figures(page, "KETTLE-1")["inbound"] == "0"


def test_one_refused_product_drafts_nothing_and_the_message_names_it(admin_client, shop):
    response = admin_client.post(
        URL, {"product": [shop["kettle"].pk, shop["vase"].pk, shop["pen"].pk]}, follow=True
    )

    assert not PurchaseOrder.objects.exists()
    page = unescape(response.content.decode())
    assert "No purchase order was drafted:" in page
    assert "VASE-1: no preferred supplier" in page
    assert "PEN-1: nothing to order now (free 50, inbound 0, waiting 0, reorder point 0)" in page


def test_nothing_selected_says_so(admin_client, shop):
    response = admin_client.post(URL, {}, follow=True)
    assert "Select the suggestions to order first." in response.content.decode()
    assert not PurchaseOrder.objects.exists()


def test_the_page_needs_the_purchase_order_view_permission(client, shop):
    assert staff_client(client, "orders.view_orderrow").get(URL).status_code == 403


def test_the_action_needs_the_add_permission(client, shop):
    clerk = staff_client(client, VIEW)
    html = clerk.get(URL).content.decode()
    assert "KETTLE-1" in html and 'name="product"' not in html and "draft-orders" not in html
    assert clerk.post(URL, {"product": [shop["kettle"].pk]}).status_code == 403
    assert not PurchaseOrder.objects.exists()


def test_with_both_permissions_a_clerk_drafts_orders(client, shop):
    clerk = staff_client(client, VIEW, ADD)
    clerk.post(URL, {"product": [shop["lamp"].pk]})
    (order,) = PurchaseOrder.objects.all()
    assert order.created_by.username == "clerk"


def test_the_service_recomputes_the_quantity_rather_than_trusting_the_page(shop, main):
    receive(shop["lamp"], 3, main)  # since the page was drawn: 2 + 2 − 3 = 1
    (order,) = purchase_orders_from_suggestions(product_ids=[shop["lamp"].pk])
    assert list(order.lines.values_list("quantity", flat=True)) == [1]


def test_the_service_names_a_product_that_is_no_longer_sold(shop):
    shop["lamp"].is_active = False
    shop["lamp"].save()
    with pytest.raises(ReplenishmentRefused) as refused:
        purchase_orders_from_suggestions(product_ids=[shop["lamp"].pk, shop["kettle"].pk])
    assert refused.value.problems == [(f"#{shop['lamp'].pk}", "not an active product")]
    assert not PurchaseOrder.objects.exists()
