"""The merchant's order admin: orders with their rows, the row queue, and actions that call services."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inventory.models import MovementKind, Stock, StockMovement
from orders.models import Order, OrderRow, RowStatus
from orders.services import CartLine, Customer, checkout_place_order
from tests.catalog.factories import ProductFactory
from tests.helpers import receive, staff_client
from tests.inventory.factories import SourceFactory

pytestmark = pytest.mark.django_db

ORDERS = reverse("admin:orders_order_changelist")
ROWS = reverse("admin:orders_orderrow_changelist")


def place(*lines, email="ada@example.com"):
    customer = Customer(email=email, full_name="Ada Lovelace", address="1 Analytical Way")
    return checkout_place_order(lines=[CartLine(p.pk, q) for p, q in lines], customer=customer)


def listed(response) -> list:
    return list(response.context["cl"].result_list)


@pytest.fixture
def shop():
    main = SourceFactory(code="main", priority=1)
    overflow = SourceFactory(code="overflow", priority=2)
    lamp = ProductFactory(sku="LAMP-1", name="Brass Lamp", backorderable=True)
    receive(lamp, 1, main)
    return main, overflow, lamp


def test_orders_filter_by_rows_waiting_and_search_by_number_email_and_sku(admin_client, shop):
    _, _, lamp = shop
    chair = ProductFactory(sku="CHAIR-9")
    receive(chair, 5, shop[0])
    waiting = place((lamp, 3), email="bo@example.com")  # 1 allocated, 2 backordered
    in_stock = place((chair, 1), email="cy@example.com")

    assert listed(admin_client.get(ORDERS, {"has_backordered": "yes"})) == [waiting]
    assert listed(admin_client.get(ORDERS, {"has_backordered": "no"})) == [in_stock]
    assert listed(admin_client.get(ORDERS, {"q": waiting.number})) == [waiting]
    assert listed(admin_client.get(ORDERS, {"q": "cy@example.com"})) == [in_stock]
    assert listed(admin_client.get(ORDERS, {"q": "CHAIR-9"})) == [in_stock]
    page = admin_client.get(reverse("admin:orders_order_change", args=[waiting.pk])).content.decode()
    assert "Backordered" in page and "Allocated" in page  # rows inline, status read-only
    assert 'name="rows-0-status"' not in page


def test_row_queue_lists_oldest_first_and_filters_by_status(admin_client, shop):
    _, _, lamp = shop
    first, second = place((lamp, 2)), place((lamp, 1))
    rows = listed(admin_client.get(ROWS, {"status__exact": "backordered"}))
    assert [r.order for r in rows] == [first, second]


def test_ship_allocated_orders_action(admin_client, shop):
    main, _, lamp = shop
    order = place((lamp, 3))
    asked = admin_client.post(ORDERS, {"action": "ship_allocated", "_selected_action": [order.pk]})
    assert (
        "Carrier for " + order.number in asked.content.decode()
    )  # the intermediate page, nothing shipped yet
    assert not order.rows.filter(status=RowStatus.SHIPPED).exists()
    response = admin_client.post(
        ORDERS,
        {
            "action": "ship_allocated",
            "_selected_action": [order.pk],
            "apply": "1",
            **parcel_form([(order, main)]),
        },
        follow=True,
    )
    assert "Shipments created: 1." in response.content.decode()
    assert order.rows.get(source=main).status == RowStatus.SHIPPED
    assert Stock.objects.get(source=main, product=lamp).on_hand == 0
    assert StockMovement.objects.filter(kind=MovementKind.SHIPMENT, quantity=-1).exists()


def test_cancel_and_release_row_actions(admin_client, shop):
    main, _, lamp = shop
    order = place((lamp, 3))
    allocated = order.rows.get(status=RowStatus.ALLOCATED)
    admin_client.post(ROWS, {"action": "release_rows", "_selected_action": [allocated.pk]})
    allocated.refresh_from_db()
    assert (allocated.status, Stock.objects.get(product=lamp).allocated) == (RowStatus.BACKORDERED, 0)

    admin_client.post(ORDERS, {"action": "cancel_unshipped", "_selected_action": [order.pk]})
    assert set(order.rows.values_list("status", flat=True)) == {RowStatus.CANCELLED}


def test_move_a_row_to_another_source_through_the_intermediate_page(admin_client, shop):
    main, overflow, lamp = shop
    receive(lamp, 1, overflow)
    row = place((lamp, 1)).rows.get()
    assert row.source == main
    data = {"action": "move_rows", "_selected_action": [row.pk]}

    page = admin_client.post(ROWS, data)
    assert page.status_code == 200 and "Move rows" in page.content.decode()
    admin_client.post(ROWS, {**data, "apply": "1", "source": overflow.pk})

    row.refresh_from_db()
    assert row.source == overflow
    assert {s.source.code: s.allocated for s in Stock.objects.select_related("source")} == {
        "main": 0,
        "overflow": 1,
    }


def test_a_refused_action_says_why(admin_client, shop):
    _, _, lamp = shop
    row = place((lamp, 1)).rows.get()
    response = admin_client.post(
        ROWS,
        {"action": "move_rows", "_selected_action": [row.pk], "apply": "1", "source": shop[1].pk},
        follow=True,
    )
    assert f"{lamp.name}: Warehouse {shop[1].code} has 0 free, 1 needed." in response.content.decode()


def test_admin_index_counts_rows_by_status(admin_client, shop):
    _, _, lamp = shop
    place((lamp, 3))
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert "Order rows by status" in html
    assert '?status__exact=backordered">Backordered</a></th>\n        <td>1</td><td>2</td>' in html


def test_staff_without_order_permissions_cannot_see_or_act(client, shop):
    _, _, lamp = shop
    order = place((lamp, 3))
    clerk = staff_client(client)
    assert clerk.get(ORDERS).status_code == 403
    assert clerk.get(ROWS).status_code == 403
    assert clerk.post(ORDERS, {"action": "ship_allocated", "_selected_action": [order.pk]}).status_code == 403
    assert "Order rows by status" not in clerk.get(reverse("admin:index")).content.decode()


def test_viewers_see_but_cannot_ship(client, shop):
    _, _, lamp = shop
    order = place((lamp, 3))
    viewer = staff_client(client, "orders.view_order", "orders.view_orderrow")
    assert viewer.get(ORDERS).status_code == 200
    viewer.post(ORDERS, {"action": "ship_allocated", "_selected_action": [order.pk], "apply": "1"})
    assert not order.rows.filter(status=RowStatus.SHIPPED).exists()


@pytest.mark.parametrize("url", [ORDERS, ROWS])
def test_changelists_cost_the_same_queries_for_few_and_many_orders(admin_client, shop, url):
    _, _, lamp = shop

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client.get(url).status_code == 200
        return len(ctx)

    place((lamp, 2))
    admin_client.get(url)  # warm the session and content types
    few = queries()
    for n in range(15):
        place((lamp, 1), email=f"c{n}@example.com")
    assert Order.objects.count() == 16 and OrderRow.objects.count() > 16
    assert queries() == few


def test_a_merchant_puts_a_customer_in_a_priority_tier(admin_client):
    from django.contrib.auth import get_user_model

    from orders.models import CustomerTier

    vip = get_user_model().objects.create_user("vip", "vip@example.com", "pw")
    response = admin_client.post(
        reverse("admin:orders_customertier_add"), {"user": vip.pk, "priority": 5}, follow=True
    )
    assert response.status_code == 200
    assert CustomerTier.objects.get(user=vip).priority == 5


def parcel_form(parcels, **tracking) -> dict:
    """The ship action's intermediate form for [(order, source)], with ``tracking`` per index:
    {0: ("dhl", "JD0001")}."""
    data = {"ship-TOTAL_FORMS": str(len(parcels)), "ship-INITIAL_FORMS": str(len(parcels))}
    for index, (order, source) in enumerate(parcels):
        carrier, number = tracking.get(str(index), ("", ""))
        data |= {
            f"ship-{index}-order_id": str(order.pk),
            f"ship-{index}-source_id": str(source.pk),
            f"ship-{index}-carrier": carrier,
            f"ship-{index}-tracking_number": number,
        }
    return data


def test_orders_cannot_be_deleted_in_the_admin_even_by_a_superuser(admin_client, shop):
    _, _, lamp = shop
    order = place((lamp, 1))
    change = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    changelist = admin_client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert "deletelink" not in change and 'value="delete_selected"' not in changelist
    assert admin_client.post(reverse("admin:orders_order_delete", args=[order.pk])).status_code == 403
    assert Order.objects.filter(pk=order.pk).exists()
