"""manage.py restock FILE / -: the whole file is checked first; a bad file applies nothing."""

import io
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from inventory.models import Stock, StockMovement
from tests.catalog.factories import ProductFactory
from tests.helpers import receive
from tests.inventory.factories import SourceFactory

pytestmark = pytest.mark.django_db

GOOD = "source,sku,quantity,reference\nmain,KETTLE-1,5,PO-1\nshop,LAMP-1,3,PO-1\nmain,LAMP-1,2,PO-2\n"


@pytest.fixture(autouse=True)
def catalog():
    main, shop = SourceFactory(code="main"), SourceFactory(code="shop")
    SourceFactory(code="closed", is_active=False)
    kettle, lamp = ProductFactory(sku="KETTLE-1"), ProductFactory(sku="LAMP-1")
    # Something already on the shelf, so "nothing applied" is checked against real numbers.
    receive(kettle, 7, main, reference="PO-0")
    return {"main": main, "shop": shop, "kettle": kettle, "lamp": lamp}


def write(tmp_path, text: str, name: str = "restock.csv", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def restock(target) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("restock", str(target), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def restock_rejected(target) -> tuple[CommandError, list[str]]:
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("restock", str(target), stdout=out, stderr=err)
    assert out.getvalue() == ""
    return caught.value, err.getvalue().splitlines()


def shelf() -> dict[tuple[str, str], int]:
    return {
        (s.source.code, s.product.sku): s.on_hand for s in Stock.objects.select_related("source", "product")
    }


def snapshot():
    return shelf(), Stock.objects.count(), list(StockMovement.objects.values_list("pk", flat=True))


# -- Good files ----------------------------------------------------------------------


def test_good_file_applies_every_line(tmp_path):
    out, err = restock(write(tmp_path, GOOD))

    assert out.splitlines() == [
        "Received 5 × KETTLE-1 at main (reference PO-1).",
        "Received 3 × LAMP-1 at shop (reference PO-1).",
        "Received 2 × LAMP-1 at main (reference PO-2).",
        "3 line(s) received, 0 already received.",
    ]
    assert err == ""
    assert shelf() == {("main", "KETTLE-1"): 12, ("shop", "LAMP-1"): 3, ("main", "LAMP-1"): 2}
    assert StockMovement.objects.filter(kind="receipt").count() == 4


def test_header_is_optional(tmp_path):
    restock(write(tmp_path, "main,KETTLE-1,5,PO-1\nshop,LAMP-1,3,PO-1\n"))

    assert shelf() == {("main", "KETTLE-1"): 12, ("shop", "LAMP-1"): 3}


def test_spreadsheet_export_with_bom_crlf_and_padding(tmp_path):
    text = "source_code,SKU,Quantity,Reference\r\n main , KETTLE-1 , 5 , PO-1 \r\n\r\nshop,LAMP-1,3,PO-1\r\n"

    restock(write(tmp_path, text, encoding="utf-8-sig"))

    assert shelf() == {("main", "KETTLE-1"): 12, ("shop", "LAMP-1"): 3}
    assert StockMovement.objects.filter(reference="PO-1").count() == 2


def test_reads_standard_input(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(GOOD))

    out, _ = restock("-")

    assert out.splitlines()[-1] == "3 line(s) received, 0 already received."
    assert shelf()[("main", "KETTLE-1")] == 12


def test_reads_standard_input_with_a_bom(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("\ufeff" + GOOD))

    out, _ = restock("-")

    assert out.splitlines()[-1] == "3 line(s) received, 0 already received."


def test_rerunning_the_same_file_adds_nothing(tmp_path):
    path = write(tmp_path, GOOD)
    restock(path)
    before = snapshot()

    out, _ = restock(path)

    assert out.splitlines() == [
        "Reference PO-1 was already received for KETTLE-1 at main; nothing added.",
        "Reference PO-1 was already received for LAMP-1 at shop; nothing added.",
        "Reference PO-2 was already received for LAMP-1 at main; nothing added.",
        "0 line(s) received, 3 already received.",
    ]
    assert snapshot() == before


def test_a_file_mixing_new_and_received_lines_adds_only_the_new(tmp_path):
    restock(write(tmp_path, "main,KETTLE-1,5,PO-1\n"))

    out, _ = restock(write(tmp_path, "main,KETTLE-1,5,PO-1\nmain,KETTLE-1,4,PO-3\n", name="next.csv"))

    assert out.splitlines()[-1] == "1 line(s) received, 1 already received."
    assert shelf()[("main", "KETTLE-1")] == 7 + 5 + 4


def test_largest_allowed_quantity_is_accepted(tmp_path, settings):
    settings.RESTOCK_MAX_QUANTITY = 500

    restock(write(tmp_path, "main,LAMP-1,500,PO-1\n"))

    assert shelf()[("main", "LAMP-1")] == 500


# -- Bad files: every row kind, with its line number; nothing applied ----------------------

BAD_ROWS = [
    pytest.param("main,NOPE-9,5,PO-1", "line 3: unknown SKU 'NOPE-9'", id="unknown-sku"),
    pytest.param("attic,KETTLE-1,5,PO-1", "line 3: unknown source 'attic'", id="unknown-source"),
    pytest.param("closed,KETTLE-1,5,PO-1", "line 3: source 'closed' is inactive", id="inactive-source"),
    pytest.param(",KETTLE-1,5,PO-1", "line 3: missing source", id="missing-source"),
    pytest.param("main,,5,PO-1", "line 3: missing SKU", id="missing-sku"),
    pytest.param(
        "main,KETTLE-1,0,PO-1", "line 3: quantity '0' is not a positive whole number", id="quantity-zero"
    ),
    pytest.param(
        "main,KETTLE-1,-4,PO-1",
        "line 3: quantity '-4' is not a positive whole number",
        id="quantity-negative",
    ),
    pytest.param(
        "main,KETTLE-1,2.5,PO-1",
        "line 3: quantity '2.5' is not a positive whole number",
        id="quantity-decimal",
    ),
    pytest.param(
        "main,KETTLE-1,five,PO-1",
        "line 3: quantity 'five' is not a positive whole number",
        id="quantity-word",
    ),
    pytest.param(
        "main,KETTLE-1,,PO-1", "line 3: quantity '' is not a positive whole number", id="quantity-empty"
    ),
    pytest.param(
        "main,KETTLE-1,100001,PO-1",
        "line 3: quantity 100001 is larger than the 100000 allowed",
        id="quantity-absurd",
    ),
    pytest.param(
        "main,KETTLE-1," + "9" * 5000 + ",PO-1",
        "line 3: quantity " + "9" * 5000 + " is larger than the 100000 allowed",
        id="quantity-thousands-of-digits",
    ),
    pytest.param("main,KETTLE-1,5,", "line 3: missing reference", id="missing-reference"),
    pytest.param("main,KETTLE-1,5,  ", "line 3: missing reference", id="blank-reference"),
    pytest.param(
        "main,KETTLE-1,5," + "R" * 101, "line 3: reference longer than 100 characters", id="long-reference"
    ),
    pytest.param(
        "main,LAMP-1,9,PO-9",
        "line 3: duplicate of line 2 (same source, SKU and reference)",
        id="duplicate-row",
    ),
    pytest.param(
        "main,KETTLE-1,5",
        "line 3: expected 4 columns (source, sku, quantity, reference), found 3",
        id="too-few-columns",
    ),
    pytest.param(
        "main,KETTLE-1,5,PO-1,extra",
        "line 3: expected 4 columns (source, sku, quantity, reference), found 5",
        id="too-many-columns",
    ),
]


@pytest.mark.parametrize(("row", "error"), BAD_ROWS)
def test_one_bad_row_rejects_the_whole_file(tmp_path, settings, row, error):
    settings.RESTOCK_MAX_QUANTITY = 100_000
    path = write(
        tmp_path, f"source,sku,quantity,reference\nmain,LAMP-1,9,PO-9\n{row}\nshop,KETTLE-1,1,PO-9\n"
    )
    before = snapshot()

    caught, errors = restock_rejected(path)

    assert errors == [error]
    assert str(caught) == f"1 bad row(s) in {path}; nothing was applied."
    assert snapshot() == before  # not even the good first line


def test_every_bad_row_is_listed_with_its_line_number(tmp_path, settings):
    settings.RESTOCK_MAX_QUANTITY = 1000
    text = "\n".join(
        [
            "source,sku,quantity,reference",  # 1
            "main,KETTLE-1,5,PO-1",  # 2 good
            "main,NOPE-9,5,PO-1",  # 3
            "attic,KETTLE-1,5,PO-1",  # 4
            "main,KETTLE-1,0,PO-2",  # 5
            "",  # 6 blank lines are skipped but still counted
            "main,KETTLE-1,-1,PO-3",  # 7
            "main,KETTLE-1,1.5,PO-4",  # 8
            "main,KETTLE-1,1001,PO-5",  # 9
            "main,KETTLE-1,5,",  # 10
            "main,KETTLE-1,8,PO-1",  # 11 duplicate of 2
            "main,KETTLE-1",  # 12
            "attic,NOPE-9,x,",  # 13 everything wrong at once
            "shop,LAMP-1,3,PO-1",  # 14 good
        ]
    )
    path = write(tmp_path, text + "\n")
    before = snapshot()

    caught, errors = restock_rejected(path)

    assert errors == [
        "line 3: unknown SKU 'NOPE-9'",
        "line 4: unknown source 'attic'",
        "line 5: quantity '0' is not a positive whole number",
        "line 7: quantity '-1' is not a positive whole number",
        "line 8: quantity '1.5' is not a positive whole number",
        "line 9: quantity 1001 is larger than the 1000 allowed",
        "line 10: missing reference",
        "line 11: duplicate of line 2 (same source, SKU and reference)",
        "line 12: expected 4 columns (source, sku, quantity, reference), found 2",
        "line 13: unknown source 'attic'; unknown SKU 'NOPE-9'; "
        "quantity 'x' is not a positive whole number; missing reference",
    ]
    assert str(caught) == f"10 bad row(s) in {path}; nothing was applied."
    assert snapshot() == before


def test_bad_rows_from_standard_input_apply_nothing(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("main,KETTLE-1,5,PO-1\nmain,NOPE-9,5,PO-1\n"))
    before = snapshot()

    caught, errors = restock_rejected("-")

    assert errors == ["line 2: unknown SKU 'NOPE-9'"]
    assert str(caught) == "1 bad row(s) in -; nothing was applied."
    assert snapshot() == before


@pytest.mark.parametrize("text", ["", "\n\n", "source,sku,quantity,reference\n"])
def test_a_file_without_rows_is_rejected(tmp_path, text):
    caught, errors = restock_rejected(write(tmp_path, text))

    assert errors == ["The file has no rows (expected: source, sku, quantity, reference)."]
    assert "nothing was applied" in str(caught)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(CommandError, match=r"^Cannot read .*missing\.csv"):
        restock(tmp_path / "missing.csv")


def test_file_that_is_not_text_is_reported(tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\xff\xd8\xff\xe0 not a csv")

    with pytest.raises(CommandError, match=r"^Cannot read .*photo\.csv"):
        restock(path)
