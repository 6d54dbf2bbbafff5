"""Parse, preview and apply an inbound supply CSV (source, sku, quantity, expected_date, reference).

The rules mirror restock_import: the whole file is validated first and every bad row
is listed with its line number; a file with any bad row applies nothing. A line whose
(source, product, reference) is already inbound is skipped, so the same file imported
twice adds nothing the second time.
"""

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from catalog.models import Product

from .exceptions import RestockFileInvalid
from .models import InboundSupply, Source
from .services import inbound_create

COLUMNS = ("source", "sku", "quantity", "expected_date", "reference")
_WHOLE = re.compile(r"^\d+$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
REFERENCE_MAX = InboundSupply._meta.get_field("reference").max_length

InboundKey = tuple[int, int, str]  # (source_id, product_id, reference)


class InboundFileInvalid(RestockFileInvalid):
    """An inbound supply file with bad rows; nothing of it was applied."""


@dataclass(frozen=True)
class InboundLine:
    line_no: int
    source: Source
    product: Product
    quantity: int
    expected_date: dt.date
    reference: str

    @property
    def key(self) -> InboundKey:
        return (self.source.pk, self.product.pk, self.reference)


def _quantity_problem(raw: str) -> str | None:
    maximum = settings.RESTOCK_MAX_QUANTITY
    # More digits than the maximum has is too large; int() of thousands of digits raises.
    too_long = len(raw.lstrip("0")) > len(str(maximum))
    if not _WHOLE.match(raw) or (not too_long and int(raw) < 1):
        return f"quantity {raw!r} is not a positive whole number"
    if too_long or int(raw) > maximum:
        return f"quantity {raw} is larger than the {maximum} allowed"
    return None


def _parse_date(raw: str) -> dt.date | None:
    if not _ISO_DATE.match(raw):
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return None


def inbound_parse(text: str) -> list[InboundLine]:
    """Every line of the file, validated; raises InboundFileInvalid listing every bad row."""
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    numbered = [(n, row) for n, row in enumerate(rows, start=1) if any(c.strip() for c in row)]
    if numbered and [c.strip().lower() for c in numbered[0][1]][:1] in (["source"], ["source_code"]):
        numbered = numbered[1:]
    if not numbered:
        raise InboundFileInvalid([f"The file has no rows (expected: {', '.join(COLUMNS)})."])

    codes = {row[0].strip() for _, row in numbered if row}
    skus = {row[1].strip() for _, row in numbered if len(row) > 1}
    sources = {s.code: s for s in Source.objects.filter(code__in=codes)}
    products = {p.sku: p for p in Product.objects.filter(sku__in=skus)}

    lines, errors, first_seen = [], [], {}
    for n, row in numbered:
        if len(row) != len(COLUMNS):
            errors.append(
                f"line {n}: expected {len(COLUMNS)} columns ({', '.join(COLUMNS)}), found {len(row)}"
            )
            continue
        code, sku, raw_qty, raw_date, reference = (c.strip() for c in row)
        problems = []
        source = sources.get(code)
        if source is None:
            problems.append(f"unknown source {code!r}" if code else "missing source")
        elif not source.is_active:
            problems.append(f"source {code!r} is inactive")
        product = products.get(sku)
        if product is None:
            problems.append(f"unknown SKU {sku!r}" if sku else "missing SKU")
        if problem := _quantity_problem(raw_qty):
            problems.append(problem)
        expected = _parse_date(raw_date)
        if expected is None and raw_date:
            problems.append(f"expected date {raw_date!r} is not a date (YYYY-MM-DD)")
        elif expected is None:
            problems.append("missing expected date")
        if not reference:
            problems.append("missing reference")
        elif len(reference) > REFERENCE_MAX:
            problems.append(f"reference is longer than {REFERENCE_MAX} characters")
        key = (code, sku, reference)
        if key in first_seen:
            problems.append(f"duplicate of line {first_seen[key]} (same source, SKU and reference)")
        else:
            first_seen[key] = n
        if problems:
            errors.append(f"line {n}: " + "; ".join(problems))
        else:
            lines.append(InboundLine(n, source, product, int(raw_qty), expected, reference))
    if errors:
        raise InboundFileInvalid(errors)
    return lines


def inbound_existing(*, lines: list[InboundLine]) -> dict[InboundKey, InboundSupply]:
    """Inbound supply already recorded under the lines' (source, product, reference), one query."""
    if not lines:
        return {}
    found = InboundSupply.objects.filter(
        product_id__in={line.product.pk for line in lines},
        reference__in={line.reference for line in lines},
    )
    wanted = {line.key for line in lines}
    return {key: s for s in found if (key := (s.source_id, s.product_id, s.reference)) in wanted}


@dataclass(frozen=True)
class InboundImportResult:
    created: list[InboundSupply]
    skipped: list[InboundLine]

    @property
    def units(self) -> int:
        return sum(supply.quantity for supply in self.created)


def inbound_import_apply(*, lines: list[InboundLine]) -> InboundImportResult:
    """Create every new line through inbound_create in one transaction: all or nothing.

    Lines already inbound under the same source, product and reference are skipped.
    A concurrent import of the same references raises IntegrityError and nothing of
    this file is kept.
    """
    created, skipped = [], []
    with transaction.atomic():
        existing = inbound_existing(lines=lines)
        for line in lines:
            if line.key in existing:
                skipped.append(line)
                continue
            created.append(
                inbound_create(
                    source=line.source,
                    product=line.product,
                    quantity=line.quantity,
                    expected_date=line.expected_date,
                    reference=line.reference,
                )
            )
    return InboundImportResult(created=created, skipped=skipped)
