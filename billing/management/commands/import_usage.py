from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from billing.ingest.importer import FORMATS, ImportFileError, usage_import
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

    def handle(self, *args, file, source, format, timezone, show_rejections, **options):
        try:
            result = usage_import(path=Path(file), format=format, source=source, timezone_name=timezone)
        except ImportFileError as exc:
            raise CommandError(f"nothing imported: {exc}") from None
        self.stdout.write(import_report(result, show_rejections), ending="")
        if result.failed:
            raise CommandError(f"no row of {file} was loaded (batch {result.batch_id} keeps the rejections)")
