"""Offline evaluation: replay the decision log and compare two policies by inverse propensity weighting."""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from billing.offers.learning import POLICIES, ips_evaluate
from billing.offers.reports import decision_log


class Command(BaseCommand):
    help = (
        "Replay the offers' decision log and estimate, by inverse propensity weighting, the acceptances and "
        "accepted value per decision two policies would have had (saving: rank by value alone; greedy: "
        "P(accept) x value without exploration; random; logged: the policy that made the decisions)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--policy", default="greedy", choices=sorted(POLICIES))
        parser.add_argument("--against", default="saving", choices=sorted(POLICIES))
        parser.add_argument("--since", help="Only decisions from this UTC date on (YYYY-MM-DD)")

    def handle(self, *args, policy, against, since, **options):
        start = None
        if since:
            try:
                start = datetime.fromisoformat(since).replace(tzinfo=UTC)
            except ValueError:
                raise CommandError(f"--since {since!r} is not a date (YYYY-MM-DD)") from None
        log = decision_log(since=start)
        if not log:
            raise CommandError("no logged decision with a known outcome to replay")
        self.stdout.write(f"{len(log)} logged decisions with a known outcome")
        self.stdout.write(f"{'policy':<8} {'matched':>8} {'acceptance':>11} {'value/decision':>15}")
        results = [ips_evaluate(name, log) for name in (policy, against)]
        for r in results:
            self.stdout.write(f"{r.policy:<8} {r.matched:>8} {r.acceptance:>11.4f} {r.value:>15.4f}")
        a, b = results
        ratio = f"{a.value / b.value:.3f}" if b.value else "n/a"
        self.stdout.write(f"{a.policy} / {b.policy} accepted value: {ratio}")
