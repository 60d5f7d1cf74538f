"""Drop the usage table's single-column indexes on organization_id and line_id: the composite indexes
usage_org_started / usage_org_local_date and usage_line_started lead with those columns and serve every
lookup (and the foreign keys' checks on delete) they served, and each index is paid by every imported
record. Only the indexes go (the foreign keys stay as they are: re-adding them would re-check every
row of the table)."""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = ("billing_usagerecord_line_id_8567e6db", "billing_usagerecord_organization_id_135bd65d")


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0018_merge_einvoice"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    [f'DROP INDEX IF EXISTS "{name}"' for name in INDEXES],
                    reverse_sql=[
                        'CREATE INDEX IF NOT EXISTS "billing_usagerecord_line_id_8567e6db" '
                        'ON "billing_usagerecord" ("line_id")',
                        'CREATE INDEX IF NOT EXISTS "billing_usagerecord_organization_id_135bd65d" '
                        'ON "billing_usagerecord" ("organization_id")',
                    ],
                )
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="usagerecord",
                    name="line",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="billing.line",
                    ),
                ),
                migrations.AlterField(
                    model_name="usagerecord",
                    name="organization",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="billing.organization",
                    ),
                ),
            ],
        )
    ]
