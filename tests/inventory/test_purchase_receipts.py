"""Receiving purchase order lines from the restock CSV, `manage.py restock`, the folder import
and the admin upload (reference PO-xxxxx/<line>[/<delivery>]), and two receipts of one line at once."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from inventory.exceptions import RestockFileInvalid
from inventory.models import InboundSupply, PurchaseOrderLine, PurchaseOrderStatus, Stock, StockMovement
from inventory.restock_import import restock_import_folder, restock_parse
from inventory.selectors import stock_drift
from inventory.services import (
    DraftLine,
    purchase_order_create_draft,
    purchase_order_line_receive,
    purchase_order_send,
    receipts_apply,
)
from tests.catalog.factories import ProductFactory
from tests.inventory.factories import SourceFactory, SupplierFactory, SupplierProductFactory
from tests.threads import run_together

pytestmark = pytest.mark.django_db


def sent_order(*products_and_quantities, source):
    supplier = SupplierFactory(name="Acme Metalworks")
    for product, _ in products_and_quantities:
        SupplierProductFactory(supplier=supplier, product=product, cost_price=Decimal("5.00"))
    order = purchase_order_create_draft(
        supplier=supplier,
        lines=[DraftLine(product=p, quantity=q, source=source) for p, q in products_and_quantities],
    )
    return purchase_order_send(purchase_order=order)


@pytest.fixture
def po(kettle, teapot, main):
    return sent_order((kettle, 10), (teapot, 4), source=main)


def on_hand(product, source) -> int:
    found = Stock.objects.filter(product=product, source=source).first()
    return found.on_hand if found else 0


def restock(tmp_path, text: str) -> str:
    path = tmp_path / "restock.csv"
    path.write_text(text)
    out = StringIO()
    call_command("restock", str(path), stdout=out, stderr=StringIO())
    return out.getvalue()


def test_the_restock_command_receives_against_a_po_line_once(po, kettle, teapot, main, monkeypatch):
    text = f"source,sku,quantity,reference\nmain,KETTLE-1,6,{po.number}/1\nmain,TEAPOT-1,2,PLAIN-7\n"
    monkeypatch.setattr("sys.stdin", StringIO(text))
    out = StringIO()
    call_command("restock", "-", stdout=out)
    assert f"{po.number}/1" in out.getvalue()
    line = po.lines.get(line_no=1)
    assert (line.received_quantity, on_hand(kettle, main), on_hand(teapot, main)) == (6, 6, 2)
    assert InboundSupply.objects.get(pk=line.inbound_id).quantity == 4
    po.refresh_from_db()
    assert po.status == PurchaseOrderStatus.PARTLY_RECEIVED
    assert po.lines.get(line_no=2).received_quantity == 0  # a plain reference is a plain receipt

    monkeypatch.setattr("sys.stdin", StringIO(text))
    out = StringIO()
    call_command("restock", "-", stdout=out)  # the same file again adds nothing
    assert "0 line(s) received, 2 already received" in out.getvalue()
    line.refresh_from_db()
    assert (line.received_quantity, on_hand(kettle, main)) == (6, 6)


def test_a_further_delivery_of_a_line_is_named_after_it(po, kettle, main, overflow):
    lines = restock_parse(f"main,KETTLE-1,6,{po.number}/1/DN-1\noverflow,KETTLE-1,4,{po.number}/1/DN-2\n")
    results = receipts_apply(lines=lines)
    assert [r.created for r in results] == [True, True]
    assert (on_hand(kettle, main), on_hand(kettle, overflow)) == (6, 4)
    po.refresh_from_db()
    assert po.lines.get(line_no=1).received_quantity == 10
    assert po.status == PurchaseOrderStatus.PARTLY_RECEIVED  # the teapots are still to come


def test_every_bad_po_row_is_listed_and_nothing_is_applied(po, kettle, teapot, main, acme_draft, tmp_path):
    purchase_order_line_receive(line=po.lines.get(line_no=2), quantity=3)  # 1 teapot outstanding
    text = (
        "source,sku,quantity,reference\n"
        f"main,KETTLE-1,4,{po.number}/1\n"  # good
        f"main,KETTLE-1,7,{po.number}/1/DN-2\n"  # 4 + 7 > 10 outstanding
        f"main,TEAPOT-1,2,{po.number}/2/DN-2\n"  # 2 > 1 outstanding
        f"main,KETTLE-1,1,{po.number}/9\n"  # no such line
        f"main,TEAPOT-1,1,{po.number}/1/DN-3\n"  # the line is for the kettle
        f"main,LAMP-1,1,{acme_draft.number}/1\n"  # not sent
    )
    with pytest.raises(RestockFileInvalid) as caught:
        restock_parse(text)
    assert caught.value.errors == [
        f"line 3: {po.number}/1 (KETTLE-1) has 10 outstanding; this file receives 11",
        f"line 4: {po.number}/2 (TEAPOT-1) has 1 outstanding; this file receives 2",
        f"line 5: no purchase order line {po.number}/9",
        f"line 6: {po.number}/1 is for KETTLE-1, not TEAPOT-1",
        f"line 7: purchase order {acme_draft.number} is draft; only a sent order is received",
    ]
    with pytest.raises(CommandError, match="5 bad row"):
        restock(tmp_path, text)
    assert on_hand(kettle, main) == 0 and po.lines.get(line_no=1).received_quantity == 0


@pytest.fixture
def acme_draft(main):
    product = ProductFactory(sku="LAMP-1")
    supplier = SupplierFactory(name="Lamps Ltd")
    SupplierProductFactory(supplier=supplier, product=product)
    return purchase_order_create_draft(
        supplier=supplier, lines=[DraftLine(product=product, quantity=1, source=main)]
    )


def test_a_line_received_already_is_skipped_not_refused(po, kettle, main):
    purchase_order_line_receive(line=po.lines.get(line_no=1), quantity=10)
    lines = restock_parse(f"main,KETTLE-1,10,{po.number}/1\n")  # a replay: not an over-receipt
    assert [r.created for r in receipts_apply(lines=lines)] == [False]
    assert on_hand(kettle, main) == 10


def test_the_folder_import_receives_po_lines(po, kettle, main, tmp_path):
    (tmp_path / "delivery.csv").write_text(f"source,sku,quantity,reference\nmain,KETTLE-1,10,{po.number}/1\n")
    (outcome,) = restock_import_folder(directory=tmp_path)
    assert (outcome.status, outcome.message) == ("applied", "1 of 1 line(s) received")
    assert po.lines.get(line_no=1).received_quantity == 10
    assert InboundSupply.objects.get(reference=f"{po.number}/1").status == "received"
    (tmp_path / "again.csv").write_text(f"main,KETTLE-1,10,{po.number}/1\n")  # another file, same receipt
    (outcome,) = restock_import_folder(directory=tmp_path)
    assert outcome.message == "0 of 1 line(s) received"
    assert on_hand(kettle, main) == 10


def test_the_admin_upload_receives_po_lines(po, kettle, main, admin_client):
    url = reverse("admin:inventory_stock_upload")
    data = f"source,sku,quantity,reference\nmain,KETTLE-1,3,{po.number}/1\n".encode()
    response = admin_client.post(url, {"file": SimpleUploadedFile("d.csv", data, content_type="text/csv")})
    assert response.status_code == 302
    admin_client.post(response.url)
    line = po.lines.get(line_no=1)
    assert line.received_quantity == 3 and on_hand(kettle, main) == 3
    assert StockMovement.objects.get().user.is_superuser  # who received it


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("delivery", ["", "DN-1"])
def test_two_receipts_of_one_line_at_once_add_once(delivery):
    main = SourceFactory(code="main")
    kettle = ProductFactory(sku="KETTLE-1")
    order = sent_order((kettle, 10), source=main)
    line = order.lines.get()
    results, errors = [], []

    def receive_it():
        try:
            results.append(purchase_order_line_receive(line=line, quantity=6, delivery=delivery))
        except Exception as exc:  # noqa: BLE001  (collected for the assertion)
            errors.append(exc)

    run_together(receive_it, 4)

    assert errors == []
    assert sorted(r.created for r in results) == [False, False, False, True]
    line = PurchaseOrderLine.objects.get(pk=line.pk)
    assert line.received_quantity == 6 and on_hand(kettle, main) == 6
    assert InboundSupply.objects.get(pk=line.inbound_id).quantity == 4
    assert StockMovement.objects.count() == 1 and stock_drift() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_deliveries_racing_for_the_last_units_of_a_line_never_over_receive():
    main = SourceFactory(code="main")
    kettle = ProductFactory(sku="KETTLE-1")
    line = sent_order((kettle, 10), source=main).lines.get()
    results, errors = [], []

    def deliver(name):
        try:
            results.append(purchase_order_line_receive(line=line, quantity=6, delivery=name))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    names = iter(["DN-A", "DN-B"])
    run_together(lambda: deliver(next(names)), 2)

    assert len(results) == 1 and len(errors) == 1
    assert "outstanding (4)" in str(errors[0])
    line.refresh_from_db()
    assert line.received_quantity == 6 and on_hand(kettle, main) == 6
