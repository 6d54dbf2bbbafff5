"""Parse and validate a restock CSV (source code, SKU, quantity, reference) as a whole.

A reference naming a purchase order line (``PO-00042/1``, or ``PO-00042/1/<delivery>``
for a further delivery of it) receives against that line: checked here for the whole
file (the line exists, is for that SKU, its order is sent, the file receives no more
than is outstanding), then received through receipts_apply.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from django.db import IntegrityError, transaction
from django.utils import timezone

from .csv_rows import CsvRow, csv_rows
from .exceptions import RestockFileInvalid
from .models import PURCHASE_ORDER_RECEIVABLE, MovementKind, RestockImport, StockMovement
from .selectors import purchase_lines_by_number
from .services import ReceiptLine, receipts_apply
from .services.purchasing import po_reference_parse

COLUMNS = ("source", "sku", "quantity", "reference")
REFERENCE_MAX = StockMovement._meta.get_field("reference").max_length


def purchase_line_problems(rows: list[CsvRow]) -> None:
    """The rows naming a PO line, checked against it (two queries for the whole file)."""
    named = [(row, ref) for row in rows if (ref := po_reference_parse(row.cells["reference"]))]
    if not named:
        return
    lines = purchase_lines_by_number(ref[:2] for _, ref in named)
    received = set(
        StockMovement.objects.filter(
            kind=MovementKind.RECEIPT, reference__in={row.cells["reference"] for row, _ in named}
        ).values_list("product_id", "reference")
    )
    wanted: dict[int, int] = {}  # units this file receives per PO line
    for row, ref in named:
        line = lines.get(ref[:2])
        reference = row.cells["reference"]
        if line is None:
            row.problems.append(f"no purchase order line {ref[0]}/{ref[1]}")
        elif line.product_id != row.product.pk:
            row.problems.append(f"{ref[0]}/{ref[1]} is for {line.product.sku}, not {row.product.sku}")
        elif (line.product_id, reference) in received:
            continue  # received before: skipped when applied, as any reference received twice
        elif line.purchase_order.status not in PURCHASE_ORDER_RECEIVABLE:
            status = line.purchase_order.get_status_display().lower()
            row.problems.append(f"purchase order {ref[0]} is {status}; only a sent order is received")
        else:
            wanted[line.pk] = wanted.get(line.pk, 0) + row.quantity
            if wanted[line.pk] > line.outstanding:
                row.problems.append(
                    f"{ref[0]}/{ref[1]} ({line.product.sku}) has {line.outstanding} outstanding; "
                    f"this file receives {wanted[line.pk]}"
                )


def restock_parse(text: str) -> list[ReceiptLine]:
    """Every line of the file, validated; raises RestockFileInvalid listing every bad row."""
    rows = csv_rows(text, columns=COLUMNS, reference_max=REFERENCE_MAX, rows_check=purchase_line_problems)
    return [ReceiptLine(r.source, r.product, r.quantity, r.cells["reference"]) for r in rows]


@dataclass(frozen=True)
class FolderImport:
    filename: str
    status: str  # applied, failed, duplicate
    message: str


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():  # keep earlier files of the same name
        target = folder / f"{path.stem}-{timezone.now():%Y%m%d%H%M%S%f}{path.suffix}"
    return path.replace(target)


def restock_import_folder(*, directory: Path) -> list[FolderImport]:
    """Apply every CSV dropped in ``directory``, all or nothing per file.

    Good files move to done/, bad ones to failed/ beside an .errors.txt report.
    A file's content is applied at most once (RestockImport's unique hash), so a
    crash between applying and moving, or two workers at once, never adds twice.
    """
    outcomes = []
    for path in sorted(directory.glob("*.csv")):
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # another worker took it
            continue
        digest = hashlib.sha256(data).hexdigest()
        if RestockImport.objects.filter(sha256=digest, status=RestockImport.Status.APPLIED).exists():
            _move(path, directory / "done")
            outcomes.append(FolderImport(path.name, "duplicate", "already applied; not applied again"))
            continue
        try:
            lines = restock_parse(data.decode("utf-8-sig"))
        except (RestockFileInvalid, UnicodeDecodeError) as exc:
            errors = exc.errors if isinstance(exc, RestockFileInvalid) else [f"not UTF-8 text: {exc}"]
            report = "\n".join(errors)
            RestockImport.objects.create(
                filename=path.name, sha256=digest, status=RestockImport.Status.FAILED, report=report
            )
            moved = _move(path, directory / "failed")
            moved.with_name(moved.name + ".errors.txt").write_text(
                f"{path.name}: {len(errors)} bad row(s); nothing was applied.\n{report}\n", encoding="utf-8"
            )
            outcomes.append(FolderImport(path.name, "failed", report))
            continue
        try:
            with transaction.atomic():
                RestockImport.objects.create(
                    filename=path.name, sha256=digest, status=RestockImport.Status.APPLIED, lines=len(lines)
                )
                results = receipts_apply(lines=lines)
        except IntegrityError:  # another worker applied the same content just now
            continue
        _move(path, directory / "done")
        added = sum(1 for r in results if r.created)
        outcomes.append(FolderImport(path.name, "applied", f"{added} of {len(results)} line(s) received"))
    return outcomes
