from django.core.management.base import BaseCommand, CommandError

from billing.models import Organization
from billing.statements.pdf import statement_render
from billing.statements.services import BillingError, billing_period, statement_issue


class Command(BaseCommand):
    help = "Issue the statements of a billing period (YYYY-MM: the period starting in that month)."

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="e.g. 2026-10")
        parser.add_argument("--organization", help="Account number; default: every organization")
        parser.add_argument("--no-pdf", action="store_true", help="Leave PDF rendering to the Celery worker")

    def handle(self, *args, period, organization, no_pdf, **options):
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
            try:
                statement = statement_issue(organization=org, period=billing_period(org, year, month))
            except BillingError as exc:
                failures += 1
                self.stderr.write(f"{org.account_number}: {exc}")
                continue
            if not no_pdf and statement.pdf_status != statement.PdfStatus.READY:
                statement_render(statement=statement)
            self.stdout.write(
                f"{org.account_number} {org.name}: statement {statement.number} "
                f"{statement.period_start}–{statement.period_end} total {statement.total} {statement.currency}"
            )
        if failures:
            raise CommandError(f"{failures} organization(s) could not be billed")
