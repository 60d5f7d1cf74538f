from django.core.management.base import BaseCommand, CommandError

from billing.models import Organization, Statement
from billing.offers.services import offers_compute, statement_offers_freeze


class Command(BaseCommand):
    help = "Compute personalized offers now (staff): for some or all organizations, or freeze a statement's offers."

    def add_arguments(self, parser):
        parser.add_argument("--organization", action="append", help="Account number (repeatable; default: all)")
        parser.add_argument("--statement", help="Statement number: freeze its offers (no-op when frozen)")

    def handle(self, *args, organization, statement, **options):
        if statement:
            st = Statement.objects.select_related("organization").filter(number=statement).first()
            if st is None:
                raise CommandError(f"no statement {statement}")
            runs = [statement_offers_freeze(statement=st)]
        else:
            orgs = Organization.objects.all()
            if organization:
                orgs = orgs.filter(account_number__in=organization)
                missing = set(organization) - set(orgs.values_list("account_number", flat=True))
                if missing:
                    raise CommandError(f"no organization {', '.join(sorted(missing))}")
            runs = [offers_compute(organization=org) for org in orgs.order_by("account_number")]
        for run in runs:
            mode = "personalized" if run.personalized else ("holdout" if run.holdout else "no consent: generic only")
            self.stdout.write(f"{run.organization.account_number} ({mode}):")
            for rec in run.recommendations.select_related("offer").order_by("rank"):
                saving = f" saves {rec.saving_monthly} {rec.currency}/month" if rec.saving_monthly is not None else ""
                self.stdout.write(f"  {rec.rank}. {rec.title}{saving}")
                if rec.personalized:
                    self.stdout.write(f"     {rec.reason}")
