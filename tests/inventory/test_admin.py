"""Merchant admin for inventory: sources, read-only stock and ledger, receive and adjust pages."""

import pytest
from django.contrib.messages import get_messages
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from inventory.models import MovementKind, Source, Stock, StockMovement
from tests.catalog.factories import ProductFactory
from tests.helpers import receive, staff_client
from tests.inventory.factories import SourceFactory, StockFactory

pytestmark = pytest.mark.django_db

SOURCES_URL = reverse("admin:inventory_source_changelist")
STOCK_URL = reverse("admin:inventory_stock_changelist")
LEDGER_URL = reverse("admin:inventory_stockmovement_changelist")
RECEIVE_URL = reverse("admin:inventory_stock_receive")
ADJUST_URL = reverse("admin:inventory_stock_adjust")


def on_hand(source, product) -> int:
    return Stock.objects.get(source=source, product=product).on_hand


def message_texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def field_errors(response, field: str) -> list[str]:
    return response.context["form"].errors.get(field, [])


# -- every page renders ----------------------------------------------------------------


def test_every_inventory_admin_page_renders_for_a_superuser(admin_client, source, product):
    receive(product, 5, source, reference="PO-1")
    stock = Stock.objects.get()
    movement = StockMovement.objects.get()

    for url in (
        SOURCES_URL,
        reverse("admin:inventory_source_add"),
        reverse("admin:inventory_source_change", args=[source.pk]),
        STOCK_URL,
        reverse("admin:inventory_stock_change", args=[stock.pk]),
        LEDGER_URL,
        reverse("admin:inventory_stockmovement_change", args=[movement.pk]),
        RECEIVE_URL,
        ADJUST_URL,
    ):
        assert admin_client.get(url).status_code == 200, url


# -- sources ---------------------------------------------------------------------------


def test_sources_list_edits_priority_in_place(admin_client, source):
    shop = SourceFactory(code="shop", name="Shop floor", priority=2)

    page = admin_client.get(SOURCES_URL)
    assert 'name="form-0-priority"' in page.content.decode()
    response = admin_client.post(
        SOURCES_URL,
        {
            "form-TOTAL_FORMS": "2",
            "form-INITIAL_FORMS": "2",
            "form-0-id": str(source.pk),
            "form-0-priority": "5",
            "form-1-id": str(shop.pk),
            "form-1-priority": "1",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    assert list(Source.objects.values_list("code", "priority")) == [("shop", 1), ("main", 5)]


def test_adding_a_source(admin_client):
    response = admin_client.post(
        reverse("admin:inventory_source_add"),
        {"code": "drop", "name": "Supplier drop-ship", "priority": "30", "is_active": "on"},
    )

    assert response.status_code == 302
    assert Source.objects.get(code="drop").priority == 30


# -- stock -----------------------------------------------------------------------------


def test_stock_list_shows_counters_and_filters(admin_client, source, product):
    shop = SourceFactory(code="shop", name="Shop floor", priority=2)
    StockFactory(source=source, product=product, on_hand=9, allocated=3)
    StockFactory(source=shop, product=ProductFactory(sku="TEAPOT-1"), on_hand=2)

    page = admin_client.get(STOCK_URL)
    searched = admin_client.get(STOCK_URL, {"q": "kettle"})
    filtered = admin_client.get(STOCK_URL, {"source__id__exact": shop.pk})

    html = page.content.decode()
    assert '<td class="field-on_hand">9</td>' in html
    assert '<td class="field-allocated">3</td>' in html
    assert '<td class="field-free">6</td>' in html
    assert f'href="{RECEIVE_URL}"' in html  # the "Receive stock" button
    ledger = f"{LEDGER_URL}?source__id__exact={source.pk}&amp;product__id__exact={product.pk}"
    assert f'href="{ledger}"' in html
    assert "source active" in html and "product active" in html  # two "active" filters, told apart
    assert [s.product.sku for s in searched.context["cl"].result_list] == ["KETTLE-1"]
    assert [s.product.sku for s in filtered.context["cl"].result_list] == ["TEAPOT-1"]


def test_stock_counters_cannot_be_added_changed_or_deleted_by_hand(admin_client, source, product):
    stock = StockFactory(source=source, product=product, on_hand=4)
    change = reverse("admin:inventory_stock_change", args=[stock.pk])

    assert admin_client.get(reverse("admin:inventory_stock_add")).status_code == 403
    page = admin_client.get(change)
    assert 'name="on_hand"' not in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    assert admin_client.post(change, {"on_hand": "400", "allocated": "0"}).status_code == 403
    delete = reverse("admin:inventory_stock_delete", args=[stock.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    stock.refresh_from_db()
    assert stock.on_hand == 4


def test_stock_list_query_count_does_not_grow_with_rows(admin_client, django_assert_max_num_queries, source):
    def add(n):
        for _ in range(n):
            StockFactory(source=source, product=ProductFactory(), on_hand=1)

    add(3)
    admin_client.get(STOCK_URL)
    with django_assert_max_num_queries(12) as few:
        admin_client.get(STOCK_URL)
    add(20)
    with django_assert_max_num_queries(12) as many:
        admin_client.get(STOCK_URL)
    assert len(few.captured_queries) == len(many.captured_queries)


# -- receive stock ---------------------------------------------------------------------


def test_receive_page_is_prefilled_from_the_query_string(admin_client, source, product):
    page = admin_client.get(RECEIVE_URL, {"source": source.pk, "product": product.pk})

    assert page.status_code == 200
    assert page.context["form"].initial == {"source": str(source.pk), "product": str(product.pk)}
    html = page.content.decode()
    assert f'<option value="{product.pk}" selected>' in html  # the product search shows the choice
    # Garbage in the query string is ignored, not a server error.
    assert admin_client.get(RECEIVE_URL, {"product": "x'; drop"}).status_code == 200


def test_receiving_adds_units_and_a_ledger_row(admin_client, admin_user, source, product):
    response = admin_client.post(
        RECEIVE_URL,
        {"source": source.pk, "product": product.pk, "quantity": "12", "reference": " PO-77 "},
    )

    assert response.status_code == 302
    assert response.url == f"{STOCK_URL}?product__id__exact={product.pk}"
    assert message_texts(response) == ["Received 12 × KETTLE-1 at main (reference PO-77)."]
    assert on_hand(source, product) == 12
    movement = StockMovement.objects.get()
    assert (movement.kind, movement.quantity, movement.reference) == (MovementKind.RECEIPT, 12, "PO-77")
    assert movement.user == admin_user


def test_receiving_the_same_reference_again_adds_nothing_and_says_so(admin_client, source, product):
    data = {"source": source.pk, "product": product.pk, "quantity": "12", "reference": "PO-77"}
    admin_client.post(RECEIVE_URL, data, follow=True)  # shows (and uses up) the first message

    again = admin_client.post(RECEIVE_URL, {**data, "quantity": "30"}, follow=True)

    assert again.status_code == 200
    expected = "Reference PO-77 was already received for KETTLE-1 at main; nothing added."
    assert expected in again.content.decode()
    assert [m.level_tag for m in again.context["messages"]] == ["warning"]
    assert on_hand(source, product) == 12
    assert StockMovement.objects.count() == 1


def test_receive_and_enter_another_comes_back_to_the_form(admin_client, source, product):
    response = admin_client.post(
        RECEIVE_URL,
        {
            "source": source.pk,
            "product": product.pk,
            "quantity": "1",
            "reference": "PO-1",
            "_addanother": "1",
        },
    )

    assert response.status_code == 302
    assert response.url == f"{RECEIVE_URL}?source={source.pk}"


@pytest.mark.parametrize("quantity", ["0", "-3", "abc", "", "2.5"])
def test_bad_quantity_shows_a_field_error_and_writes_nothing(admin_client, source, product, quantity):
    response = admin_client.post(
        RECEIVE_URL, {"source": source.pk, "product": product.pk, "quantity": quantity, "reference": "PO-1"}
    )

    assert response.status_code == 200
    assert field_errors(response, "quantity")
    assert "Please correct the error below." in response.content.decode()
    assert not Stock.objects.exists()
    assert not StockMovement.objects.exists()


@override_settings(RESTOCK_MAX_QUANTITY=100)
def test_quantity_over_the_service_maximum_is_a_field_error(admin_client, source, product):
    response = admin_client.post(
        RECEIVE_URL, {"source": source.pk, "product": product.pk, "quantity": "101", "reference": "PO-1"}
    )

    assert response.status_code == 200
    assert field_errors(response, "quantity") == [
        "quantity 101 is larger than the 100 allowed in one receipt."
    ]
    assert not StockMovement.objects.exists()


def test_missing_reference_and_unknown_product_are_field_errors(admin_client, source):
    response = admin_client.post(
        RECEIVE_URL, {"source": source.pk, "product": "999999", "quantity": "3", "reference": "  "}
    )

    assert response.status_code == 200
    assert field_errors(response, "reference") == ["This field is required."]
    assert field_errors(response, "product")
    assert not StockMovement.objects.exists()


def test_product_search_on_the_receive_page_finds_by_sku(admin_client, product):
    ProductFactory(sku="TEAPOT-1")

    response = admin_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "inventory", "model_name": "stock", "field_name": "product", "term": "kettle"},
    )

    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [str(product.pk)]


# -- adjust / count --------------------------------------------------------------------


def test_adjusting_on_hand_needs_a_reason_and_writes_the_ledger(admin_client, source, product):
    receive(product, 10, source)
    data = {"source": source.pk, "product": product.pk, "mode": "adjust", "quantity": "-3"}

    missing_reason = admin_client.post(ADJUST_URL, data)
    response = admin_client.post(ADJUST_URL, {**data, "reason": "Dropped a box"})

    assert field_errors(missing_reason, "reason") == ["This field is required."]
    assert response.status_code == 302
    assert message_texts(response) == [
        "Adjustment of -3 × KETTLE-1 at main (Dropped a box); on hand is now 7."
    ]
    assert on_hand(source, product) == 7
    movement = StockMovement.objects.filter(kind=MovementKind.ADJUSTMENT).get()
    assert (movement.quantity, movement.reason) == (-3, "Dropped a box")


def test_counting_sets_on_hand_and_a_matching_count_changes_nothing(admin_client, source, product):
    receive(product, 10, source)
    data = {"source": source.pk, "product": product.pk, "mode": "count", "reason": "Monthly count"}

    corrected = admin_client.post(ADJUST_URL, {**data, "quantity": "8"}, follow=True)
    unchanged = admin_client.post(ADJUST_URL, {**data, "quantity": "8"}, follow=True)

    assert [str(m) for m in corrected.context["messages"]] == [
        "Count correction of -2 × KETTLE-1 at main (Monthly count); on hand is now 8."
    ]
    assert [str(m) for m in unchanged.context["messages"]] == [
        "Counted 8 × KETTLE-1 at main: matches on hand, nothing changed."
    ]
    assert on_hand(source, product) == 8
    assert StockMovement.objects.filter(kind=MovementKind.COUNT).count() == 1


@pytest.mark.parametrize(
    ("mode", "quantity", "error"),
    [
        ("adjust", "0", "An adjustment must change on hand by a non-zero whole number."),
        ("adjust", "-5", "KETTLE-1 at main: a change of -5 would leave 0 on hand with 3 allocated."),
        ("count", "-1", "A count must be 0 or more, got -1."),
        ("count", "2", "KETTLE-1 at main: a change of -3 would leave 2 on hand with 3 allocated."),
    ],
)
def test_service_refusals_show_beside_the_quantity(admin_client, source, product, mode, quantity, error):
    StockFactory(source=source, product=product, on_hand=5, allocated=3)

    response = admin_client.post(
        ADJUST_URL,
        {"source": source.pk, "product": product.pk, "mode": mode, "quantity": quantity, "reason": "Check"},
    )

    assert response.status_code == 200
    assert field_errors(response, "quantity") == [error]
    assert on_hand(source, product) == 5
    assert not StockMovement.objects.exists()


# -- ledger ----------------------------------------------------------------------------


def test_ledger_lists_filters_and_searches_movements(admin_client, source, product):
    receive(product, 5, source, reference="PO-1")
    receive(ProductFactory(sku="TEAPOT-1"), 2, source, reference="PO-2")
    admin_client.post(
        ADJUST_URL,
        {"source": source.pk, "product": product.pk, "mode": "adjust", "quantity": "-1", "reason": "Broken"},
    )

    page = admin_client.get(LEDGER_URL)
    receipts = admin_client.get(LEDGER_URL, {"kind__exact": "receipt"})
    by_reference = admin_client.get(LEDGER_URL, {"q": "PO-2"})
    by_sku = admin_client.get(LEDGER_URL, {"q": "kettle-1"})

    html = page.content.decode()
    assert '<nav class="toplinks">' in html  # the drill-down by date (date_hierarchy)
    today = timezone.localtime(StockMovement.objects.first().created_at)
    by_day = admin_client.get(
        LEDGER_URL,
        {"created_at__year": today.year, "created_at__month": today.month, "created_at__day": today.day},
    )
    assert len(by_day.context["cl"].result_list) == 3
    assert len(page.context["cl"].result_list) == 3
    assert {m.kind for m in receipts.context["cl"].result_list} == {"receipt"}
    assert [m.reference for m in by_reference.context["cl"].result_list] == ["PO-2"]
    assert {m.product.sku for m in by_sku.context["cl"].result_list} == {"KETTLE-1"}
    assert 'name="action"' not in html  # no bulk actions: nothing may be deleted


def test_ledger_rows_cannot_be_added_changed_or_deleted(admin_client, source, product):
    receive(product, 5, source, reference="PO-1")
    movement = StockMovement.objects.get()
    change = reverse("admin:inventory_stockmovement_change", args=[movement.pk])

    assert admin_client.get(reverse("admin:inventory_stockmovement_add")).status_code == 403
    view = admin_client.get(change)
    assert view.status_code == 200
    assert 'name="_save"' not in view.content.decode()
    assert admin_client.post(change, {"quantity": "500"}).status_code == 403
    delete = reverse("admin:inventory_stockmovement_delete", args=[movement.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    movement.refresh_from_db()
    assert movement.quantity == 5


def test_ledger_list_query_count_does_not_grow_with_rows(admin_client, django_assert_max_num_queries, source):
    for n in range(3):
        receive(ProductFactory(), 1, source, reference=f"PO-{n}")
    admin_client.get(LEDGER_URL)
    with django_assert_max_num_queries(12) as few:
        admin_client.get(LEDGER_URL)
    for n in range(20):
        receive(ProductFactory(), 1, source, reference=f"PO-X{n}")
    with django_assert_max_num_queries(12) as many:
        admin_client.get(LEDGER_URL)
    assert len(few.captured_queries) == len(many.captured_queries)


# -- permissions -----------------------------------------------------------------------


def test_staff_without_permissions_gets_403_everywhere(client, source, product):
    receive(product, 5, source, reference="PO-1")
    staff = staff_client(client)

    for url in (SOURCES_URL, STOCK_URL, LEDGER_URL, RECEIVE_URL, ADJUST_URL):
        assert staff.get(url).status_code == 403, url
    assert (
        staff.post(
            RECEIVE_URL, {"source": source.pk, "product": product.pk, "quantity": "5", "reference": "PO-2"}
        ).status_code
        == 403
    )
    assert on_hand(source, product) == 5


def test_anonymous_users_are_sent_to_the_login_page(client):
    for url in (STOCK_URL, RECEIVE_URL):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))


def test_view_permissions_show_inventory_but_change_nothing(client, source, product):
    receive(product, 5, source, reference="PO-1")
    staff = staff_client(
        client, "inventory.view_source", "inventory.view_stock", "inventory.view_stockmovement"
    )

    for url in (SOURCES_URL, STOCK_URL, LEDGER_URL):
        assert staff.get(url).status_code == 200, url
    stock_list = staff.get(STOCK_URL).content.decode()
    assert f'href="{RECEIVE_URL}"' not in stock_list  # no button to a page they may not use
    source_change = reverse("admin:inventory_source_change", args=[source.pk])
    page = staff.get(source_change)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert staff.post(source_change, {"code": "x", "name": "x", "priority": "1"}).status_code == 403
    assert staff.get(reverse("admin:inventory_source_add")).status_code == 403
    assert staff.get(RECEIVE_URL).status_code == 403
    assert staff.get(ADJUST_URL).status_code == 403
    source.refresh_from_db()
    assert source.code == "main"


def test_ledger_add_permission_opens_the_stock_pages(client, source, product):
    staff = staff_client(client, "inventory.add_stockmovement")

    assert staff.get(RECEIVE_URL).status_code == 200
    response = staff.post(
        RECEIVE_URL, {"source": source.pk, "product": product.pk, "quantity": "4", "reference": "PO-9"}
    )

    # Without view permission on stock the clerk goes back to the form, not to a 403.
    assert response.status_code == 302
    assert response.url == f"{RECEIVE_URL}?source={source.pk}"
    assert on_hand(source, product) == 4
    assert StockMovement.objects.get().user.username == "clerk"
