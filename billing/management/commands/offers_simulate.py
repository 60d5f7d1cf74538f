"""Simulate quarters of customers answering offers with hidden true propensities (billing.offers.simulation)."""

from django.core.management.base import BaseCommand, CommandError

from billing.offers.learning import MAX_EXPLORATION
from billing.offers.simulation import report_lines, simulate


class Command(BaseCommand):
    help = (
        "Simulate N quarters of customers with hidden true propensities and report the learned policy's "
        "acceptance and accepted value against ranking by saving alone and against random. Deterministic "
        "for a seed; reads and writes no data."
    )

    def add_arguments(self, parser):
        parser.add_argument("--quarters", type=int, default=8)
        parser.add_argument("--customers", type=int, default=500)
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--exploration", type=float, default=0.1)

    def handle(self, *args, quarters, customers, seed, exploration, **options):
        if quarters < 1 or customers < 1:
            raise CommandError("--quarters and --customers must be at least 1")
        if not 0 <= exploration <= MAX_EXPLORATION:
            raise CommandError(f"--exploration must be between 0 and {MAX_EXPLORATION}")
        results = simulate(quarters=quarters, customers=customers, seed=seed, exploration=exploration)
        for line in report_lines(results, quarters=quarters, customers=customers, seed=seed):
            self.stdout.write(line)
