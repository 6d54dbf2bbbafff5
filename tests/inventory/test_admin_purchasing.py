"""The purchasing admin: suppliers with their terms, purchase orders drafted with lines inline,
sent, cancelled and received, late lines shown, and each model's own permissions."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from inventory.models import (
    InboundStatus,
    InboundSupply,
    PurchaseOrder,
    PurchaseOrderStatus,
    Stock,
    StockMovement,
    Supplier,
)
from inventory.services import (
    DraftLine,
    purchase_order_create_draft,
    purchase_order_line_receive,
    purchase_order_send,
)
from notifications.models import OutboxMessage
from tests.helpers import staff_client
from tests.inventory.factories import SupplierFactory, SupplierProductFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
CHANGELIST = reverse("admin:inventory_purchaseorder_changelist")
ADD = reverse("admin:inventory_purchaseorder_add")


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def inline(prefix: str, rows: list[dict], initial: int = 0) -> dict:
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{key}": value for key, value in row.items()})
    return data


@pytest.fixture
def acme(kettle, teapot):
    supplier = SupplierFactory(name="Acme Metalworks", email="orders@acme.example", lead_time_days=10)
    SupplierProductFactory(supplier=supplier, product=kettle, cost_price=Decimal("12.40"), pack_size=6)
    SupplierProductFactory(supplier=supplier, product=teapot, cost_price=Decimal("8.00"), lead_time_days=3)
    return supplier


@pytest.fixture
def draft(acme, kettle, teapot, main):
    return purchase_order_create_draft(
        supplier=acme,
        lines=[
            DraftLine(product=kettle, quantity=12, source=main),
            DraftLine(product=teapot, quantity=4, source=main),
        ],
    )


def act(client, action: str, *orders):
    return client.post(
        CHANGELIST, {"action": action, "_selected_action": [o.pk for o in orders]}, follow=True
    )


# -- suppliers -------------------------------------------------------------------------------


def test_a_supplier_is_added_with_its_terms_inline(admin_client, kettle):
    response = admin_client.post(
        reverse("admin:inventory_supplier_add"),
        {
            "name": "Bolt & Co",
            "email": "po@bolt.example",
            "lead_time_days": "7",
            "currency": "GBP",
            **inline(
                "terms",
                [
                    {
                        "product": kettle.pk,
                        "supplier_sku": "B-1",
                        "cost_price": "9.10",
                        "lead_time_days": "",
                        "min_order_qty": "10",
                        "pack_size": "5",
                        "is_preferred": "on",
                    }
                ],
            ),
        },
    )
    assert response.status_code == 302, response.context["errors"]
    terms = Supplier.objects.get(name="Bolt & Co").terms.get()
    assert (terms.product, terms.cost_price, terms.min_order_qty, terms.pack_size, terms.is_preferred) == (
        kettle,
        Decimal("9.10"),
        10,
        5,
        True,
    )
    assert terms.effective_lead_time_days == 7


def test_a_clerk_who_may_only_view_suppliers_sees_them_and_their_terms_but_changes_nothing(client, acme):
    clerk = staff_client(client, "inventory.view_supplier", "inventory.view_supplierproduct")
    url = reverse("admin:inventory_supplier_change", args=[acme.pk])
    page = clerk.get(url)
    assert page.status_code == 200 and "S-KETTLE-1" in page.text
    assert 'name="_save"' not in page.text
    assert clerk.post(url, {"name": "Renamed"}).status_code == 403
    acme.refresh_from_db()
    assert acme.name == "Acme Metalworks"


def test_the_terms_inline_needs_its_own_permission(client, acme):
    clerk = staff_client(client, "inventory.view_supplier", "inventory.change_supplier")
    page = clerk.get(reverse("admin:inventory_supplier_change", args=[acme.pk]))
    assert page.status_code == 200 and "S-KETTLE-1" not in page.text


# -- drafting --------------------------------------------------------------------------------


def test_a_draft_is_added_with_lines_whose_blank_cost_and_date_come_from_the_terms(
    admin_client, acme, kettle, teapot, main, admin_user
):
    response = admin_client.post(
        ADD,
        {
            "supplier": acme.pk,
            **inline(
                "lines",
                [
                    {
                        "product": kettle.pk,
                        "source": main.pk,
                        "quantity": "18",
                        "unit_cost": "",
                        "expected_date": "",
                    },
                    {
                        "product": teapot.pk,
                        "source": main.pk,
                        "quantity": "2",
                        "unit_cost": "7.00",
                        "expected_date": "",
                    },
                ],
            ),
        },
    )
    assert response.status_code == 302, response.context and response.context["inline_admin_formsets"]
    order = PurchaseOrder.objects.get()
    assert (order.number, order.status, order.created_by) == (f"PO-{order.pk:05d}", "draft", admin_user)
    assert [
        (line.line_no, line.product, line.quantity, line.unit_cost, line.expected_date)
        for line in order.lines.all()
    ] == [
        (1, kettle, 18, Decimal("12.40"), TODAY + dt.timedelta(days=10)),
        (2, teapot, 2, Decimal("7.00"), TODAY + dt.timedelta(days=3)),
    ]


def test_a_line_off_the_pack_size_is_refused_on_the_form_and_nothing_is_saved(
    admin_client, acme, kettle, main
):
    response = admin_client.post(
        ADD,
        {
            "supplier": acme.pk,
            **inline(
                "lines",
                [
                    {
                        "product": kettle.pk,
                        "source": main.pk,
                        "quantity": "7",
                        "unit_cost": "",
                        "expected_date": "",
                    }
                ],
            ),
        },
    )
    assert response.status_code == 200
    assert (
        "KETTLE-1: Acme Metalworks sells at least 1 in packs of 6; 7 is not a quantity it accepts."
        in response.text
    )
    assert not PurchaseOrder.objects.exists()


def test_a_drafts_lines_are_edited_and_a_sent_orders_are_read_only(admin_client, draft, kettle, teapot, main):
    url = reverse("admin:inventory_purchaseorder_change", args=[draft.pk])
    kettle_line, teapot_line = draft.lines.order_by("line_no")
    rows = [
        {
            "id": kettle_line.pk,
            "product": kettle.pk,
            "source": main.pk,
            "quantity": "24",
            "unit_cost": "12.40",
            "expected_date": str(kettle_line.expected_date),
        },
        {
            "id": teapot_line.pk,
            "product": teapot.pk,
            "source": main.pk,
            "quantity": "4",
            "unit_cost": "8.00",
            "expected_date": str(teapot_line.expected_date),
            "DELETE": "on",
        },
    ]
    response = admin_client.post(url, inline("lines", rows, initial=2))
    assert response.status_code == 302
    assert [(line.line_no, line.product, line.quantity) for line in draft.lines.all()] == [(1, kettle, 24)]

    purchase_order_send(purchase_order=draft)
    page = admin_client.get(url)
    assert 'name="lines-0-quantity"' not in page.text  # read-only now
    assert f"{draft.number}" in page.text and "Receive a delivery" in page.text


# -- actions ---------------------------------------------------------------------------------


def test_send_and_cancel_actions_go_through_the_services(admin_client, draft):
    response = act(admin_client, "send_selected", draft)
    assert f"Sent {draft.number}: emailed to the supplier, now inbound." in messages_of(response)
    draft.refresh_from_db()
    assert draft.status == PurchaseOrderStatus.SENT
    assert OutboxMessage.objects.filter(kind="purchase_order", to_email="orders@acme.example").count() == 1
    assert InboundSupply.objects.filter(status=InboundStatus.OPEN).count() == 2

    response = act(admin_client, "send_selected", draft)  # again: refused, naming the move
    assert f"Purchase order {draft.number} cannot move from sent to sent." in messages_of(response)
    response = act(admin_client, "cancel_selected", draft)
    assert f"Cancelled {draft.number}; their inbound supply is gone." in messages_of(response)
    assert not InboundSupply.objects.filter(status=InboundStatus.OPEN).exists()


def test_a_clerk_who_may_view_orders_has_no_actions(client, draft):
    clerk = staff_client(client, "inventory.view_purchaseorder")
    page = clerk.get(CHANGELIST)
    assert page.status_code == 200 and "send_selected" not in page.text
    act(clerk, "send_selected", draft)
    draft.refresh_from_db()
    assert draft.status == PurchaseOrderStatus.DRAFT


# -- receiving -------------------------------------------------------------------------------


def receive_url(order) -> str:
    return reverse("admin:inventory_purchaseorder_receive", args=[order.pk])


def test_the_receive_page_receives_what_arrived_once_and_keeps_the_rest_inbound(
    admin_client, draft, kettle, teapot, main, overflow
):
    purchase_order_send(purchase_order=draft)
    kettle_line, teapot_line = draft.lines.order_by("line_no")
    page = admin_client.get(receive_url(draft))
    assert page.status_code == 200 and f"{draft.number}/1" in page.text
    data = {
        "delivery": "DN-77",
        f"quantity_{kettle_line.pk}": "5",
        f"source_{kettle_line.pk}": main.pk,
        f"quantity_{teapot_line.pk}": "4",
        f"source_{teapot_line.pk}": overflow.pk,
    }
    response = admin_client.post(receive_url(draft), data, follow=True)
    assert (
        f"Received 5 × KETTLE-1 at main (reference {draft.number}/1/DN-77). "
        f"{draft.number}/1: 5 of 12 received." in messages_of(response)
    )
    admin_client.post(receive_url(draft), data)  # submitted twice: added once
    assert Stock.objects.get(product=kettle, source=main).on_hand == 5
    assert Stock.objects.get(product=teapot, source=overflow).on_hand == 4
    assert StockMovement.objects.count() == 2
    assert InboundSupply.objects.get(pk=kettle_line.inbound_id).quantity == 7
    draft.refresh_from_db()
    assert draft.status == PurchaseOrderStatus.PARTLY_RECEIVED


def test_more_than_outstanding_is_refused_naming_the_line(admin_client, draft, kettle, main):
    purchase_order_send(purchase_order=draft)
    line = draft.lines.get(line_no=1)
    purchase_order_line_receive(line=line, quantity=10)
    response = admin_client.post(
        receive_url(draft), {"delivery": "DN-2", f"quantity_{line.pk}": "3", f"source_{line.pk}": main.pk}
    )
    assert response.status_code == 200
    assert "Ensure this value is less than or equal to 2." in response.text
    assert Stock.objects.get(product=kettle, source=main).on_hand == 10


def test_receiving_needs_the_stock_permission_too(client, draft):
    purchase_order_send(purchase_order=draft)
    clerk = staff_client(client, "inventory.view_purchaseorder", "inventory.change_purchaseorder")
    assert clerk.get(receive_url(draft)).status_code == 403
    page = clerk.get(CHANGELIST)
    assert "send_selected" in page.text and "receive_selected" not in page.text


def test_a_draft_cannot_be_received_from_its_page(admin_client, draft, main):
    line = draft.lines.get(line_no=1)
    response = admin_client.post(
        receive_url(draft), {"delivery": "DN-1", f"quantity_{line.pk}": "6", f"source_{line.pk}": main.pk}
    )
    assert f"purchase order {draft.number} is draft; only a sent order is received" in response.text, (
        response.context["form"].errors
    )
    assert not StockMovement.objects.exists()


# -- late lines ------------------------------------------------------------------------------


def test_a_late_line_shows_as_late_on_the_list_and_the_order(admin_client, acme, kettle, teapot, main):
    order = purchase_order_create_draft(
        supplier=acme,
        lines=[
            DraftLine(product=kettle, quantity=6, source=main, expected_date=TODAY - dt.timedelta(days=3)),
            DraftLine(product=teapot, quantity=1, source=main, expected_date=TODAY + dt.timedelta(days=3)),
        ],
    )
    on_time = purchase_order_create_draft(
        supplier=acme,
        lines=[
            DraftLine(product=teapot, quantity=1, source=main, expected_date=TODAY - dt.timedelta(days=3))
        ],
    )  # a draft is not late: nothing was promised
    purchase_order_send(purchase_order=order)

    listed = admin_client.get(CHANGELIST + "?late=yes")
    assert [o.pk for o in listed.context["cl"].result_list] == [order.pk]
    assert listed.context["cl"].result_list[0].late_total == 1
    page = admin_client.get(reverse("admin:inventory_purchaseorder_change", args=[order.pk]))
    assert "late 3 day(s)" in page.text

    purchase_order_line_receive(line=order.lines.get(line_no=1), quantity=6)  # arrived: no longer late
    assert [o.pk for o in admin_client.get(CHANGELIST + "?late=yes").context["cl"].result_list] == []
    assert on_time.status == PurchaseOrderStatus.DRAFT


def test_a_purchase_orders_inbound_supply_is_left_to_its_order(admin_client, draft):
    purchase_order_send(purchase_order=draft)
    supply = draft.lines.get(line_no=1).inbound
    response = admin_client.post(
        reverse("admin:inventory_inboundsupply_changelist"),
        {"action": "receive_selected", "_selected_action": [supply.pk]},
        follow=True,
    )
    assert any("belong to purchase orders" in m for m in messages_of(response))
    supply.refresh_from_db()
    assert supply.status == InboundStatus.OPEN and not StockMovement.objects.exists()


# -- closing short ---------------------------------------------------------------------------


def close_short_url(order) -> str:
    return reverse("admin:inventory_purchaseorder_close_short", args=[order.pk])


@pytest.fixture
def partly(draft):
    """Sent; 5 of the 12 kettles came, none of the 4 teapots."""
    purchase_order_send(purchase_order=draft)
    purchase_order_line_receive(line=draft.lines.get(line_no=1), quantity=5)
    return draft


def test_an_order_is_closed_short_from_its_page_with_a_reason(admin_client, partly):
    change = reverse("admin:inventory_purchaseorder_change", args=[partly.pk])
    assert "Close short: the rest will not come" in admin_client.get(change).text
    page = admin_client.get(close_short_url(partly))
    assert page.status_code == 200
    assert [(line.reference, line.outstanding) for line in page.context["lines"]] == [
        (f"{partly.number}/1", 7),
        (f"{partly.number}/2", 4),
    ]

    refused = admin_client.post(close_short_url(partly), {"reason": ""})
    assert refused.status_code == 200 and "This field is required." in refused.text
    partly.refresh_from_db()
    assert partly.status == PurchaseOrderStatus.PARTLY_RECEIVED

    response = admin_client.post(close_short_url(partly), {"reason": "Acme stopped making it"}, follow=True)
    assert f"Closed {partly.number} short; what was not delivered is no longer inbound." in messages_of(
        response
    )
    partly.refresh_from_db()
    assert partly.status == PurchaseOrderStatus.CLOSED_SHORT
    assert not InboundSupply.objects.filter(status=InboundStatus.OPEN).exists()
    # The order's page: closed short, why, and what did not come; nothing left to receive or close.
    page = admin_client.get(change).text
    assert "Closed short" in page and "Acme stopped making it" in page
    assert f"{partly.number}/2 (TEAPOT-1): 4 of 4" in page
    assert "Close short: the rest will not come" not in page and "Receive a delivery" not in page


def test_a_draft_is_not_closed_short_from_the_page(admin_client, draft):
    response = admin_client.post(close_short_url(draft), {"reason": "Never mind"})
    assert "This order is draft: only a partly received order is closed short." in response.text
    draft.refresh_from_db()
    assert draft.status == PurchaseOrderStatus.DRAFT


def test_closing_short_needs_the_change_permission(client, partly):
    change = reverse("admin:inventory_purchaseorder_change", args=[partly.pk])
    viewer = staff_client(client, "inventory.view_purchaseorder")
    page = viewer.get(change)
    assert page.status_code == 200 and "Close short" not in page.text
    assert viewer.get(close_short_url(partly)).status_code == 403
    assert viewer.post(close_short_url(partly), {"reason": "Gone"}).status_code == 403
    partly.refresh_from_db()
    assert partly.status == PurchaseOrderStatus.PARTLY_RECEIVED
    assert partly.events.last().to_status == PurchaseOrderStatus.PARTLY_RECEIVED  # history still shown


def test_a_clerk_who_may_change_orders_closes_short_without_the_stock_permission(client, partly):
    clerk = staff_client(client, "inventory.view_purchaseorder", "inventory.change_purchaseorder")
    change = reverse("admin:inventory_purchaseorder_change", args=[partly.pk])
    assert "Close short: the rest will not come" in clerk.get(change).text
    assert clerk.post(close_short_url(partly), {"reason": "Gone"}).status_code == 302
    partly.refresh_from_db()
    assert partly.status == PurchaseOrderStatus.CLOSED_SHORT
