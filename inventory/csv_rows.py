"""The row rules every stock CSV shares (restocks, inbound supply): one place for them.

The whole file is read and every row checked before anything is applied; each bad
row is reported with its line number and every reason, in column order.
"""

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

from catalog.models import Product

from .exceptions import RestockFileInvalid
from .models import Source

_WHOLE = re.compile(r"^\d+$")


@dataclass
class CsvRow:
    line: int
    cells: dict[str, str]
    source: Source | None = None
    product: Product | None = None
    quantity: int | None = None
    values: dict[str, object] = field(default_factory=dict)  # what extra checks parsed
    problems: list[str] = field(default_factory=list)

    @property
    def error(self) -> str:
        return f"line {self.line}: " + "; ".join(self.problems)


def quantity_problem(raw: str) -> str | None:
    maximum = settings.RESTOCK_MAX_QUANTITY
    # More digits than the maximum has is too large; int() of thousands of digits raises.
    too_long = len(raw.lstrip("0")) > len(str(maximum))
    if not _WHOLE.match(raw) or (not too_long and int(raw) < 1):
        return f"quantity {raw!r} is not a positive whole number"
    if too_long or int(raw) > maximum:
        return f"quantity {raw} is larger than the {maximum} allowed"
    return None


# An extra column's check: its cell in, (parsed value, problem or None) out.
Check = Callable[[str], tuple[object, str | None]]


def csv_rows(
    text: str,
    *,
    columns: tuple[str, ...],
    reference_max: int,
    invalid: type[RestockFileInvalid] = RestockFileInvalid,
    checks: dict[str, Check] | None = None,
    rows_check: Callable[[list[CsvRow]], None] | None = None,
) -> list[CsvRow]:
    """Every non-empty row, checked; raises ``invalid`` listing every bad row.

    Columns source, sku, quantity and reference are checked here (lookups in two
    queries for the whole file); any other column by its function in ``checks``;
    ``rows_check`` then sees the rows whose cells all passed, together (rules across
    rows, lookups for the whole file), and adds its problems to them.
    """
    checks = checks or {}
    # A byte-order mark (spreadsheet exports, piped to stdin) is not part of the first cell.
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    numbered = [(n, row) for n, row in enumerate(rows, start=1) if any(c.strip() for c in row)]
    if numbered and [c.strip().lower() for c in numbered[0][1]][:1] in (["source"], ["source_code"]):
        numbered = numbered[1:]
    if not numbered:
        raise invalid([f"The file has no rows (expected: {', '.join(columns)})."])

    codes = {row[0].strip() for _, row in numbered if row}
    skus = {row[1].strip() for _, row in numbered if len(row) > 1}
    sources = {s.code: s for s in Source.objects.filter(code__in=codes)}
    products = {p.sku: p for p in Product.objects.filter(sku__in=skus)}

    parsed, first_seen = [], {}
    for n, row in numbered:
        if len(row) != len(columns):
            found = CsvRow(n, {})
            found.problems.append(f"expected {len(columns)} columns ({', '.join(columns)}), found {len(row)}")
            parsed.append(found)
            continue
        found = CsvRow(n, dict(zip(columns, (c.strip() for c in row), strict=True)))
        for column, cell in found.cells.items():
            problem = None
            if column == "source":
                found.source = sources.get(cell)
                if found.source is None:
                    problem = f"unknown source {cell!r}" if cell else "missing source"
                elif not found.source.is_active:
                    problem = f"source {cell!r} is inactive"
            elif column == "sku":
                found.product = products.get(cell)
                if found.product is None:
                    problem = f"unknown SKU {cell!r}" if cell else "missing SKU"
            elif column == "quantity":
                problem = quantity_problem(cell)
                if problem is None:
                    found.quantity = int(cell)
            elif column == "reference":
                if not cell:
                    problem = "missing reference"
                elif len(cell) > reference_max:
                    problem = f"reference longer than {reference_max} characters"
            else:
                found.values[column], problem = checks[column](cell)
            if problem:
                found.problems.append(problem)
        key = (found.cells["source"], found.cells["sku"], found.cells["reference"])
        if key in first_seen:
            found.problems.append(f"duplicate of line {first_seen[key]} (same source, SKU and reference)")
        else:
            first_seen[key] = n
        parsed.append(found)
    if rows_check:
        rows_check([row for row in parsed if not row.problems])
    errors = [row.error for row in parsed if row.problems]
    if errors:
        raise invalid(errors)
    return parsed
