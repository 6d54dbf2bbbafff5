"""Parse and validate a restock CSV (source code, SKU, quantity, reference) as a whole."""

import csv
import io
import re

from django.conf import settings

from catalog.models import Product

from .exceptions import RestockFileInvalid
from .models import Source
from .services import ReceiptLine

COLUMNS = ("source", "sku", "quantity", "reference")
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
