"""The retention risk score's precision on the history in the database (e.g. the demo's)."""

from django.core.management.base import BaseCommand

from billing.offers.profile import RISK_HIGH
from billing.offers.reports import retention_risk_backtest


class Command(BaseCommand):
    help = (
        "Score every consenting organization's retention risk month by month over its history (three months "
        "before each month) and report how often a high score was followed by signs of leaving that month "
        "(more lines switched off than added, or call minutes down 15 % or more): precision and recall."
    )

    def add_arguments(self, parser):
        parser.add_argument("--verbose-points", action="store_true", help="One line per organization and month")

    def handle(self, *args, verbose_points, **options):
        result = retention_risk_backtest()
        if verbose_points:
            for account, month, score, left in result.points:
                self.stdout.write(f"{account} {month:%Y-%m} risk {score:>3} {'left' if left else 'stayed'}")
        self.stdout.write(
            f"{len(result.points)} organization-months; high risk (>= {RISK_HIGH}): {result.flagged}; "
            f"signs of leaving: {result.positives}; both: {result.true_positives}"
        )
        precision = "n/a (nothing flagged)" if result.precision is None else f"{result.precision}"
        recall = "n/a (nobody left)" if result.recall is None else f"{result.recall}"
        self.stdout.write(f"precision {precision}, recall {recall}")
