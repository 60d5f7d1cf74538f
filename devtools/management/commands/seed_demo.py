from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.models import Organization
from devtools.demo.seed import DEMO_PASSWORD, demo_accounts, seed_demo, seed_reset


class Command(BaseCommand):
    help = "Create demo customers with people, lines, plans and months of realistic usage (deterministic by --seed)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--scale", type=float, default=1.0, help="Grow people, lines and calls (e.g. 30: millions)")
        parser.add_argument("--months", type=int, default=6, help="Full months before the current one")
        parser.add_argument("--end", help="YYYY-MM-DD: usage stops the day before (default: today, UTC)")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when any organization exists")
        parser.add_argument("--reset", action="store_true", help="Delete the demo organizations and users first")

    def handle(self, *args, seed, scale, months, end, if_empty, reset, **options):
        if not 0 < scale <= 1000:
            raise CommandError("--scale must be between 0 and 1000")
        if not 1 <= months <= 36:
            raise CommandError("--months must be between 1 and 36")
        try:
            end_day = date.fromisoformat(end) if end else timezone.now().date()
        except ValueError:
            raise CommandError(f"--end must be a date like 2026-11-01, got '{end}'") from None
        if if_empty and Organization.objects.exists():
            self.stdout.write("Demo data already present: nothing to do.")
            self._logins()
            return
        if reset:
            seed_reset()
        elif Organization.objects.filter(account_number__in=demo_accounts()).exists():
            raise CommandError("demo organizations exist already: pass --reset to recreate them")
        self.stdout.write(f"Seeding demo data (seed {seed}, scale {scale}, {months} months to {end_day}):")
        report = seed_demo(seed=seed, scale=scale, months=months, end=end_day, log=self.stdout.write)
        total = sum(count for _name, count, _s in report.organizations)
        self.stdout.write(f"{total:,} usage records in {sum(s for *_x, s in report.organizations):.1f} s")
        self._logins()

    def _logins(self):
        from portal.models import Membership

        rows = Membership.objects.filter(user__email__endswith="@demo.example").select_related("user", "organization")
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
        for m in rows.order_by("organization__name", "user__username"):
            self.stdout.write(f"  {m.user.username:<22} {m.get_role_display():<18} {m.organization.name}")
        self.stdout.write(f"  {'staff':<22} {'Provider staff':<18} Django admin at /admin/")
