from datetime import date

from django.core.management.base import BaseCommand, CommandError

from billing.usage.partitions import partitions, partitions_ensure


class Command(BaseCommand):
    help = (
        "Create the usage table's monthly partitions for this month and the next ones (Celery beat does it "
        "daily), and for any --month given; rows of such a month in the default partition are moved into it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--months-ahead", type=int, default=3, help="months after this one (default 3)")
        parser.add_argument("--month", action="append", default=[], help="YYYY-MM, repeatable: also this month")

    def handle(self, *args, **options):
        if not 0 <= options["months_ahead"] <= 120:
            raise CommandError("--months-ahead must be between 0 and 120")
        try:
            months = [date.fromisoformat(f"{m}-01") for m in options["month"]]
        except ValueError as exc:
            raise CommandError(f"--month takes YYYY-MM: {exc}") from exc
        try:
            created = partitions_ensure(months_ahead=options["months_ahead"], months=months)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        for name in created:
            self.stdout.write(f"created {name}")
        self.stdout.write(f"{len(created)} partition(s) created; {len(partitions())} in all")
