"""Restock CSV upload in the admin: every bad row listed, a preview, then all of it or nothing."""

import time

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import Product
from inventory.forms import CsvUploadForm
from inventory.models import Source, Stock, StockMovement
from tests.helpers import receive
from tests.inventory.factories import SourceFactory
from tests.inventory.test_admin import staff_client

pytestmark = pytest.mark.django_db

UPLOAD_URL = reverse("admin:inventory_stock_upload")
STOCK_URL = reverse("admin:inventory_stock_changelist")

GOOD = "source,sku,quantity,reference\nmain,KETTLE-1,10,PO-1\nshop,KETTLE-1,4,PO-1\nmain,TEAPOT-1,3,PO-2\n"


def upload(client, text: str | bytes, name: str = "restock.csv"):
    data = text.encode() if isinstance(text, str) else text
    return client.post(UPLOAD_URL, {"file": SimpleUploadedFile(name, data, content_type="text/csv")})


def preview_url(response) -> str:
    assert response.status_code == 302, getattr(response, "context", None) and response.context["form"].errors
    assert response.url.startswith(UPLOAD_URL) and response.url != UPLOAD_URL
    return response.url


def message_texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def on_hand() -> dict[tuple[str, str], int]:
    return {
        (s.source.code, s.product.sku): s.on_hand for s in Stock.objects.select_related("source", "product")
    }


def csv_lines(n: int, *, products: int = 50, prefix: str = "PO") -> str:
    return "source,sku,quantity,reference\n" + "".join(
        f"{'main' if i % 2 else 'shop'},BULK-{i % products:03d},{1 + i % 7},{prefix}-{i}\n" for i in range(n)
    )


def bulk_products(n: int = 50) -> None:
    Product.objects.bulk_create(
        [Product(sku=f"BULK-{i:03d}", name=f"Bulk {i}", slug=f"bulk-{i}", price="1.00") for i in range(n)]
    )


# -- pages -------------------------------------------------------------------------------


def test_upload_page_renders_and_the_stock_list_links_to_it(admin_client, main):
    page = admin_client.get(UPLOAD_URL)
    stock_list = admin_client.get(STOCK_URL).content.decode()

    assert page.status_code == 200
    html = page.content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert "source, sku, quantity, reference" in html
    assert f'href="{UPLOAD_URL}"' in stock_list


# -- bad files: every bad row listed, nothing applied -------------------------------------


@override_settings(RESTOCK_MAX_QUANTITY=1000)
def test_every_bad_row_is_listed_with_its_line_and_nothing_is_applied(admin_client, main, shop, kettle):
    SourceFactory(code="closed", is_active=False)
    text = "\n".join(
        [
            "source,sku,quantity,reference",
            "main,KETTLE-1,5,PO-OK",  # 2: good, but the file is bad so it is not applied
            "nowhere,KETTLE-1,5,PO-3",  # 3: unknown source
            "closed,KETTLE-1,5,PO-4",  # 4: inactive source
            "main,NOPE-9,5,PO-5",  # 5: unknown SKU
            ",,5,PO-6",  # 6: missing source and SKU
            "main,KETTLE-1,0,PO-7",  # 7: zero
            "main,KETTLE-1,-2,PO-8",  # 8: negative
            "main,KETTLE-1,2.5,PO-9",  # 9: not whole
            "main,KETTLE-1,abc,PO-10",  # 10: not a number
            "main,KETTLE-1,1001,PO-11",  # 11: over the maximum
            "main,KETTLE-1,5,",  # 12: missing reference
            "main,KETTLE-1,5",  # 13: too few columns
            "main,KETTLE-1,5,PO-14,extra",  # 14: too many columns
            "main,KETTLE-1,1,PO-OK",  # 15: duplicate of line 2
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
        "line 8: quantity '-2' is not a positive whole number",
        "line 9: quantity '2.5' is not a positive whole number",
        "line 10: quantity 'abc' is not a positive whole number",
        "line 11: quantity 1001 is larger than the 1000 allowed",
        "line 12: missing reference",
        "line 13: expected 4 columns (source, sku, quantity, reference), found 3",
        "line 14: expected 4 columns (source, sku, quantity, reference), found 5",
        "line 15: duplicate of line 2 (same source, SKU and reference)",
    ]
    html = response.content.decode()
    assert "13 bad row(s); nothing was applied." in html
    assert "line 11: quantity 1001 is larger than the 1000 allowed" in html
    assert not StockMovement.objects.exists()
    assert not Stock.objects.exists()
    assert "inventory_uploads_upload" not in admin_client.session


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"", "The submitted file is empty."),
        (b"source,sku,quantity,reference\n\n", "1 bad row(s); nothing was applied."),
        ("main,KETTLE-1,5,PO-1\n".encode("utf-16"), "The file is not UTF-8 text"),
        (b"main,KETTLE-1,5,PO\x00-1\n", "The file is not readable as CSV"),
    ],
)
def test_unreadable_or_empty_files_are_refused(admin_client, main, kettle, content, error):
    response = upload(admin_client, content)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not StockMovement.objects.exists()


def test_a_file_over_the_size_limit_is_refused(admin_client, main, kettle, monkeypatch):
    monkeypatch.setattr(CsvUploadForm, "MAX_BYTES", 50)

    response = upload(admin_client, GOOD)

    assert response.status_code == 200
    assert "at most 50 are accepted" in response.content.decode()
    assert not StockMovement.objects.exists()


# -- a good file: preview, then apply once --------------------------------------------------


def test_a_good_upload_previews_changes_nothing_then_applies(
    admin_client, admin_user, main, shop, kettle, teapot
):
    receive(kettle, 2, main, reference="EARLIER")

    url = preview_url(upload(admin_client, GOOD))
    preview = admin_client.get(url)

    assert preview.status_code == 200
    p = preview.context["preview"]
    assert (len(p.lines), p.units, p.products, p.sources, p.skipped_lines) == (3, 17, 2, 2, 0)
    assert [(x.source.code, x.product.sku, x.on_hand, x.units, x.after) for x in p.pairs] == [
        ("main", "KETTLE-1", 2, 10, 12),
        ("shop", "KETTLE-1", 0, 4, 4),
        ("main", "TEAPOT-1", 0, 3, 3),
    ]
    html = preview.content.decode()
    assert "restock.csv" in html and "Receive 17 units" in html
    assert on_hand() == {("main", "KETTLE-1"): 2}  # the preview wrote nothing
    assert StockMovement.objects.count() == 1

    applied = admin_client.post(url)

    assert applied.status_code == 302 and applied.url == STOCK_URL
    assert message_texts(applied) == [
        "restock.csv: received 3 of 3 line(s), 17 unit(s) of 2 product(s) at 2 source(s)."
    ]
    assert on_hand() == {("main", "KETTLE-1"): 12, ("shop", "KETTLE-1"): 4, ("main", "TEAPOT-1"): 3}
    assert set(StockMovement.objects.filter(user=admin_user).values_list("reference", "quantity")) == {
        ("PO-1", 10),
        ("PO-1", 4),
        ("PO-2", 3),
    }
    # The upload is used up: posting the confirm again applies nothing.
    again = admin_client.post(url)
    assert again.status_code == 302 and again.url == UPLOAD_URL
    assert "already applied or has expired" in message_texts(again)[-1]
    assert StockMovement.objects.count() == 4


def test_the_same_file_again_previews_every_line_as_skipped_and_adds_nothing(
    admin_client, main, shop, kettle, teapot
):
    admin_client.post(preview_url(upload(admin_client, GOOD)))
    before = on_hand()

    url = preview_url(upload(admin_client, GOOD))
    preview = admin_client.get(url)
    applied = admin_client.post(url)

    p = preview.context["preview"]
    assert (p.units, p.skipped_lines, p.skipped_units) == (0, 3, 17)
    assert [(x.on_hand, x.after) for x in p.pairs] == [(10, 10), (4, 4), (3, 3)]
    assert preview.content.decode().count("already received — skipped") == 4  # 3 lines + the total
    assert message_texts(applied) == [
        "restock.csv: every one of its 3 line(s) was already received; nothing added."
    ]
    assert on_hand() == before
    assert StockMovement.objects.count() == 3


def test_lines_already_received_are_marked_and_left_out_of_the_after_figures(
    admin_client, main, shop, kettle, teapot
):
    receive(kettle, 10, main, reference="PO-1")  # the first line arrived through the receive form

    url = preview_url(upload(admin_client, GOOD))
    preview = admin_client.get(url)
    applied = admin_client.post(url)

    p = preview.context["preview"]
    assert [skipped for _, _, skipped in p.lines] == [True, False, False]
    assert [(x.source.code, x.product.sku, x.on_hand, x.after, x.skipped) for x in p.pairs][0] == (
        "main",
        "KETTLE-1",
        10,
        10,
        1,
    )
    assert message_texts(applied) == [
        "restock.csv: received 2 of 3 line(s), 7 unit(s) of 2 product(s) at 2 source(s). "
        "1 line(s) already received — skipped."
    ]
    assert on_hand() == {("main", "KETTLE-1"): 10, ("shop", "KETTLE-1"): 4, ("main", "TEAPOT-1"): 3}


def test_the_file_is_checked_again_at_confirm_and_refused_whole_when_it_went_stale(
    admin_client, main, shop, kettle, teapot
):
    url = preview_url(upload(admin_client, GOOD))
    Source.objects.filter(code="shop").update(is_active=False)

    response = admin_client.post(url)

    assert response.status_code == 200
    assert response.context["row_errors"] == ["line 3: source 'shop' is inactive"]
    assert "no longer passes the checks" in response.content.decode()
    assert not StockMovement.objects.exists()


def test_the_client_cannot_change_what_is_applied(admin_client, main, shop, kettle, teapot):
    url = preview_url(upload(admin_client, GOOD))

    # Extra fields are ignored: the content comes from the server-side session only.
    admin_client.post(url, {"text": "main,KETTLE-1,99999,EVIL", "file": "x"})
    unknown = admin_client.post(reverse("admin:inventory_stock_upload_preview", args=["made-up-token"]))

    assert sum(on_hand().values()) == 17
    assert not StockMovement.objects.filter(reference="EVIL").exists()
    assert unknown.status_code == 302 and unknown.url == UPLOAD_URL


def test_a_header_is_optional_and_a_byte_order_mark_is_ignored(admin_client, main, kettle):
    url = preview_url(upload(admin_client, "\ufeffmain,KETTLE-1,5,PO-1\r\n".encode()))

    admin_client.post(url)

    assert on_hand() == {("main", "KETTLE-1"): 5}


# -- large files ---------------------------------------------------------------------------


def test_preview_queries_do_not_grow_with_the_lines(admin_client, main, shop):
    bulk_products()

    def measure(n: int, prefix: str) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as posted:
            url = preview_url(upload(admin_client, csv_lines(n, prefix=prefix)))
        with CaptureQueriesContext(connection) as shown:
            assert admin_client.get(url).status_code == 200
        return len(posted), len(shown)

    measure(10, "WARM")
    assert measure(10, "A") == measure(1000, "B")


def test_a_10000_line_file_previews_fast_in_few_queries_and_applies(
    admin_client, main, shop, django_assert_max_num_queries
):
    bulk_products()
    text = csv_lines(10_000)

    started = time.perf_counter()
    with django_assert_max_num_queries(12):
        url = preview_url(upload(admin_client, text))
    with django_assert_max_num_queries(12):
        preview = admin_client.get(url)
    elapsed = time.perf_counter() - started

    assert elapsed < 10, f"upload and preview of 10,000 lines took {elapsed:.1f}s"
    p = preview.context["preview"]
    assert (len(p.lines), p.products, p.sources) == (10_000, 50, 2)
    assert len(preview.context["line_page"]) == 200  # first 200 lines, then pages
    assert len(preview.context["pair_page"]) == 50
    assert preview.context["line_page"].paginator.num_pages == 50
    page_3 = admin_client.get(url, {"page": 3})
    assert [n for n, _, _ in page_3.context["line_page"]][:2] == [401, 402]

    admin_client.post(url)

    assert StockMovement.objects.count() == 10_000
    assert sum(on_hand().values()) == p.units


# -- permissions -----------------------------------------------------------------------------


def test_uploading_needs_the_ledger_add_permission(client, main, kettle):
    staff = staff_client(client, "inventory.view_stock", "inventory.view_stockmovement")

    assert staff.get(UPLOAD_URL).status_code == 403
    assert upload(staff, GOOD).status_code == 403
    token_url = reverse("admin:inventory_stock_upload_preview", args=["any"])
    assert staff.get(token_url).status_code == 403
    assert staff.post(token_url).status_code == 403
    assert f'href="{UPLOAD_URL}"' not in staff.get(STOCK_URL).content.decode()
    assert not StockMovement.objects.exists()


def test_a_clerk_with_the_ledger_add_permission_uploads_and_applies(client, main, shop, kettle, teapot):
    staff = staff_client(client, "inventory.add_stockmovement")

    url = preview_url(upload(staff, GOOD))
    assert staff.get(url).status_code == 200
    applied = staff.post(url)

    # Without view permission on stock the clerk goes back to the upload page, not to a 403.
    assert applied.url == UPLOAD_URL
    assert StockMovement.objects.filter(user__username="clerk").count() == 3


def test_an_upload_belongs_to_the_session_that_made_it(client, admin_client, main, shop, kettle, teapot):
    url = preview_url(upload(admin_client, GOOD))
    other = staff_client(client, "inventory.add_stockmovement")

    response = other.post(url)

    assert response.status_code == 302 and response.url == UPLOAD_URL
    assert not StockMovement.objects.exists()


def test_anonymous_users_are_sent_to_the_login_page(client):
    response = client.get(UPLOAD_URL)

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_a_reference_longer_than_the_ledger_holds_is_a_row_error(admin_client, main, kettle):
    text = f"main,KETTLE-1,5,PO-1\nmain,KETTLE-1,5,{'R' * 101}\n"

    response = upload(admin_client, text)

    assert response.status_code == 200
    assert response.context["row_errors"] == ["line 2: reference longer than 100 characters"]
    assert not StockMovement.objects.exists()
