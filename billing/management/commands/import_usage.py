import zoneinfo
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from billing.ingest.importer import FORMATS, ImportFileError, usage_import
from billing.models import UsageRecord
from billing.tasks import import_report


class Command(BaseCommand):
    help = (
        "Import usage (CDRs) exported by a phone system: for a declared usage source (--source SLUG, see "
        "the usage_source command), or by --format over all organizations' lines by number."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        how = parser.add_mutually_exclusive_group(required=True)
        how.add_argument("--source", metavar="SLUG", help="The usage source (phone system) that wrote the file")
        how.add_argument("--format", choices=FORMATS)
        parser.add_argument(
            "--timezone",
            help="IANA zone of the times in the file (default: the source's clock; without a source the line's "
            "organization's zone)",
        )
        parser.add_argument("--show-rejections", type=int, default=20, metavar="N", help="Print the first N rejections")
        parser.add_argument(
            "--show-records", type=int, default=0, metavar="N", help="Print the first N loaded calls as stored"
        )
        parser.add_argument("--dry-run", action="store_true", help="Read and check everything, store nothing")

    def handle(self, *args, file, source, format, timezone, show_rejections, show_records, dry_run, **options):
        with transaction.atomic():
            try:
                result = usage_import(path=Path(file), format=format, source=source, timezone_name=timezone)
            except ImportFileError as exc:
                raise CommandError(f"nothing imported: {exc}") from None
            self.stdout.write(import_report(result, show_rejections), ending="")
            if show_records:
                self._records(result.batch_id, show_records)
            if dry_run:
                transaction.set_rollback(True)
                self.stdout.write("dry run: nothing was stored")
        if result.failed:
            raise CommandError(f"no row of {file} was loaded (batch {result.batch_id} keeps the rejections)")

    def _records(self, batch_id, limit):
        """The calls as a customer will see them: local time, line, person, location, what and how long."""
        records = (
            UsageRecord.objects.filter(import_batch_id=batch_id)
            .select_related("line", "person", "location", "organization")
            .order_by("started_at", "id")[:limit]
        )
        for r in records:
            local = r.started_at.astimezone(zoneinfo.ZoneInfo(r.organization.time_zone))
            self.stdout.write(
                f"  {local:%Y-%m-%d %H:%M:%S} {r.line.number} {r.person.name if r.person else '-'} @ "
                f"{r.location.name if r.location else '-'}: {r.direction} {r.category} {r.destination_masked or '-'} "
                f"{r.duration_seconds} s ({r.billable_seconds} billable, {'answered' if r.answered else 'unanswered'})"
            )
