"""Merchant admin for the catalog: global settings and products (registered in backoffice.admin)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import POLICY_FIELD_NAMES, Backorders, GlobalSettings, Product
from catalog.selectors import product_policy
from orders.services import CartLine, Customer, checkout_place_order
from tests.catalog.factories import ProductFactory, global_settings_set
from tests.helpers import receive, staff_client
from tests.inventory.factories import SourceFactory

pytestmark = pytest.mark.django_db

SETTINGS_URL = reverse("admin:catalog_globalsettings_change", args=[1])
PRODUCTS_URL = reverse("admin:catalog_product_changelist")
ADD_PRODUCT_URL = reverse("admin:catalog_product_add")
GUEST = Customer(email="ada@example.com", full_name="Ada Lovelace", address="1 Analytical Way")


def change_url(product) -> str:
    return reverse("admin:catalog_product_change", args=[product.pk])


def product_form_data(product: Product, **changes) -> dict:
    """The product change form as the browser would post it, with ``changes`` applied."""
    data = {}
    for field in Product._meta.concrete_fields:
        if field.name in ("id", "created_at", "updated_at"):
            continue
        value = getattr(product, field.attname)
        if isinstance(value, bool):
            if value:
                data[field.name] = "on"
            continue
        data[field.name] = "" if value is None else str(value)
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        elif value is True:
            data[name] = "on"
        else:
            data[name] = str(value)
    data.update({"stocks-TOTAL_FORMS": "0", "stocks-INITIAL_FORMS": "0"})
    data.update({"images-TOTAL_FORMS": "0", "images-INITIAL_FORMS": "0"})
    return data


# -- global settings -----------------------------------------------------------------


def test_global_settings_page_renders_the_grouped_defaults(admin_client):
    # The singleton has no list page: its changelist URL is the form itself.
    for url in (reverse("admin:catalog_globalsettings_changelist"), SETTINGS_URL):
        response = admin_client.get(url)

        assert response.status_code == 200
        html = response.content.decode()
        assert "Backorders" in html and "Stock" in html
        assert 'name="backorder_limit"' in html and 'name="lead_time_days"' in html


def test_global_settings_can_be_changed_from_the_admin(admin_client):
    response = admin_client.post(
        SETTINGS_URL,
        {
            "backorders": "allow",
            "backorder_limit": "20",
            "max_backorder_per_order": "",
            "safety_stock": "2",
            "low_stock_threshold": "3",
            "lead_time_days": "10",
            "partial_allocation": "wait",
            "allowance_notice_threshold": "3",
            "demand_window_days": "21",
            "sourcing": "fewest_shipments",
        },
    )

    assert response.status_code == 302
    saved = GlobalSettings.get_solo()
    assert (saved.backorders, saved.backorder_limit, saved.max_backorder_per_order) == ("allow", 20, None)
    assert (saved.safety_stock, saved.low_stock_threshold, saved.lead_time_days) == (2, 3, 10)
    assert (saved.partial_allocation, saved.allowance_notice_threshold) == ("wait", 3)
    assert saved.demand_window_days == 21
    assert saved.sourcing == "fewest_shipments"
    assert GlobalSettings.objects.count() == 1


def test_global_settings_cannot_be_added_or_deleted(admin_client):
    assert admin_client.get(reverse("admin:catalog_globalsettings_add")).status_code == 403
    delete = reverse("admin:catalog_globalsettings_delete", args=[1])
    GlobalSettings.get_solo()
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert GlobalSettings.objects.count() == 1


# -- product list ----------------------------------------------------------------------


def test_product_list_shows_effective_backorders_and_availability(admin_client):
    source = SourceFactory(code="main")
    global_settings_set(backorders="no", low_stock_threshold=2)
    shelf = ProductFactory(sku="SHELF", name="Shelf")
    receive(shelf, 10, source)
    low = ProductFactory(sku="LOW", name="Low")
    receive(low, 2, source)
    backorder = ProductFactory(sku="BACK", name="Back", backorderable=True)
    limited = ProductFactory(
        sku="LIMIT", name="Limited", backorderable=True, use_global_backorder_limit=False, backorder_limit=5
    )
    checkout_place_order(lines=[CartLine(limited.pk, 2)], customer=GUEST)
    ProductFactory(sku="PRE", name="Pre", preorder=True, preorder_limit=10)
    ProductFactory(sku="GONE", name="Gone")

    response = admin_client.get(PRODUCTS_URL)

    assert response.status_code == 200
    rows = {result.sku: result._admin_availability for result in response.context["cl"].result_list}
    assert set(rows) == {"SHELF", "LOW", "BACK", "LIMIT", "PRE", "GONE"}
    html = response.content.decode()
    for text in (
        "use global: no (global)",
        "override: allow (product)",
        "In stock",
        "free 10 · waiting 0 · salable 10",
        "Only 2 left",
        "free 2 · waiting 0 · salable 2",
        "Available on backorder",
        "free 0 · waiting 0 · salable 0 + unlimited backorder",
        "free 0 · waiting 2 · salable 0 + 3 backorder",
        f"Pre-order — releases {Product.objects.get(sku='PRE').release_date:%-d %b %Y}",
        "free 0 · waiting 0 · salable 0 + 10 pre-order",
        "Out of stock",
    ):
        assert text in html, text
    assert backorder.sku in html


def test_product_list_search_by_sku_and_name(admin_client):
    ProductFactory(sku="KETTLE-1", name="Copper kettle")
    ProductFactory(sku="TEAPOT-1", name="Blue teapot")

    by_sku = admin_client.get(PRODUCTS_URL, {"q": "kettle-1"})
    by_name = admin_client.get(PRODUCTS_URL, {"q": "teapot"})

    assert [p.sku for p in by_sku.context["cl"].result_list] == ["KETTLE-1"]
    assert [p.sku for p in by_name.context["cl"].result_list] == ["TEAPOT-1"]


@pytest.mark.parametrize("global_value", Backorders.values)
def test_effective_backorders_filter_agrees_with_the_policy(admin_client, global_value):
    global_settings_set(backorders=global_value)
    for value in Backorders.values:
        ProductFactory(sku=f"INHERIT-{value}", backorders=value)  # use global: value ignored
        ProductFactory(sku=f"OWN-{value}", use_global_backorders=False, backorders=value)

    for wanted in Backorders.values:
        response = admin_client.get(PRODUCTS_URL, {"backorders_effective": wanted})

        listed = {p.sku for p in response.context["cl"].result_list}
        # its own value, and every product that inherits when the global value is the one wanted
        inheriting = {f"INHERIT-{value}" for value in Backorders.values} if wanted == global_value else set()
        assert listed == {f"OWN-{wanted}"} | inheriting, wanted


def test_overrides_filter(admin_client):
    ProductFactory(sku="PLAIN")
    ProductFactory(sku="SAFE", use_global_safety_stock=False, safety_stock=3)

    yes = admin_client.get(PRODUCTS_URL, {"overrides": "yes"})
    no = admin_client.get(PRODUCTS_URL, {"overrides": "no"})

    assert [p.sku for p in yes.context["cl"].result_list] == ["SAFE"]
    assert [p.sku for p in no.context["cl"].result_list] == ["PLAIN"]


def test_other_list_filters_render_and_filter(admin_client):
    ProductFactory(sku="ON")
    ProductFactory(sku="OFF", is_active=False)
    ProductFactory(sku="PRE", preorder=True)

    inactive = admin_client.get(PRODUCTS_URL, {"is_active__exact": "0"})
    preorders = admin_client.get(PRODUCTS_URL, {"preorder_enabled__exact": "1"})

    assert [p.sku for p in inactive.context["cl"].result_list] == ["OFF"]
    assert [p.sku for p in preorders.context["cl"].result_list] == ["PRE"]


def _changelist_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(PRODUCTS_URL).status_code == 200
    return len(queries)


def test_product_list_query_count_does_not_grow_with_products(admin_client, django_assert_num_queries):
    source = SourceFactory(code="main")

    def add_products(n):
        for _ in range(n):
            product = ProductFactory(backorderable=True)
            receive(product, 3, source)
            checkout_place_order(lines=[CartLine(product.pk, 5)], customer=GUEST)

    add_products(3)
    admin_client.get(PRODUCTS_URL)  # warm the session and content-type caches
    few = _changelist_queries(admin_client)
    add_products(12)
    many = _changelist_queries(admin_client)

    assert few == many
    # session, user, the category filter's choices, count, filtered count, page, global
    # settings, free stock, waiting units, inbound supply.
    with django_assert_num_queries(10):
        admin_client.get(PRODUCTS_URL)


# -- product form ----------------------------------------------------------------------


def test_product_form_groups_the_settings_and_shows_effective_values(admin_client):
    global_settings_set(backorders="allow", lead_time_days=21)
    product = ProductFactory(
        sku="KETTLE-1",
        use_global_backorder_limit=False,
        backorder_limit=5,
        use_global_max_backorder_per_order=False,
        max_backorder_per_order=None,
    )

    response = admin_client.get(change_url(product))

    assert response.status_code == 200
    html = response.content.decode()
    for heading in ("Product", "Backorder settings", "Pre-order", "Labels &amp; notes"):
        assert f">{heading}</h2>" in html, heading
    assert "use global: allow (global)" in html
    assert "override: 5 (product)" in html
    assert "override: unlimited (product)" in html
    assert "use global: 21 (global)" in html
    assert "use global: split (global)" in html
    # Each "use global" box sits on the line of its value, the effective value on the next line.
    fieldsets = {fs.name: [list(line.fields) for line in fs] for fs in response.context["adminform"]}
    settings_lines = fieldsets["Backorder settings"]
    for name in POLICY_FIELD_NAMES:
        at = settings_lines.index([f"use_global_{name}", name])
        assert settings_lines[at + 1] == [f"effective_{name}"]
        assert f'name="use_global_{name}"' in html and f'name="{name}"' in html
    assert fieldsets["Pre-order"] == [["preorder_enabled"], ["release_date"], ["preorder_limit"]]


def test_product_form_shows_stock_per_source_read_only_with_links(admin_client):
    main = SourceFactory(code="main", name="Main warehouse", priority=1)
    shop = SourceFactory(code="shop", name="Shop floor", priority=2)
    product = ProductFactory(sku="KETTLE-1", backorderable=True)
    receive(product, 7, main)
    receive(product, 4, shop)
    checkout_place_order(lines=[CartLine(product.pk, 3)], customer=GUEST)  # 3 allocated at main

    response = admin_client.get(change_url(product))

    html = response.content.decode()
    assert "Stock per source" in html
    assert "Main warehouse (main)" in html and "Shop floor (shop)" in html
    inline = response.context["inline_admin_formsets"][0]
    shown = [
        (f.original.source.code, f.original.on_hand, f.original.allocated, f.original.free) for f in inline
    ]
    assert shown == [("main", 7, 3, 4), ("shop", 4, 0, 4)]
    # Counters are read-only: no inputs for them, and no way to add a row by hand.
    assert 'name="stocks-0-on_hand"' not in html
    assert 'name="stocks-MAX_NUM_FORMS" value="0"' in html
    receive_url = reverse("admin:inventory_stock_receive")
    assert f"{receive_url}?product={product.pk}" in html
    assert f"{receive_url}?source={main.pk}&amp;product={product.pk}" in html


def test_product_add_form_renders_with_prepopulated_slug_and_global_values(admin_client):
    global_settings_set(backorders="allow_notify")

    response = admin_client.get(ADD_PRODUCT_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "use global: allow_notify (global)" in html
    # The slug is filled in from the name as the merchant types.
    assert "data-prepopulated-fields=" in html
    assert "&quot;id&quot;: &quot;#id_slug&quot;" in html
    assert "&quot;dependency_ids&quot;: [&quot;#id_name&quot;]" in html


def test_adding_a_product_with_an_override(admin_client):
    data = product_form_data(
        Product(sku="NEW-1", name="New", slug="new", price="9.50"),
        use_global_backorders=False,
        backorders="allow",
    )

    response = admin_client.post(ADD_PRODUCT_URL, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    product = Product.objects.get(sku="NEW-1")
    policy = product_policy(product=product)
    assert (policy.backorders, policy.origin("backorders")) == ("allow", "product")
    assert policy.origin("backorder_limit") == "global"


def test_changing_a_product_override_shows_the_new_origin(admin_client):
    product = ProductFactory(sku="KETTLE-1")

    response = admin_client.post(
        change_url(product),
        product_form_data(product, use_global_safety_stock=False, safety_stock=4, _continue="1"),
    )

    assert response.status_code == 302
    page = admin_client.get(change_url(product)).content.decode()
    assert "override: 4 (product)" in page
    product.refresh_from_db()
    assert (product.use_global_safety_stock, product.safety_stock) == (False, 4)


def test_preorder_without_release_date_is_a_form_error(admin_client):
    product = ProductFactory(sku="KETTLE-1")

    response = admin_client.post(change_url(product), product_form_data(product, preorder_enabled=True))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    product.refresh_from_db()
    assert product.preorder_enabled is False


# -- permissions -----------------------------------------------------------------------


def test_staff_without_permissions_gets_403(client):
    product = ProductFactory()
    staff = staff_client(client)

    for url in (PRODUCTS_URL, ADD_PRODUCT_URL, change_url(product), SETTINGS_URL):
        assert staff.get(url).status_code == 403, url


def test_view_permission_shows_products_but_does_not_change_them(client):
    product = ProductFactory(sku="KETTLE-1", name="Kettle")
    staff = staff_client(client, "catalog.view_product")

    assert staff.get(PRODUCTS_URL).status_code == 200
    page = staff.get(change_url(product))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert "use global: no (global)" in page.content.decode()
    assert staff.get(ADD_PRODUCT_URL).status_code == 403
    assert staff.post(change_url(product), product_form_data(product, name="Renamed")).status_code == 403
    product.refresh_from_db()
    assert product.name == "Kettle"


def test_view_permission_on_global_settings_is_read_only(client):
    global_settings_set(backorders="no")
    staff = staff_client(client, "catalog.view_globalsettings")

    page = staff.get(SETTINGS_URL)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert staff.post(SETTINGS_URL, {"backorders": "allow"}).status_code == 403
    assert GlobalSettings.get_solo().backorders == "no"


def test_change_permission_on_products_allows_editing(client):
    product = ProductFactory(sku="KETTLE-1", name="Kettle")
    staff = staff_client(client, "catalog.view_product", "catalog.change_product")

    response = staff.post(change_url(product), product_form_data(product, name="Renamed"))

    assert response.status_code == 302
    product.refresh_from_db()
    assert product.name == "Renamed"


def test_the_demand_window_is_at_least_one_day(admin_client):
    response = admin_client.post(
        SETTINGS_URL,
        {
            "backorders": "no",
            "safety_stock": "0",
            "low_stock_threshold": "1",
            "lead_time_days": "14",
            "partial_allocation": "split",
            "allowance_notice_threshold": "5",
            "demand_window_days": "0",
        },
    )
    assert response.status_code == 200
    assert "demand_window_days" in response.context["adminform"].form.errors
    assert GlobalSettings.get_solo().demand_window_days == 28
