"""Product admin, allocation side: the "Allocate now" action and the restock preview page."""

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import PartialAllocation
from inventory.models import Stock, StockMovement
from orders.models import OrderRow, RowEvent, RowStatus
from orders.services import CartLine, Customer, checkout_place_order
from tests.catalog.factories import ProductFactory
from tests.helpers import receive, staff_client
from tests.inventory.factories import SourceFactory

pytestmark = pytest.mark.django_db

PRODUCTS_URL = reverse("admin:catalog_product_changelist")


def preview_url(product) -> str:
    return reverse("admin:catalog_product_restock_preview", args=[product.pk])


def change_url(product) -> str:
    return reverse("admin:catalog_product_change", args=[product.pk])


def backorder(product, quantity: int, email: str = "ada@example.com") -> OrderRow:
    """A waiting row placed through the real checkout (no stock behind it)."""
    customer = Customer(email=email, full_name="Ada Lovelace", address="1 Analytical Way")
    order = checkout_place_order(lines=[CartLine(product.pk, quantity)], customer=customer)
    row = order.rows.get()
    assert row.status == RowStatus.BACKORDERED
    return row


def snapshot():
    """Everything allocation could touch."""
    return (
        list(
            OrderRow.objects.order_by("pk").values_list(
                "pk", "status", "quantity", "source_id", "split_from_id"
            )
        ),
        list(Stock.objects.order_by("pk").values_list("pk", "on_hand", "allocated")),
        RowEvent.objects.count(),
        StockMovement.objects.count(),
    )


def run_allocate(client, *products):
    return client.post(
        PRODUCTS_URL, {"action": "allocate_now", "_selected_action": [p.pk for p in products]}, follow=True
    )


def page_messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


@pytest.fixture
def kettle():
    return ProductFactory(sku="KETTLE-1", name="Copper kettle", backorderable=True)


# -- allocate now ------------------------------------------------------------------------


def test_allocate_now_gives_free_stock_to_waiting_rows_first_come_first_served(admin_client, main, kettle):
    first = backorder(kettle, 2, "first@example.com")
    second = backorder(kettle, 3, "second@example.com")
    backorder(kettle, 4, "third@example.com")
    teapot = ProductFactory(sku="TEAPOT-1", backorderable=True)
    receive(kettle, 5, main)  # in tests the after-commit trigger does not run: rows still wait

    response = run_allocate(admin_client, kettle, teapot)

    assert page_messages(response) == [
        (
            "success",
            "Allocated 5 unit(s) to 2 waiting row(s) of 1 product(s) (KETTLE-1: 5 unit(s) to 2 row(s)).",
        ),
        ("info", "Nothing to allocate for TEAPOT-1: no waiting rows, or no free stock beyond safety stock."),
    ]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.source) == (RowStatus.ALLOCATED, main)
    assert (second.status, second.source) == (RowStatus.ALLOCATED, main)
    assert Stock.objects.get(product=kettle).allocated == 5
    assert OrderRow.objects.filter(product=kettle, status=RowStatus.BACKORDERED).get().quantity == 4


def test_allocate_now_twice_allocates_each_unit_once(admin_client, main, kettle):
    backorder(kettle, 2)
    backorder(kettle, 2)
    receive(kettle, 3, main)

    run_allocate(admin_client, kettle)
    again = run_allocate(admin_client, kettle)

    assert [level for level, _ in page_messages(again)] == ["info"]
    assert Stock.objects.get(product=kettle).allocated == 3
    assert sorted(OrderRow.objects.values_list("status", "quantity")) == [
        ("allocated", 1),
        ("allocated", 2),
        ("backordered", 1),
    ]


def test_allocate_now_needs_the_order_row_change_permission(client, main, kettle):
    backorder(kettle, 2)
    receive(kettle, 2, main)
    staff = staff_client(client, "catalog.view_product", "catalog.change_product")
    before = snapshot()

    page = staff.get(PRODUCTS_URL)
    run_allocate(staff, kettle)

    # Not offered to this user (who may still set backorder settings in bulk).
    offered = dict(page.context["action_form"].fields["action"].choices)
    assert "allocate_now" not in offered and "set_backorder_setting" in offered
    assert 'value="allocate_now"' not in page.content.decode()
    assert snapshot() == before


# -- restock preview ---------------------------------------------------------------------


def test_preview_page_renders_with_its_form_and_is_linked_from_list_and_change_form(
    admin_client, main, kettle
):
    backorder(kettle, 2)

    page = admin_client.get(preview_url(kettle))
    listing = admin_client.get(PRODUCTS_URL).content.decode()
    change = admin_client.get(change_url(kettle)).content.decode()

    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="units"' in html and 'name="source"' in html
    assert "units waiting in 1 row" in html
    assert f'href="{preview_url(kettle)}"' in listing
    assert f'href="{preview_url(kettle)}"' in change


def test_preview_shows_the_rows_a_restock_would_serve_and_changes_nothing(
    admin_client, main, overflow, kettle
):
    a = backorder(kettle, 2, "a@example.com")
    b = backorder(kettle, 3, "b@example.com")
    backorder(kettle, 1, "c@example.com")
    receive(kettle, 1, main)  # one free unit at each source already (not yet allocated)
    receive(kettle, 1, overflow)
    before = snapshot()

    page = admin_client.get(preview_url(kettle), {"source": main.pk, "units": "2"})

    assert page.status_code == 200
    rows = [
        (line["position"], line["row"].pk, line["quantity"], line["source"].code, line["whole"])
        for line in page.context["preview"]
    ]
    # Queue order; sources by priority: main (its unit and the restock), then overflow.
    assert rows == [
        (1, a.pk, 2, "main", True),
        (2, b.pk, 1, "main", False),
        (2, b.pk, 1, "overflow", False),
    ]
    assert (page.context["rows_served"], page.context["units_to_rows"], page.context["units_left"]) == (
        2,
        4,
        0,
    )
    html = page.content.decode()
    assert a.order.number in html and b.order.number in html
    assert "partial" in html and "whole" in html
    assert f'href="{reverse("admin:orders_order_change", args=[a.order_id])}"' in html
    assert snapshot() == before  # a dry run: nothing allocated, split or written


def test_preview_at_a_source_without_stock_yet_keeps_source_priority(admin_client, main, overflow, kettle):
    a = backorder(kettle, 2)
    receive(kettle, 1, main)  # one free unit at main (priority 1); overflow has no stock row yet

    page = admin_client.get(preview_url(kettle), {"source": overflow.pk, "units": "1"})

    # backorders_allocate would take main's unit first, then overflow's.
    assert [(line["row"].pk, line["source"].code) for line in page.context["preview"]] == [
        (a.pk, "main"),
        (a.pk, "overflow"),
    ]


def test_preview_reports_units_left_free_when_the_queue_is_covered(admin_client, main, kettle):
    backorder(kettle, 2)

    page = admin_client.get(preview_url(kettle), {"source": main.pk, "units": "10"})

    assert (page.context["rows_served"], page.context["units_to_rows"], page.context["units_left"]) == (
        1,
        2,
        8,
    )
    assert "8</strong> units would be left free" in page.content.decode()


def test_preview_follows_the_wait_setting(admin_client, main, kettle):
    kettle.use_global_partial_allocation = False
    kettle.partial_allocation = PartialAllocation.WAIT
    kettle.save()
    backorder(kettle, 5)
    backorder(kettle, 1)

    page = admin_client.get(preview_url(kettle), {"source": main.pk, "units": "3"})

    assert page.context["preview"] == []
    assert page.context["units_left"] == 3
    assert "No waiting row would be served" in page.content.decode()


@override_settings(RESTOCK_MAX_QUANTITY=100)
@pytest.mark.parametrize("units", ["0", "-1", "abc", "101"])
def test_preview_refuses_bad_units(admin_client, main, kettle, units):
    page = admin_client.get(preview_url(kettle), {"source": main.pk, "units": units})

    assert page.status_code == 200
    assert page.context["form"].errors["units"]
    assert "preview" not in page.context


def test_preview_offers_active_sources_only(admin_client, main, kettle):
    closed = SourceFactory(code="closed", is_active=False)

    page = admin_client.get(preview_url(kettle), {"source": closed.pk, "units": "3"})

    assert page.context["form"].errors["source"]


def test_preview_of_an_unknown_product_goes_back_to_the_list(admin_client):
    response = admin_client.get(reverse("admin:catalog_product_restock_preview", args=[999999]))

    assert response.status_code == 302
    assert response.url == reverse("admin:index")


def test_preview_queries_do_not_grow_with_the_rows_served(admin_client, main, kettle):
    def measure(rows: int) -> int:
        OrderRow.objects.all().delete()
        for _ in range(rows):
            backorder(kettle, 1)
        with CaptureQueriesContext(connection) as queries:
            page = admin_client.get(preview_url(kettle), {"source": main.pk, "units": str(rows)})
        assert page.context["rows_served"] == rows
        return len(queries)

    measure(2)
    assert measure(3) == measure(40)


# -- permissions ---------------------------------------------------------------------------


def test_preview_needs_the_order_row_change_permission(client, main, kettle):
    staff = staff_client(client, "catalog.view_product", "catalog.change_product")

    assert staff.get(preview_url(kettle)).status_code == 403
    assert staff.get(preview_url(kettle), {"source": main.pk, "units": "3"}).status_code == 403
    assert f'href="{preview_url(kettle)}"' not in staff.get(PRODUCTS_URL).content.decode()
    assert f'href="{preview_url(kettle)}"' not in staff.get(change_url(kettle)).content.decode()


def test_order_row_change_permission_opens_the_preview_and_allocate_now(client, main, kettle):
    row = backorder(kettle, 2)
    receive(kettle, 2, main)
    staff = staff_client(client, "catalog.view_product", "orders.change_orderrow")

    page = staff.get(preview_url(kettle), {"source": main.pk, "units": "1"})
    run_allocate(staff, kettle)

    assert page.status_code == 200
    # Without view permission on orders the number is shown without a link.
    assert reverse("admin:orders_order_change", args=[row.order_id]) not in page.content.decode()
    row.refresh_from_db()
    assert row.status == RowStatus.ALLOCATED


def test_anonymous_users_are_sent_to_the_login_page(client, kettle):
    response = client.get(preview_url(kettle))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))
