from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Min

from billing.models import Organization, UsageRecord
from billing.periods import billing_period, last_closed_period, period_containing
from billing.statements.pdf import statement_render
from billing.statements.services import BillingError, statement_issue_catching_up
from billing.statements.tasks import statement_queue_follow_ups


def closed_periods(organization: Organization):
    """Every closed billing period from the one holding the organization's first usage, oldest first."""
    first = UsageRecord.objects.filter(organization=organization).aggregate(day=Min("local_date"))["day"]
    if first is None:
        return []
    last = last_closed_period(organization)
    periods, period = [], period_containing(organization, first)
    while period.start <= last.start:
        periods.append(period)
        period = period_containing(organization, period.end + timedelta(days=1))
    return periods


class Command(BaseCommand):
    help = "Issue the statements of a billing period (YYYY-MM: the period starting in that month)."

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--period", help="e.g. 2026-10")
        which.add_argument(
            "--all-closed",
            action="store_true",
            help="Every closed period since the organization's first usage, oldest first (issued ones are kept)",
        )
        parser.add_argument("--organization", help="Account number; default: every organization")
        parser.add_argument("--no-pdf", action="store_true", help="Leave PDF rendering to the Celery worker")

    def handle(self, *args, period, all_closed, organization, no_pdf, **options):
        if period:
            try:
                year, month = (int(part) for part in period.split("-"))
                if not 1 <= month <= 12:
                    raise ValueError
            except ValueError:
                raise CommandError(f"--period must look like 2026-10, got '{period}'") from None
        organizations = Organization.objects.order_by("account_number")
        if organization:
            organizations = organizations.filter(account_number=organization)
            if not organizations.exists():
                raise CommandError(f"no organization with account number '{organization}'")
        failures = 0
        for org in organizations:
            periods = closed_periods(org) if all_closed else [billing_period(org, year, month)]
            for billing in periods:
                try:
                    with transaction.atomic():
                        # A missed earlier period caught up here gets its PDF and offers like the others.
                        statements = statement_issue_catching_up(organization=org, period=billing)
                        if no_pdf:
                            for statement in statements:
                                statement_queue_follow_ups(statement)
                except BillingError as exc:
                    failures += 1
                    self.stderr.write(f"{org.account_number}: {exc}")
                    continue
                for statement in statements:
                    if not no_pdf and statement.pdf_status != statement.PdfStatus.READY:
                        statement_render(statement=statement)  # freezes its offers first
                    self.stdout.write(
                        f"{org.account_number} {org.name}: statement {statement.number} "
                        f"{statement.period_start}–{statement.period_end} total {statement.total} "
                        f"{statement.currency}"
                    )
        if failures:
            raise CommandError(f"{failures} organization(s) could not be billed")
