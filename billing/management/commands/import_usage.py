from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from billing.ingest.importer import FORMATS, ImportFileError, usage_import


class Command(BaseCommand):
    help = "Import usage (CDRs) exported by a phone system: Asterisk Master.csv, FreeSWITCH CSV, or native CSV."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--format", required=True, choices=FORMATS)
        parser.add_argument(
            "--timezone", help="IANA zone of the times in Asterisk/FreeSWITCH files (default: the line's organization)"
        )
        parser.add_argument("--show-rejections", type=int, default=20, metavar="N", help="Print the first N rejections")

    def handle(self, *args, file, format, timezone, show_rejections, **options):
        try:
            result = usage_import(path=Path(file), format=format, timezone_name=timezone)
        except ImportFileError as exc:
            raise CommandError(f"nothing imported: {exc}") from None
        self.stdout.write(
            f"{result.path} ({result.format}): {result.rows} rows, {result.loaded} loaded, "
            f"{result.duplicates} duplicates, {result.rejected} rejected (batch {result.batch_id})"
        )
        for rejection in result.rejections[:show_rejections]:
            self.stdout.write(f"  line {rejection.line_number}: {rejection.reason}")
        if result.rejected > show_rejections:
            self.stdout.write(f"  … and {result.rejected - show_rejections} more (see the import batch in the admin)")
