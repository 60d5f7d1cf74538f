"""Statements issued before offers existed keep their PDF byte for byte.

Every issued statement gets an empty, "legacy" offer run: the PDF renderer shows the offers frozen with
a statement, and these have none, so re-rendering them gives the same bytes as before. Statements
issued from now on get their offers frozen the first time they are computed (after issue, or at the
first render, whichever comes first) and keep exactly those.
"""

from django.db import migrations
from django.utils import timezone


def freeze_existing(apps, schema_editor):
    Statement = apps.get_model("billing", "Statement")
    OfferRun = apps.get_model("billing", "OfferRun")
    now = timezone.now()
    runs = [
        OfferRun(
            organization_id=statement.organization_id,
            statement_id=statement.id,
            trigger="render",
            computed_at=now,
            months=0,
            personalized=False,
            consent=False,
            holdout=False,
            legacy=True,
            profile={},
        )
        for statement in Statement.objects.exclude(status="draft").only("id", "organization_id")
    ]
    OfferRun.objects.bulk_create(runs, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("billing", "0008_offers")]

    operations = [migrations.RunPython(freeze_existing, migrations.RunPython.noop)]
