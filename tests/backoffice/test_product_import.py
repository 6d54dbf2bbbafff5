"""Bulk product tools: import and export by SKU (CSV, XLSX) through the admin's preview and
confirm steps, "use global" in the file, the bulk backorder-setting action, and who may use them."""

import csv
import io
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse

from catalog.models import Backorders, Product
from catalog.services import products_set_policy
from inventory.models import Stock, StockMovement
from tests.catalog.factories import ProductFactory
from tests.helpers import staff_client
from tests.inventory.factories import SourceFactory

pytestmark = pytest.mark.django_db

PRODUCTS_URL = reverse("admin:catalog_product_changelist")
IMPORT_URL = reverse("admin:catalog_product_import")
CONFIRM_URL = reverse("admin:catalog_product_process_import")
EXPORT_URL = reverse("admin:catalog_product_export")
CSV_FORMAT, XLSX_FORMAT = "0", "1"  # ProductAdmin.import_formats / export_formats


def csv_file(rows: list[list], name: str = "products.csv") -> io.BytesIO:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    upload = io.BytesIO(out.getvalue().encode())
    upload.name = name
    return upload


def preview(client, upload, fmt: str = CSV_FORMAT):
    return client.post(IMPORT_URL, {"format": fmt, "resource": "0", "import_file": upload})


def confirm(client, page):
    """Post the preview page's confirm form, as its "Confirm import" button does."""
    form = page.context["confirm_form"]
    return client.post(CONFIRM_URL, {name: form[name].value() for name in form.fields}, follow=True)


def row_errors(page) -> dict[int, dict[str, list[str]]]:
    """The preview's table of rows that failed: row number (data rows, the header not counted)
    → field → messages, as the page lists them."""
    return {row.number: row.error_dict for row in page.context["result"].invalid_rows}


def page_messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def state():
    return list(
        Product.objects.order_by("sku").values_list(
            "sku", "name", "price", "backorders", "use_global_backorders", "backorder_limit",
            "use_global_backorder_limit", "preorder_enabled", "release_date",
        )
    )  # fmt: skip


@pytest.fixture
def lamp():
    return ProductFactory(sku="LAMP-1", name="Brass Lamp", slug="brass-lamp", price=Decimal("30.00"))


HEADER = ["sku", "name", "slug", "price", "backorders", "backorder_limit"]


def test_a_file_with_a_bad_row_applies_nothing_and_names_the_row_and_the_field(admin_client, lamp):
    before = state()
    upload = csv_file(
        [
            HEADER,
            ["LAMP-1", "Brass Lamp XL", "brass-lamp", "35.00", "allow", "10"],  # fine
            ["CHAIR-2", "Oak Chair", "oak-chair", "120.00", "sometimes", ""],  # bad backorders
            ["DESK-3", "Desk", "desk", "-5", "global", "global"],  # bad price
        ]
    )
    page = preview(admin_client, upload)

    assert page.status_code == 200 and "confirm_form" not in page.context  # no way to confirm
    errors = row_errors(page)
    assert errors == {
        2: {"backorders": ["“sometimes” is not one of no, allow, allow_notify or global."]},
        3: {"price": ["Ensure this value is greater than or equal to 0."]},
    }  # row 1 is fine and not listed
    html = page.content.decode()
    assert "“sometimes” is not one of no, allow, allow_notify or global." in html
    assert state() == before  # not even the good row


def test_a_cell_that_is_not_a_number_or_a_yes_no_is_named_with_its_column(admin_client, lamp):
    """Not "[<class 'decimal.ConversionSyntax'>]" against the row, and not a product quietly
    deactivated because its "active" cell said something other than 1/0/true/false."""
    before = state()
    upload = csv_file(
        [
            ["sku", "price", "preorder_limit", "is_active"],
            ["LAMP-1", "abc", "", "1"],
            ["LAMP-1", "30.00", "ten", "true"],
            ["LAMP-1", "30.00", "", "yes"],
        ]
    )
    page = preview(admin_client, upload)

    assert page.status_code == 200 and "confirm_form" not in page.context
    assert row_errors(page) == {
        1: {"price": ["“abc” is not a number."]},
        2: {"preorder_limit": ["“ten” is not a number."]},
        3: {"is_active": ["“yes” is not one of 1, 0, true or false."]},
    }
    assert "ConversionSyntax" not in page.content.decode()
    assert state() == before


def test_the_confirmed_import_is_all_or_nothing_too(admin_client, lamp):
    """A row that has become invalid between preview and confirm rolls every row back."""
    upload = csv_file([HEADER, ["LAMP-1", "Brass Lamp XL", "brass-lamp", "35.00", "allow", "10"],
                       ["CHAIR-2", "Oak Chair", "oak-chair", "120.00", "global", ""]])  # fmt: skip
    page = preview(admin_client, upload)
    assert "confirm_form" in page.context
    ProductFactory(sku="OTHER", slug="oak-chair")  # the new chair's slug is taken meanwhile
    before = state()

    done = confirm(admin_client, page)

    assert state() == before
    assert page_messages(done) == [
        "Row 2, slug: Product with this Slug already exists.",
        "Nothing was imported: correct the file and import it again.",
    ]


def test_import_updates_by_sku_and_creates_new_skus(admin_client, lamp):
    upload = csv_file(
        [
            HEADER,
            ["LAMP-1", "Brass Lamp XL", "brass-lamp", "35.00", "allow", "10"],
            ["CHAIR-2", "Oak Chair", "oak-chair", "120.00", "global", ""],
        ]
    )
    page = preview(admin_client, upload)
    assert Product.objects.get(sku="LAMP-1").name == "Brass Lamp"  # the preview writes nothing
    assert [row.import_type for row in page.context["result"].rows] == ["update", "new"]
    assert "Oak Chair" in page.content.decode()

    done = confirm(admin_client, page)

    lamp.refresh_from_db()
    assert (lamp.name, lamp.price, lamp.backorders, lamp.use_global_backorders, lamp.backorder_limit) == (
        "Brass Lamp XL", Decimal("35.00"), Backorders.ALLOW, False, 10,
    )  # fmt: skip
    assert "Import finished: 1 new, 1 updated, 0 deleted and 0 skipped products." in page_messages(done)
    chair = Product.objects.get(sku="CHAIR-2")
    assert (chair.use_global_backorders, chair.backorder_limit, chair.use_global_backorder_limit) == (
        True, None, False,
    )  # fmt: skip  # an empty limit is the product's own "unlimited", not "use global"


def test_use_global_round_trips_through_an_export_and_an_import(admin_client, lamp):
    own = ProductFactory(sku="OWN-1", backorders=Backorders.ALLOW_NOTIFY, use_global_backorders=False,
                         backorder_limit=None, use_global_backorder_limit=False)  # fmt: skip
    exported = admin_client.post(EXPORT_URL, {"format": CSV_FORMAT, "resource": "0"})
    table = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    cells = {r["sku"]: (r["backorders"], r["backorder_limit"], r["safety_stock"]) for r in table}
    assert cells == {"LAMP-1": ("global", "global", "global"), "OWN-1": ("allow_notify", "", "global")}
    before = state()

    again = preview(admin_client, csv_file([list(table[0]), *[list(r.values()) for r in table]]))
    confirm(admin_client, again)
    assert state() == before

    # The word in any case switches an override back to the global setting (its value is kept).
    confirm(admin_client, preview(admin_client, csv_file([["sku", "backorders"], ["OWN-1", "Global"]])))
    own.refresh_from_db()
    assert (own.use_global_backorders, own.backorders) == (True, Backorders.ALLOW_NOTIFY)


def test_xlsx_round_trip(admin_client, lamp):
    ProductFactory(sku="PRE-1", preorder=True, preorder_limit=50, backorder_limit=7,
                   use_global_backorder_limit=False, preorder_note="Ships at launch")  # fmt: skip
    before = state()
    exported = admin_client.post(EXPORT_URL, {"format": XLSX_FORMAT, "resource": "0"})
    sheet = openpyxl.load_workbook(io.BytesIO(exported.content)).active
    header = [c.value for c in sheet[1]]
    assert header[:6] == ["sku", "name", "slug", "price", "description", "is_active"]
    Product.objects.update(name="changed", backorder_limit=None, use_global_backorder_limit=True)

    upload = io.BytesIO(exported.content)
    upload.name = "products.xlsx"
    confirm(admin_client, preview(admin_client, upload, XLSX_FORMAT))

    assert state() == before
    assert Product.objects.get(sku="PRE-1").preorder_note == "Ships at launch"


def test_a_stock_column_is_refused(admin_client, lamp):
    source = SourceFactory()
    page = preview(admin_client, csv_file([["sku", "on_hand"], ["LAMP-1", "40"]]))
    assert "stock is not imported with products" in page.content.decode()
    assert "confirm_form" not in page.context
    assert not Stock.objects.filter(source=source).exists() and not StockMovement.objects.exists()


def test_staff_without_change_permission_cannot_import(client, lamp):
    staff = staff_client(client, "catalog.view_product")
    page = staff.get(PRODUCTS_URL).content.decode()
    assert IMPORT_URL not in page and EXPORT_URL in page  # may export what they may see
    assert staff.get(IMPORT_URL).status_code == 403
    assert (
        preview(staff, csv_file([HEADER, ["LAMP-1", "Stolen", "brass-lamp", "1", "allow", ""]])).status_code
        == 403
    )
    assert Product.objects.get(sku="LAMP-1").name == "Brass Lamp"


def test_change_without_add_permission_updates_but_cannot_create(client, lamp):
    staff = staff_client(client, "catalog.view_product", "catalog.change_product")
    assert IMPORT_URL in staff.get(PRODUCTS_URL).content.decode()
    upload = csv_file([HEADER, ["LAMP-1", "Brass Lamp XL", "brass-lamp", "35.00", "allow", ""],
                       ["NEW-9", "New", "new", "1.00", "global", "global"]])  # fmt: skip
    page = preview(staff, upload)
    assert row_errors(page) == {
        2: {"sku": ["No product has SKU NEW-9; you may change products but not add them."]}
    }
    assert list(Product.objects.values_list("sku", "name")) == [("LAMP-1", "Brass Lamp")]


# -- the bulk action -------------------------------------------------------------------


def run_action(client, products, **form):
    data = {"action": "set_backorder_setting", "_selected_action": [p.pk for p in products]}
    if form:
        data |= {"apply": "1", **form}
    return client.post(PRODUCTS_URL, data, follow=True)


def test_the_bulk_action_sets_one_setting_on_the_selected_products(admin_client, lamp):
    chair, desk = ProductFactory(sku="CHAIR-2"), ProductFactory(sku="DESK-3")

    page = run_action(admin_client, [lamp, chair])
    assert "Set one backorder setting" in page.content.decode() and "CHAIR-2" in page.content.decode()
    done = run_action(admin_client, [lamp, chair], setting="backorders", value="allow")

    assert "Set backorders to allow on 2 product(s)." in done.content.decode()
    got = {p.sku: (p.backorders, p.use_global_backorders) for p in Product.objects.all()}
    assert got == {"LAMP-1": ("allow", False), "CHAIR-2": ("allow", False), "DESK-3": ("no", True)}

    run_action(admin_client, [lamp], setting="backorders", value="GLOBAL")
    run_action(admin_client, [desk], setting="backorder_limit", value="")  # empty: unlimited
    got = {p.sku: (p.use_global_backorders, p.use_global_backorder_limit) for p in Product.objects.all()}
    assert got == {"LAMP-1": (True, True), "CHAIR-2": (False, True), "DESK-3": (True, False)}


def test_the_bulk_action_refuses_a_bad_value_and_changes_nothing(admin_client, lamp):
    before = state()
    page = run_action(admin_client, [lamp], setting="safety_stock", value="-3")
    assert (
        page.status_code == 200
        and "Ensure this value is greater than or equal to 0." in page.content.decode()
    )
    page = run_action(admin_client, [lamp], setting="backorders", value="sometimes")
    assert "Value &#x27;sometimes&#x27; is not a valid choice." in page.content.decode()
    assert state() == before


def test_the_bulk_action_needs_change_permission(client, lamp):
    staff = staff_client(client, "catalog.view_product")
    run_action(staff, [lamp], setting="backorders", value="allow")
    lamp.refresh_from_db()
    assert lamp.use_global_backorders is True


def test_the_service_writes_in_one_update_and_refreshes_promises_after_commit(
    lamp, django_assert_num_queries, django_capture_on_commit_callbacks
):
    chair = ProductFactory()
    # One UPDATE (and the savepoint pair of its atomic block inside the test's transaction).
    with django_capture_on_commit_callbacks() as callbacks, django_assert_num_queries(3):
        changed = products_set_policy(product_ids=[lamp.pk, chair.pk], name="lead_time_days", value=30,
                                      use_global=False)  # fmt: skip
    assert changed == 2 and len(callbacks) == 2  # refresh_promises for each product
    assert set(Product.objects.values_list("lead_time_days", "use_global_lead_time_days")) == {(30, False)}
