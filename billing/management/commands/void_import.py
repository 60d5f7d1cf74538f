from django.core.management.base import BaseCommand, CommandError

from billing.ingest.batches import VoidError, import_batch_void
from billing.management.users import user_named


class Command(BaseCommand):
    help = (
        "Void an import (by its batch number, printed by import_usage and listed in the admin): its records are "
        "removed so they count nowhere and the corrected file can be loaded. Refused when any of its usage is on "
        "an issued statement (correct that with an adjustment)."
    )

    def add_arguments(self, parser):
        parser.add_argument("batch", type=int, help="The import batch number")
        parser.add_argument(
            "--reason", required=True, help="Why it is voided (kept with the batch and in the audit log)"
        )
        parser.add_argument("--by", metavar="USERNAME", help="The staff user voiding it (for the audit log)")

    def handle(self, *args, batch, reason, by, **options):
        user = user_named(by)
        try:
            voided = import_batch_void(batch_id=batch, reason=reason, user=user)
        except VoidError as exc:
            raise CommandError(f"not voided: {exc}") from None
        self.stdout.write(
            f"import batch {voided.pk} ({voided.filename}) voided: {voided.voided_records} records removed. "
            "Load the corrected file with import_usage."
        )
