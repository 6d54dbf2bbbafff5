"""manage.py simulate_shop --days 90 --seed N: a shop on a fake clock, through the real services."""

from django.core.management.base import BaseCommand, CommandError

from billing.models import Settlement
from catalog.models import GlobalSettings, Sourcing


class Command(BaseCommand):
    help = (
        "Simulate the shop day by day on a fake clock (random checkouts, late and cancelled supply, "
        "cancellations, shipping, payments, the scheduled jobs) and check the books: first promises "
        "kept per cause (free stock, on-time supply, late or cancelled supply, lead time) and why "
        "each miss happened; captured, refunded and money invariant violations. Rolled back unless "
        "--keep."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=90, help="Days to simulate (default 90).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed: the same seed, the same run.")
        parser.add_argument(
            "--keep", action="store_true", help="Commit what the simulation wrote instead of rolling back."
        )
        parser.add_argument(
            "--settlement",
            choices=[*Settlement.values, "both"],
            default="per_shipment",
            help="Charge per shipment (default), at checkout, or run both one after the other.",
        )
        parser.add_argument(
            "--sourcing",
            choices=[*Sourcing.values, "both"],
            help="The shop's sourcing strategy for the run (default: the shop's own): priority, "
            "fewest_shipments, or both: one run each on the same seed, then their shipments per "
            "order side by side.",
        )
        parser.add_argument(
            "--supply",
            choices=["suggestions", "scripted"],
            default="suggestions",
            help="Buy through purchase orders drafted from the replenishment suggestions (default), "
            "or by the scripted reorder points.",
        )
        parser.add_argument(
            "--no-baseline",
            dest="baseline",
            action="store_false",
            help="Skip the comparison run: by default the other way of buying runs on the same seed "
            "(rolled back) and both runs' stock-out days and promise-kept share are printed.",
        )

    def handle(
        self,
        *args,
        days: int,
        seed: int,
        keep: bool,
        settlement: str,
        supply: str,
        baseline: bool,
        sourcing: str | None,
        **options,
    ):
        # Here, not at the top: the harness imports time_machine and django.test (development
        # only); loading this command (`simulate_shop --help`) must not load them.
        from backoffice.simulation import (
            SCRIPTED,
            SUGGESTIONS,
            SimulationError,
            format_ratio,
            simulate_shop,
            supply_comparison,
        )

        modes = Settlement.values if settlement == "both" else [settlement]
        if sourcing is None:  # both would double every run (the comparison run already does)
            sourcing = GlobalSettings.get_solo().sourcing
        strategies = Sourcing.values if sourcing == "both" else [sourcing]
        if keep and len(modes) * len(strategies) > 1:
            raise CommandError("--keep keeps one run: choose one --settlement and one --sourcing.")
        broken = []
        for mode in modes:
            shipments = []
            for strategy in strategies:
                try:
                    # The comparison run first: it is always rolled back, and a kept run must be last.
                    other = SCRIPTED if supply == SUGGESTIONS else SUGGESTIONS
                    compared = (
                        simulate_shop(days=days, seed=seed, settlement=mode, supply=other, sourcing=strategy)
                        if baseline
                        else None
                    )
                    result = simulate_shop(
                        days=days, seed=seed, keep=keep, settlement=mode, supply=supply, sourcing=strategy
                    )
                except SimulationError as exc:
                    raise CommandError(str(exc)) from exc
                for line in result.lines():
                    self.stdout.write(line)
                if compared is not None:
                    for line in supply_comparison(result, compared):
                        self.stdout.write(line)
                shipments.append(f"{strategy} {format_ratio(result.shipments_per_order)}")
                if result.oversold_units or result.violations:
                    broken.append(
                        f"{mode}, {strategy}: {result.oversold_units} oversold units, "
                        f"{result.violations} invariant violations."
                    )
            if len(strategies) > 1:
                self.stdout.write(f"shipments per order, seed {seed}, {mode}: {', '.join(shipments)}")
        if broken:
            raise CommandError(" ".join(broken))
