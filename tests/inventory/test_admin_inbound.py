"""Inbound supply admin: list, add and edit through the services, receive and cancel actions,
and the CSV import (every bad row listed, a preview of every line, all or nothing)."""

import datetime as dt
import re

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

import inventory.admin.inbound
import inventory.inbound_import
from catalog.models import Product
from inventory.models import InboundStatus, InboundSupply, MovementKind, Stock, StockMovement
from inventory.services import inbound_cancel, inbound_create, inbound_receive
from inventory.signals import supply_changed
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.inventory.factories import SourceFactory
from tests.inventory.test_admin import staff_client

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:inventory_inboundsupply_changelist")
ADD_URL = reverse("admin:inventory_inboundsupply_add")
IMPORT_URL = reverse("admin:inventory_inboundsupply_import")
TODAY = timezone.localdate()
SOON = TODAY + dt.timedelta(days=10)


@pytest.fixture
def announced():
    """Product ids announced through supply_changed (only the services send it)."""
    seen: list[int] = []

    def listener(sender, product_ids, **kwargs):
        seen.extend(product_ids)

    supply_changed.connect(listener)
    yield seen
    supply_changed.disconnect(listener)


def inbound(product, source, quantity=5, expected=SOON, reference="PO-1") -> InboundSupply:
    return inbound_create(
        source=source, product=product, quantity=quantity, expected_date=expected, reference=reference
    )


def change_url(supply) -> str:
    return reverse("admin:inventory_inboundsupply_change", args=[supply.pk])


def message_texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def run_action(client, action: str, *supplies):
    return client.post(
        LIST_URL, {"action": action, "_selected_action": [s.pk for s in supplies]}, follow=True
    )


def page_messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def upload(client, text: str, name: str = "inbound.csv"):
    return client.post(IMPORT_URL, {"file": SimpleUploadedFile(name, text.encode(), content_type="text/csv")})


def preview_url(response) -> str:
    assert response.status_code == 302, response.context and response.context["row_errors"]
    return response.url


# -- pages and list ------------------------------------------------------------------------


def test_every_inbound_page_renders_for_a_superuser(admin_client, main, kettle):
    supply = inbound(kettle, main)

    for url in (LIST_URL, ADD_URL, change_url(supply), IMPORT_URL):
        assert admin_client.get(url).status_code == 200, url


def test_list_shows_filters_searches_and_links_to_the_import(admin_client, main, shop, kettle, teapot):
    late = inbound(kettle, main, expected=TODAY - dt.timedelta(days=3), reference="PO-LATE")
    inbound(teapot, shop, quantity=7, reference="PO-TEA")
    gone = inbound(kettle, shop, reference="PO-GONE")
    inbound_cancel(supply=gone)

    page = admin_client.get(LIST_URL)
    html = page.content.decode()

    assert f'href="{IMPORT_URL}"' in html
    assert f'href="{ADD_URL}"' in html
    assert "late 3 day(s)" in html
    assert '<td class="field-reference">PO-TEA</td>' in html

    def refs(**params):
        return sorted(s.reference for s in admin_client.get(LIST_URL, params).context["cl"].result_list)

    assert refs(status__exact="cancelled") == ["PO-GONE"]
    assert refs(source__id__exact=shop.pk) == ["PO-GONE", "PO-TEA"]
    assert refs(late="yes") == ["PO-LATE"]
    assert refs(q="teapot-1") == ["PO-TEA"]
    assert refs(q="PO-LATE") == ["PO-LATE"]
    assert refs(expected_date__gte=str(TODAY), expected_date__lt=str(SOON + dt.timedelta(days=1))) == [
        "PO-GONE",
        "PO-TEA",
    ]
    assert late.pk  # listed with its lateness above


def test_list_query_count_does_not_grow_with_rows(admin_client, main, django_assert_max_num_queries):
    def add(n, prefix):
        for i in range(n):
            inbound(ProductFactory(), main, reference=f"{prefix}-{i}")

    add(3, "A")
    admin_client.get(LIST_URL)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(LIST_URL)
    add(20, "B")
    with CaptureQueriesContext(connection) as many:
        admin_client.get(LIST_URL)
    assert len(few.captured_queries) == len(many.captured_queries)


# -- add and edit through the services ---------------------------------------------------------


def test_adding_goes_through_inbound_create(
    admin_client, main, kettle, announced, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            ADD_URL,
            {
                "source": main.pk,
                "product": kettle.pk,
                "quantity": "24",
                "expected_date": str(SOON),
                "reference": " PO-77 ",
            },
        )

    assert response.status_code == 302
    supply = InboundSupply.objects.get()
    assert (supply.quantity, supply.expected_date, supply.reference, supply.status) == (
        24,
        SOON,
        "PO-77",
        InboundStatus.OPEN,
    )
    assert announced == [kettle.pk]  # the service announced it; a bare model save would not


def test_the_add_form_offers_active_sources_only_and_has_no_status(admin_client, main, kettle):
    closed = SourceFactory(code="closed", is_active=False)

    page = admin_client.get(ADD_URL)

    html = page.content.decode()
    assert f'<option value="{main.pk}">' in html
    assert f'<option value="{closed.pk}">' not in html
    assert 'name="status"' not in html


@override_settings(RESTOCK_MAX_QUANTITY=100)
@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"quantity": "0"}, "quantity", "quantity must be a positive whole number, got 0."),
        ({"quantity": "101"}, "quantity", "quantity 101 is larger than the 100 allowed in one receipt."),
        ({"quantity": "abc"}, "quantity", "Enter a whole number."),
        ({"reference": "  "}, "reference", "This field is required."),
        ({"expected_date": "31/12/2026"}, "expected_date", "Enter a valid date."),
        ({"product": "999999"}, "product", None),
    ],
)
def test_add_form_errors_create_nothing(admin_client, main, kettle, changes, field, error):
    data = {
        "source": main.pk,
        "product": kettle.pk,
        "quantity": "5",
        "expected_date": str(SOON),
        "reference": "P",
    }

    response = admin_client.post(ADD_URL, {**data, **changes})

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors[field]
    assert errors if error is None else errors == [error]
    assert not InboundSupply.objects.exists()


def test_the_same_reference_twice_at_a_source_is_refused(admin_client, main, kettle):
    inbound(kettle, main, reference="PO-1")

    response = admin_client.post(
        ADD_URL,
        {
            "source": main.pk,
            "product": kettle.pk,
            "quantity": "5",
            "expected_date": str(SOON),
            "reference": "PO-1",
        },
    )

    assert response.status_code == 200
    assert "already exists" in str(response.context["adminform"].form.errors)
    assert InboundSupply.objects.count() == 1


def test_editing_changes_quantity_and_date_through_inbound_update(
    admin_client, main, shop, kettle, teapot, announced, django_capture_on_commit_callbacks
):
    supply = inbound(kettle, main)
    later = SOON + dt.timedelta(days=7)

    page = admin_client.get(change_url(supply))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            change_url(supply),
            {
                "quantity": "9",
                "expected_date": str(later),
                # Read-only on an existing supply: posted values are ignored.
                "source": shop.pk,
                "product": teapot.pk,
                "reference": "HACKED",
                "status": "received",
            },
        )

    html = page.content.decode()
    assert 'name="quantity"' in html and 'name="expected_date"' in html
    for name in ("source", "product", "reference", "status"):
        assert f'name="{name}"' not in html
    assert response.status_code == 302
    supply.refresh_from_db()
    assert (supply.quantity, supply.expected_date, supply.source, supply.product, supply.reference) == (
        9,
        later,
        main,
        kettle,
        "PO-1",
    )
    assert supply.status == InboundStatus.OPEN
    assert announced == [kettle.pk]


def test_received_or_cancelled_supply_is_read_only(admin_client, main, kettle):
    received = inbound(kettle, main, reference="PO-R")
    inbound_receive(supply=received)
    cancelled = inbound(kettle, main, reference="PO-C")
    inbound_cancel(supply=cancelled)

    for supply in (received, cancelled):
        page = admin_client.get(change_url(supply))
        response = admin_client.post(change_url(supply), {"quantity": "99", "expected_date": str(SOON)})

        assert 'name="quantity"' not in page.content.decode()
        assert response.status_code == 200
        assert "it can no longer change" in str(response.context["adminform"].form.errors)
        supply.refresh_from_db()
        assert supply.quantity == 5


def test_a_supply_received_while_the_form_was_open_is_not_changed(admin_client, main, kettle, monkeypatch):
    supply = inbound(kettle, main)
    real_update = inventory.admin.inbound.inbound_update

    def received_meanwhile(**kwargs):
        inbound_receive(supply=supply)  # another clerk receives it between the form and the save
        return real_update(**kwargs)

    monkeypatch.setattr(inventory.admin.inbound, "inbound_update", received_meanwhile)

    response = admin_client.post(change_url(supply), {"quantity": "9", "expected_date": str(SOON)})

    assert response.status_code == 302 and response.url == change_url(supply)
    assert message_texts(response) == [
        "Nothing was saved: Inbound PO-1 is received; it can no longer change."
    ]
    supply.refresh_from_db()
    assert supply.quantity == 5


def test_inbound_supply_cannot_be_deleted(admin_client, main, kettle):
    supply = inbound(kettle, main)

    delete = reverse("admin:inventory_inboundsupply_delete", args=[supply.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    actions = admin_client.get(LIST_URL).context["action_form"].fields["action"].choices
    assert [name for name, _ in actions] == ["", "receive_selected", "cancel_selected"]
    assert InboundSupply.objects.filter(pk=supply.pk).exists()


# -- actions -----------------------------------------------------------------------------------


def test_receive_selected_receives_open_supply_and_reports_the_rest(
    admin_client, admin_user, main, kettle, teapot
):
    due = inbound(kettle, main, quantity=6, reference="PO-1")
    also = inbound(teapot, main, quantity=4, reference="PO-2")
    done = inbound(kettle, main, quantity=3, reference="PO-3")
    inbound_receive(supply=done)
    gone = inbound(teapot, main, quantity=2, reference="PO-4")
    inbound_cancel(supply=gone)
    received_by_hand = inbound(teapot, main, quantity=8, reference="PO-5")
    receive(teapot, 8, main, reference="PO-5")  # the delivery came in through "Receive stock"

    response = run_action(admin_client, "receive_selected", due, also, done, gone, received_by_hand)

    assert page_messages(response) == [
        ("success", "Received 2 inbound supply line(s), 10 unit(s): PO-1, PO-2."),
        (
            "warning",
            "Marked received without adding units, their reference was already received at the source: PO-5.",
        ),
        ("warning", "Already received, nothing added: PO-3."),
        ("error", "Cancelled, not received: PO-4. Use Receive stock for units that arrived anyway."),
    ]
    statuses = dict(InboundSupply.objects.values_list("reference", "status"))
    assert statuses == {
        "PO-1": "received",
        "PO-2": "received",
        "PO-3": "received",
        "PO-4": "cancelled",
        "PO-5": "received",
    }
    on_hand = {(s.product.sku): s.on_hand for s in Stock.objects.select_related("product")}
    assert on_hand == {"KETTLE-1": 9, "TEAPOT-1": 12}
    receipt = StockMovement.objects.get(reference="PO-1")
    assert (receipt.kind, receipt.quantity, receipt.user) == (MovementKind.RECEIPT, 6, admin_user)


def test_receiving_twice_adds_units_once(admin_client, main, kettle):
    supply = inbound(kettle, main, quantity=6)

    run_action(admin_client, "receive_selected", supply)
    again = run_action(admin_client, "receive_selected", supply)

    assert page_messages(again) == [("warning", "Already received, nothing added: PO-1.")]
    assert Stock.objects.get().on_hand == 6


def test_cancel_selected_cancels_open_supply_and_reports_the_rest(admin_client, main, kettle, teapot):
    due = inbound(kettle, main, reference="PO-1")
    done = inbound(teapot, main, reference="PO-2")
    inbound_receive(supply=done)
    gone = inbound(kettle, main, reference="PO-3")
    inbound_cancel(supply=gone)

    response = run_action(admin_client, "cancel_selected", due, done, gone)

    assert page_messages(response) == [
        ("success", "Cancelled 1 inbound supply line(s): PO-1."),
        ("warning", "Already cancelled: PO-3."),
        ("error", "Already received, cannot be cancelled: PO-2."),
    ]
    statuses = dict(InboundSupply.objects.values_list("reference", "status"))
    assert statuses == {"PO-1": "cancelled", "PO-2": "received", "PO-3": "cancelled"}
    assert Stock.objects.get().on_hand == 5  # only PO-2's receipt


# -- CSV import --------------------------------------------------------------------------------

GOOD = (
    "source,sku,quantity,expected_date,reference\n"
    f"main,KETTLE-1,120,{SOON},PO-2210\n"
    f"shop,KETTLE-1,12,{SOON},PO-2210\n"
    f"main,TEAPOT-1,40,{SOON + dt.timedelta(days=14)},PO-2211\n"
)


@override_settings(RESTOCK_MAX_QUANTITY=1000)
def test_every_bad_row_of_an_import_is_listed_and_nothing_is_created(admin_client, main, kettle):
    SourceFactory(code="closed", is_active=False)
    long_ref = "R" * 101
    text = "\n".join(
        [
            "source,sku,quantity,expected_date,reference",
            f"main,KETTLE-1,5,{SOON},PO-OK",  # 2: good, but the file is bad
            f"nowhere,KETTLE-1,5,{SOON},PO-3",  # 3
            f"closed,KETTLE-1,5,{SOON},PO-4",  # 4
            f"main,NOPE-9,5,{SOON},PO-5",  # 5
            f",,5,{SOON},PO-6",  # 6
            f"main,KETTLE-1,0,{SOON},PO-7",  # 7
            f"main,KETTLE-1,-1,{SOON},PO-8",  # 8
            f"main,KETTLE-1,1.5,{SOON},PO-9",  # 9
            f"main,KETTLE-1,1001,{SOON},PO-10",  # 10
            "main,KETTLE-1,5,2026-02-30,PO-11",  # 11: no such day
            "main,KETTLE-1,5,02/03/2026,PO-12",  # 12: not ISO
            "main,KETTLE-1,5,,PO-13",  # 13: missing date
            f"main,KETTLE-1,5,{SOON},",  # 14: missing reference
            f"main,KETTLE-1,5,{SOON},{long_ref}",  # 15: reference too long
            "main,KETTLE-1,5,PO-16",  # 16: four columns
            f"main,KETTLE-1,2,{SOON},PO-OK",  # 17: duplicate of line 2
        ]
    )

    response = upload(admin_client, text)

    assert response.status_code == 200
    assert response.context["row_errors"] == [
        "line 3: unknown source 'nowhere'",
        "line 4: source 'closed' is inactive",
        "line 5: unknown SKU 'NOPE-9'",
        "line 6: missing source; missing SKU",
        "line 7: quantity '0' is not a positive whole number",
        "line 8: quantity '-1' is not a positive whole number",
        "line 9: quantity '1.5' is not a positive whole number",
        "line 10: quantity 1001 is larger than the 1000 allowed",
        "line 11: expected date '2026-02-30' is not a date (YYYY-MM-DD)",
        "line 12: expected date '02/03/2026' is not a date (YYYY-MM-DD)",
        "line 13: missing expected date",
        "line 14: missing reference",
        "line 15: reference longer than 100 characters",
        "line 16: expected 5 columns (source, sku, quantity, expected_date, reference), found 4",
        "line 17: duplicate of line 2 (same source, SKU and reference)",
    ]
    assert "15 bad row(s); nothing was applied." in response.content.decode()
    assert not InboundSupply.objects.exists()


def test_a_good_import_previews_every_line_then_creates_them_through_the_service(
    admin_client, main, shop, kettle, teapot, announced, django_capture_on_commit_callbacks
):
    url = preview_url(upload(admin_client, GOOD))
    preview = admin_client.get(url)

    assert preview.status_code == 200
    totals = preview.context["totals"]
    assert {k: totals[k] for k in ("lines", "new", "skipped", "units", "products", "sources")} == {
        "lines": 3,
        "new": 3,
        "skipped": 0,
        "units": 172,
        "products": 2,
        "sources": 2,
    }
    rows = [
        (line.line_no, line.source.code, line.product.sku, existing)
        for line, existing in preview.context["line_page"]
    ]
    assert rows == [
        (2, "main", "KETTLE-1", None),
        (3, "shop", "KETTLE-1", None),
        (4, "main", "TEAPOT-1", None),
    ]
    assert "Import 3 lines" in preview.content.decode()
    assert not InboundSupply.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        applied = admin_client.post(url)

    assert applied.status_code == 302 and applied.url == LIST_URL
    assert message_texts(applied) == ["inbound.csv: imported 3 inbound supply line(s), 172 unit(s)."]
    assert sorted(
        InboundSupply.objects.values_list("source__code", "product__sku", "quantity", "status")
    ) == [
        ("main", "KETTLE-1", 120, "open"),
        ("main", "TEAPOT-1", 40, "open"),
        ("shop", "KETTLE-1", 12, "open"),
    ]
    assert sorted(announced) == sorted([kettle.pk, kettle.pk, teapot.pk])


def test_importing_the_same_file_again_adds_nothing(admin_client, main, shop, kettle, teapot):
    admin_client.post(preview_url(upload(admin_client, GOOD)))

    url = preview_url(upload(admin_client, GOOD))
    preview = admin_client.get(url)
    applied = admin_client.post(url)

    assert (preview.context["totals"]["new"], preview.context["totals"]["skipped"]) == (0, 3)
    assert preview.content.decode().count("— skipped") == 4  # 3 lines + the total
    assert message_texts(applied) == [
        "inbound.csv: every one of its 3 line(s) was already recorded; nothing added."
    ]
    assert InboundSupply.objects.count() == 3


def test_lines_already_recorded_show_what_is_recorded_and_are_skipped(
    admin_client, main, shop, kettle, teapot
):
    inbound(kettle, main, quantity=100, expected=TODAY + dt.timedelta(days=2), reference="PO-2210")

    url = preview_url(upload(admin_client, GOOD))
    preview = admin_client.get(url)
    applied = admin_client.post(url)

    html = preview.content.decode()
    assert f"already recorded (open: 100 on {TODAY + dt.timedelta(days=2)}) — skipped" in html
    assert message_texts(applied) == [
        "inbound.csv: imported 2 inbound supply line(s), 52 unit(s). 1 line(s) already recorded — skipped."
    ]
    assert InboundSupply.objects.get(source=main, product=kettle).quantity == 100


def test_late_lines_are_flagged_in_the_preview(admin_client, main, kettle):
    url = preview_url(upload(admin_client, f"main,KETTLE-1,5,{TODAY - dt.timedelta(days=1)},PO-1\n"))

    preview = admin_client.get(url)

    assert preview.context["totals"]["late"] == 1
    assert "late already" in preview.content.decode()


def test_an_import_is_all_or_nothing(admin_client, main, shop, kettle, teapot, monkeypatch):
    url = preview_url(upload(admin_client, GOOD))
    real_create = inventory.inbound_import.inbound_create
    calls = []

    def create_then_collide(**kwargs):
        calls.append(kwargs["reference"])
        if len(calls) == 3:  # another clerk recorded the last line a moment ago
            inbound(teapot, main, quantity=1, reference="PO-2211")
        return real_create(**kwargs)

    monkeypatch.setattr(inventory.inbound_import, "inbound_create", create_then_collide)

    response = admin_client.post(url)

    assert response.status_code == 302 and response.url == url
    assert message_texts(response) == [
        "inbound.csv: nothing was applied (another import added the same references). Try again."
    ]
    assert list(InboundSupply.objects.values_list("reference", "quantity")) == []


def test_import_preview_queries_do_not_grow_with_the_lines(admin_client, main, shop):
    Product.objects.bulk_create(
        [Product(sku=f"BULK-{i:03d}", name=f"Bulk {i}", slug=f"bulk-{i}", price="1.00") for i in range(50)]
    )

    def text(n, prefix):
        return "".join(f"main,BULK-{i % 50:03d},{1 + i % 5},{SOON},{prefix}-{i}\n" for i in range(n))

    def measure(n, prefix):
        with CaptureQueriesContext(connection) as posted:
            url = preview_url(upload(admin_client, text(n, prefix)))
        with CaptureQueriesContext(connection) as shown:
            page = admin_client.get(url)
        assert page.context["totals"]["lines"] == n
        return len(posted), len(shown)

    measure(10, "WARM")
    assert measure(10, "A") == measure(1000, "B")


# -- permissions ---------------------------------------------------------------------------------


def test_staff_without_permissions_gets_403_everywhere(client, main, kettle):
    supply = inbound(kettle, main)
    staff = staff_client(client)

    for url in (LIST_URL, ADD_URL, change_url(supply), IMPORT_URL):
        assert staff.get(url).status_code == 403, url
    assert upload(staff, GOOD).status_code == 403
    assert staff.post(reverse("admin:inventory_inboundsupply_import_preview", args=["x"])).status_code == 403


def test_view_permission_lists_but_offers_no_actions_add_or_import(client, main, kettle):
    supply = inbound(kettle, main)
    staff = staff_client(client, "inventory.view_inboundsupply")

    page = staff.get(LIST_URL)
    response = staff.post(LIST_URL, {"action": "receive_selected", "_selected_action": [supply.pk]})

    html = page.content.decode()
    assert page.status_code == 200
    assert f'href="{IMPORT_URL}"' not in html and f'href="{ADD_URL}"' not in html
    assert 'name="action"' not in html
    assert response.status_code == 200  # the list again: no action ran
    supply.refresh_from_db()
    assert supply.status == InboundStatus.OPEN
    assert staff.get(IMPORT_URL).status_code == 403
    assert staff.post(change_url(supply), {"quantity": "9", "expected_date": str(SOON)}).status_code == 403


def test_add_permission_opens_the_add_form_and_the_import(client, main, kettle, teapot, shop):
    staff = staff_client(client, "inventory.add_inboundsupply")

    add_page = staff.get(ADD_URL)
    added = staff.post(
        ADD_URL,
        {
            "source": main.pk,
            "product": teapot.pk,
            "quantity": "2",
            "expected_date": str(SOON),
            "reference": "PO-9",
        },
    )
    assert staff.get(IMPORT_URL).status_code == 200
    staff.post(preview_url(upload(staff, GOOD)))

    # Without view permission on products the product is picked from a list, not a search.
    assert f'<option value="{kettle.pk}">' in add_page.content.decode()
    assert added.status_code == 302
    assert InboundSupply.objects.count() == 4


def test_the_add_form_searches_products_for_users_who_may_see_them(admin_client, main, kettle):
    html = admin_client.get(ADD_URL).content.decode()

    product = re.search(r'<select name="product"[^>]*>.*?</select>', html, re.S).group(0)
    assert 'class="admin-autocomplete"' in product
    assert 'data-field-name="product"' in product
    # Searched for, not listed (only the product select: the source select has options too).
    assert f'<option value="{kettle.pk}"' not in product


def test_change_permission_runs_the_actions_and_edits(client, main, kettle):
    supply = inbound(kettle, main, quantity=3)
    staff = staff_client(client, "inventory.view_inboundsupply", "inventory.change_inboundsupply")

    assert staff.get(IMPORT_URL).status_code == 403
    assert staff.post(change_url(supply), {"quantity": "4", "expected_date": str(SOON)}).status_code == 302
    run_action(staff, "receive_selected", supply)

    supply.refresh_from_db()
    assert (supply.quantity, supply.status) == (4, InboundStatus.RECEIVED)
    assert Stock.objects.get().on_hand == 4
