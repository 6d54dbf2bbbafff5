"""Check the payment ledger against the orders' rows (DESIGN.md, Money); exit 1 on a breach."""

from django.core.management.base import BaseCommand, CommandError

from billing.selectors import ledger_reconcile


class Command(BaseCommand):
    help = (
        "Check the money invariants of every order: per shipment, captured = shipped rows' value + "
        "shipping; prepaid, captured − refunded = value of the rows not cancelled; no capture of a "
        "cancelled row; no refund above its capture. Names each order that breaks one; exits 1."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--strict",
            action="store_true",
            help="Also fail on entries not settled yet (pending, pay link due).",
        )

    def handle(self, *args, strict: bool = False, **options):
        found = ledger_reconcile()
        for finding in found.open:
            self.stdout.write(f"open  {finding}")
        for finding in found.violations:
            self.stdout.write(self.style.ERROR(f"BROKEN {finding}"))
        broken = sorted({f.order for f in found.violations})
        self.stdout.write(
            f"{len(broken)} order(s) break an invariant; {len(found.open)} entr(y/ies) not settled yet."
        )
        if broken:
            raise CommandError(f"Money invariants broken in: {', '.join(broken)}")
        if strict and found.open:
            raise CommandError("Entries not settled yet (--strict).")
