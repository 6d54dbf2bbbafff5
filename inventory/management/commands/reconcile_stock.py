from django.core.management.base import BaseCommand, CommandError

from inventory.selectors import stock_drift
from inventory.services import stock_reconcile_fix


class Command(BaseCommand):
    help = "Compare the stock ledger with the on-hand counters; --fix sets counters from the ledger."

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="Repair drift from the ledger.")

    def handle(self, *args, fix: bool, **options):
        drifts = stock_drift()
        if not drifts:
            self.stdout.write(self.style.SUCCESS("Ledger and counters agree."))
            return
        for drift in drifts:
            self.stdout.write(f"DRIFT {drift}")
        if not fix:
            raise CommandError(f"{len(drifts)} stock row(s) drift from the ledger; run with --fix.")
        result = stock_reconcile_fix(drifts=drifts)
        for drift in result.fixed:
            self.stdout.write(f"FIXED {drift.sku} at {drift.source_code}: on hand set to {drift.ledger}")
        if result.refused:
            for message in result.refused:
                self.stderr.write(f"NOT FIXED {message}")
            raise CommandError(f"{len(result.refused)} stock row(s) could not be fixed.")
        self.stdout.write(self.style.SUCCESS(f"Fixed {len(result.fixed)} stock row(s)."))
