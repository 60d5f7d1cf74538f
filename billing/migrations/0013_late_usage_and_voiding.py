"""Late usage and voided imports.

- ``UsageRecord.billed_on``: the statement that charged a record. The append-only trigger now also
  lets this column go from NULL to a statement, once; every other change is still refused. Records of
  periods already issued are stamped with their statement here.
- ``StatementLine.usage_period_start/end``: lines that charge records of an earlier period.
- ``ImportBatch``: voided status, who, when, why, how many records.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

GUARD = """
CREATE OR REPLACE FUNCTION billing_usage_record_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF current_setting('billing.allow_usage_delete', true) = 'on' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'usage records are append-only: delete of record % refused', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (to_jsonb(NEW) - 'cost' - 'rated_plan_id' - 'rated_at' - 'billed_on_id')
       IS DISTINCT FROM (to_jsonb(OLD) - 'cost' - 'rated_plan_id' - 'rated_at' - 'billed_on_id') THEN
        RAISE EXCEPTION 'usage records are append-only: only rating columns of record % may change', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.billed_on_id IS NOT NULL AND NEW.billed_on_id IS DISTINCT FROM OLD.billed_on_id THEN
        RAISE EXCEPTION 'usage record % is already billed on statement %', OLD.id, OLD.billed_on_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;
"""

REVERSE_GUARD = """
CREATE OR REPLACE FUNCTION billing_usage_record_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF current_setting('billing.allow_usage_delete', true) = 'on' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'usage records are append-only: delete of record % refused', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (to_jsonb(NEW) - 'cost' - 'rated_plan_id' - 'rated_at')
       IS DISTINCT FROM (to_jsonb(OLD) - 'cost' - 'rated_plan_id' - 'rated_at') THEN
        RAISE EXCEPTION 'usage records are append-only: only rating columns of record % may change', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;
"""

BACKFILL = """
UPDATE billing_usagerecord u SET billed_on_id = s.id
FROM billing_statement s
WHERE s.organization_id = u.organization_id AND s.status IN ('issued', 'paid')
  AND u.local_date BETWEEN s.period_start AND s.period_end AND u.billed_on_id IS NULL
"""


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0012_audit_log_in_domain"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunSQL(GUARD, REVERSE_GUARD),
        migrations.AddField(
            model_name="importbatch",
            name="void_reason",
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.AddField(
            model_name="importbatch",
            name="voided_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="importbatch",
            name="voided_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="importbatch",
            name="voided_records",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="statementline",
            name="usage_period_end",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="statementline",
            name="usage_period_start",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="usagerecord",
            name="billed_on",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="billing.statement",
            ),
        ),
        migrations.AlterField(
            model_name="importbatch",
            name="status",
            field=models.CharField(
                choices=[
                    ("running", "Running"),
                    ("done", "Done"),
                    ("failed", "Failed (nothing loaded)"),
                    ("voided", "Voided (its records were removed)"),
                ],
                default="running",
                max_length=10,
            ),
        ),
        migrations.AddIndex(
            model_name="usagerecord",
            index=models.Index(
                condition=models.Q(("billed_on__isnull", True)),
                fields=["organization", "local_date"],
                name="usage_org_unbilled",
            ),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
