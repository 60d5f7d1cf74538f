from django.core.management.base import BaseCommand

from billing.models import Organization
from billing.rating.store import usage_rate_open_period


class Command(BaseCommand):
    help = "Price the usage of each organization's open billing period so far (Celery beat does it hourly)."

    def handle(self, *args, **options):
        for org in Organization.objects.order_by("account_number"):
            count = usage_rate_open_period(organization=org)
            self.stdout.write(f"{org.account_number} {org.name}: {count} usage records priced")
