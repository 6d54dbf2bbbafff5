"""Parse, preview and apply an inbound supply CSV (source, sku, quantity, expected_date, reference).

The rules mirror restock_import: the whole file is validated first and every bad row
is listed with its line number; a file with any bad row applies nothing. A line whose
(source, product, reference) is already inbound is skipped, so the same file imported
twice adds nothing the second time.
"""

import datetime as dt
import re
from dataclasses import dataclass

from django.db import transaction

from catalog.models import Product

from .csv_rows import csv_rows
from .exceptions import RestockFileInvalid
from .models import InboundSupply, Source
from .services import inbound_create

COLUMNS = ("source", "sku", "quantity", "expected_date", "reference")
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


def _parse_date(raw: str) -> dt.date | None:
    if not _ISO_DATE.match(raw):
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return None


def _expected_date(raw: str) -> tuple[dt.date | None, str | None]:
    if not raw:
        return None, "missing expected date"
    found = _parse_date(raw)
    return found, None if found else f"expected date {raw!r} is not a date (YYYY-MM-DD)"


def inbound_parse(text: str) -> list[InboundLine]:
    """Every line of the file, validated; raises InboundFileInvalid listing every bad row."""
    rows = csv_rows(
        text,
        columns=COLUMNS,
        reference_max=REFERENCE_MAX,
        invalid=InboundFileInvalid,
        checks={"expected_date": _expected_date},
    )
    return [
        InboundLine(r.line, r.source, r.product, r.quantity, r.values["expected_date"], r.cells["reference"])
        for r in rows
    ]


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
