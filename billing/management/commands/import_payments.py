from django.core.management.base import BaseCommand, CommandError

from billing.audit import Actor
from billing.management.users import user_named
from billing.statements.payments import IMPORT_COLUMNS, payments_import


class Command(BaseCommand):
    help = (
        "Import payments received from the finance system's CSV export (UTF-8, header row with the columns "
        f"{','.join(IMPORT_COLUMNS)}; received_on as YYYY-MM-DD, amount like 1234.56). All or nothing: any "
        "rejected row (listed with its line number) writes nothing. Importing the same file again changes "
        "nothing (external_id is unique per account)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path of the CSV file")
        parser.add_argument("--by", metavar="USERNAME", help="The staff user importing it (for the audit log)")

    def handle(self, *args, file, by, **options):
        user = user_named(by)
        try:
            with open(file, encoding="utf-8-sig", newline="") as handle:
                result = payments_import(file=handle, actor=Actor(user=user))
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        if result.rejections:
            for line, why in result.rejections:
                self.stderr.write(f"{file}:{line}: {why}")
            raise CommandError(f"{len(result.rejections)} row(s) rejected; nothing was imported")
        self.stdout.write(f"{len(result.created)} payment(s) imported, {result.unchanged} already imported before")
