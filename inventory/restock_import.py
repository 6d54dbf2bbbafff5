"""Parse and validate a restock CSV (source code, SKU, quantity, reference) as a whole."""

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import Product

from .exceptions import RestockFileInvalid
from .models import RestockImport, Source, StockMovement
from .services import ReceiptLine, stock_receive_many

COLUMNS = ("source", "sku", "quantity", "reference")
REFERENCE_MAX = StockMovement._meta.get_field("reference").max_length
_WHOLE = re.compile(r"^\d+$")


def restock_parse(text: str) -> list[ReceiptLine]:
    """Every line of the file, validated; raises RestockFileInvalid listing every bad row."""
    # A byte-order mark (spreadsheet exports, piped to stdin) is not part of the first cell.
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    numbered = [(n, row) for n, row in enumerate(rows, start=1) if any(c.strip() for c in row)]
    if numbered and [c.strip().lower() for c in numbered[0][1]][:1] in (
        ["source"],
        ["source_code"],
    ):
        numbered = numbered[1:]
    if not numbered:
        raise RestockFileInvalid(["The file has no rows (expected: source, sku, quantity, reference)."])

    codes = {row[0].strip() for _, row in numbered if row}
    skus = {row[1].strip() for _, row in numbered if len(row) > 1}
    sources = {s.code: s for s in Source.objects.filter(code__in=codes)}
    products = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
    maximum = settings.RESTOCK_MAX_QUANTITY

    lines, errors, first_seen = [], [], {}
    for n, row in numbered:
        if len(row) != len(COLUMNS):
            errors.append(
                f"line {n}: expected {len(COLUMNS)} columns ({', '.join(COLUMNS)}), found {len(row)}"
            )
            continue
        code, sku, raw_qty, reference = (c.strip() for c in row)
        problems = []
        source = sources.get(code)
        if source is None:
            problems.append(f"unknown source {code!r}" if code else "missing source")
        elif not source.is_active:
            problems.append(f"source {code!r} is inactive")
        product = products.get(sku)
        if product is None:
            problems.append(f"unknown SKU {sku!r}" if sku else "missing SKU")
        # More digits than the maximum has is too large; int() of thousands of digits raises.
        too_long = len(raw_qty.lstrip("0")) > len(str(maximum))
        if not _WHOLE.match(raw_qty) or (not too_long and int(raw_qty) < 1):
            problems.append(f"quantity {raw_qty!r} is not a positive whole number")
        elif too_long or int(raw_qty) > maximum:
            problems.append(f"quantity {raw_qty} is larger than the {maximum} allowed")
        if not reference:
            problems.append("missing reference")
        elif len(reference) > REFERENCE_MAX:
            problems.append(f"reference longer than {REFERENCE_MAX} characters")
        key = (code, sku, reference)
        if key in first_seen:
            problems.append(f"duplicate of line {first_seen[key]} (same source, SKU and reference)")
        else:
            first_seen[key] = n
        if problems:
            errors.append(f"line {n}: " + "; ".join(problems))
        else:
            lines.append(ReceiptLine(source, product, int(raw_qty), reference))
    if errors:
        raise RestockFileInvalid(errors)
    return lines


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
                results = stock_receive_many(lines=lines)
        except IntegrityError:  # another worker applied the same content just now
            continue
        _move(path, directory / "done")
        added = sum(1 for r in results if r.created)
        outcomes.append(FolderImport(path.name, "applied", f"{added} of {len(results)} line(s) received"))
    return outcomes
