import sys

from django.core.management.base import BaseCommand, CommandError

from inventory.exceptions import InventoryError, RestockFileInvalid
from inventory.restock_import import restock_parse
from inventory.services import receipts_apply


class Command(BaseCommand):
    help = (
        "Receive stock from a CSV (source, sku, quantity, reference); '-' reads stdin. All or nothing. "
        "A reference PO-00042/1 (or PO-00042/1/<delivery>) receives against that purchase order line."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file path, or - for standard input")

    def handle(self, *args, file: str, **options):
        try:
            if file == "-":
                text = sys.stdin.read()
            else:
                with open(file, encoding="utf-8-sig", newline="") as handle:
                    text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from exc
        try:
            lines = restock_parse(text)
        except RestockFileInvalid as exc:
            for error in exc.errors:
                self.stderr.write(error)
            raise CommandError(f"{len(exc.errors)} bad row(s) in {file}; nothing was applied.") from exc
        try:
            results = receipts_apply(lines=lines)
        except InventoryError as exc:  # changed since it was checked (a PO line received meanwhile)
            raise CommandError(f"{exc} Nothing was applied.") from exc
        for result in results:
            self.stdout.write(result.message)
        added = sum(1 for r in results if r.created)
        self.stdout.write(
            self.style.SUCCESS(f"{added} line(s) received, {len(results) - added} already received.")
        )
