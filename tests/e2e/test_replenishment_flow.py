"""Replenishment end to end in a real headless Chromium, emails at a real SMTP sink.

Two customers wait for 3 lanterns (nothing on the shelf, promised by the 30-day lead time).
The merchant opens the replenishment page, sees the suggestion with its numbers, drafts a
purchase order from it, sends it (the supplier gets an email with the lines as CSV), and the
customers' promise dates move to the order's expected date at once. The delivery is
received on the order's page: the waiting rows are allocated and both customers are emailed.
"""

import csv
import datetime as dt
import io
import re
import time
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.formats import date_format
from playwright.sync_api import Page, expect

from inventory.models import PurchaseOrder, PurchaseOrderStatus
from orders.models import OrderRow, RowStatus
from tests.billing.factories import pay, place
from tests.catalog.factories import ProductFactory, global_settings_set
from tests.inventory.factories import SourceFactory, SupplierFactory, SupplierProductFactory
from tests.notifications.smtp import SmtpSink

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "lantern-buyer-pw"
SUPPLIER_EMAIL = "orders@lumen.example"


@pytest.fixture
def sink():
    with SmtpSink() as server:
        yield server


@pytest.fixture(autouse=True)
def shop(settings, live_server, global_settings, eager, sink):
    settings.SITE_URL = live_server.url
    for name, value in sink.django_settings().items():
        setattr(settings, name, value)
    settings.MERCHANT_EMAILS = ["merchant@shop.example"]
    settings.BILLING_SETTLEMENT = "per_shipment"
    global_settings_set(lead_time_days=30, demand_window_days=28)
    return settings


@pytest.fixture
def lantern():
    """Sold on backorder, none on the shelf; Lumen sells it in packs of 5 (at least 5), 7 days out."""
    SourceFactory(code="main", name="Main warehouse", priority=1)
    lantern = ProductFactory(sku="LANTERN-1", name="Storm lantern", price=Decimal("20.00"), notify=True)
    lumen = SupplierFactory(name="Lumen Supply", email=SUPPLIER_EMAIL, lead_time_days=7)
    SupplierProductFactory(
        supplier=lumen, product=lantern, supplier_sku="LU-88", cost_price=Decimal("8.00"), min_order_qty=5,
        pack_size=5, is_preferred=True,
    )  # fmt: skip
    return lantern


def waiting_customers(lantern):
    orders = [place([(lantern, 2)], email="ada@example.com"), place([(lantern, 1)], email="bob@example.com")]
    for order in orders:
        pay(order)
    return orders


def promises(lantern) -> set[dt.date]:
    return set(OrderRow.objects.filter(product=lantern, status__in=[RowStatus.BACKORDERED]).values_list(
        "promise_date", flat=True
    ))  # fmt: skip


def wait_for_mail(sink: SmtpSink, to: str, subject: str, timeout: float = 10.0):
    """The message the sink accepted for ``to`` whose subject matches (the send job runs after
    the request's commit)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for received in sink.received:
            if to in received.to and re.search(subject, received.subject):
                return received
        time.sleep(0.1)
    raise AssertionError(
        f"no email to {to} matching {subject!r}; got {[(r.to, r.subject) for r in sink.received]}"
    )


def sign_in_to_admin(page: Page) -> None:
    get_user_model().objects.create_superuser("buyer", "buyer@shop.example", PASSWORD)
    page.goto("/admin/")
    page.get_by_label("Username").fill("buyer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_suggestion_to_draft_to_sent_to_received_allocates_and_emails(
    page: Page, lantern, sink, screenshot_dir
):
    today = timezone.localdate()
    orders = waiting_customers(lantern)
    assert promises(lantern) == {today + dt.timedelta(days=30)}  # the lead time: nothing inbound

    # the suggestion, with the numbers behind it
    sign_in_to_admin(page)
    page.get_by_role("link", name="What to buy, by preferred supplier, and draft purchase orders").click()
    expect(page.get_by_role("heading", name="Lumen Supply")).to_be_visible()
    row = page.locator("#suggestion-LANTERN-1")
    # 3 ordered in 28 days × 7 days = 0.75 → reorder point 1; 3 waiting + 1 = 4 → at least 5
    for figure, value in {
        "demand": "3",
        "waiting": "3",
        "free": "0",
        "inbound": "0",
        "reorder-point": "1",
    }.items():
        expect(row.locator(f'[data-figure="{figure}"]')).to_have_text(value)
    expect(row.locator('[data-figure="suggested"]')).to_contain_text("5")
    page.screenshot(path=str(screenshot_dir / "e2e-replenishment.png"), full_page=True)

    # → a draft purchase order
    page.get_by_label("Order LANTERN-1").check()
    page.get_by_role("button", name="Draft purchase orders for the selected").click()
    expect(page.locator(".messagelist")).to_contain_text("Drafted 1 purchase order:")
    po = PurchaseOrder.objects.get()
    assert po.status == PurchaseOrderStatus.DRAFT
    assert list(po.lines.values_list("product__sku", "quantity", "source__code")) == [
        ("LANTERN-1", 5, "main")
    ]
    expect(row.locator('[data-figure="in-draft"]')).to_have_text("5")
    assert promises(lantern) == {today + dt.timedelta(days=30)}  # a draft is not inbound

    # → sent: the supplier's email carries the lines as CSV
    page.get_by_role("link", name=po.number).click()
    expect(page.get_by_role("heading", name=re.compile("Change purchase order"))).to_be_visible()
    page.goto("/admin/inventory/purchaseorder/")
    page.locator(f'input[name="_selected_action"][value="{po.pk}"]').check()
    page.locator('select[name="action"]').select_option(
        label="Send selected purchase orders to their suppliers"
    )
    page.get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Sent {po.number}")
    mail = wait_for_mail(sink, SUPPLIER_EMAIL, po.number)
    (attachment,) = list(mail.message.iter_attachments())
    assert attachment.get_filename() == f"{po.number}.csv"
    lines = list(csv.DictReader(io.StringIO(attachment.get_content())))
    assert [(line["sku"], line["supplier_sku"], line["quantity"]) for line in lines] == [
        ("LANTERN-1", "LU-88", "5")
    ]

    # → the promise dates move to the order's expected date at once
    expected = today + dt.timedelta(days=7)
    assert promises(lantern) == {expected}
    page.goto("/admin/orders/orderrow/?q=LANTERN-1")
    result = page.locator("#result_list tbody")
    expect(result.locator("tr")).to_have_count(2)
    expect(result.locator("td.field-promise_date", has_text=date_format(expected))).to_have_count(2)
    page.goto("/admin/replenishment/?all=1")
    expect(row.locator('[data-figure="inbound"]')).to_have_text("5")
    expect(row.locator('[data-figure="suggested"]')).to_have_text("0")

    # → received on the order's page: the waiting rows are allocated, the customers emailed
    page.goto(f"/admin/inventory/purchaseorder/{po.pk}/change/")
    page.get_by_role("link", name="Receive a delivery").click()
    page.locator("tr", has_text=f"{po.number}/1").locator('input[type="number"]').fill("5")
    page.get_by_role("button", name="Receive", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("5 of 5 received")
    po.refresh_from_db()
    assert po.status == PurchaseOrderStatus.RECEIVED
    for order in orders:
        assert set(order.rows.values_list("status", flat=True)) == {RowStatus.ALLOCATED}
        mail = wait_for_mail(sink, order.email, f"items of order {order.number} are ready to ship")
        assert "Storm lantern" in mail.text
    page.screenshot(path=str(screenshot_dir / "e2e-replenishment-received.png"), full_page=True)
