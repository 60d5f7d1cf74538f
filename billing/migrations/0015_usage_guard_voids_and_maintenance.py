"""The usage table's guard, after the maintenance role (0012_immutability…) and late usage (0013) were
written side by side: one function with all of their rules.

- Updates may change only the rating columns (cost, rated_plan_id, rated_at) and ``billed_on``, and
  ``billed_on`` only from NULL to a statement, once.
- A delete is allowed for a member of ``billing_maintenance`` (or a superuser) with
  ``billing.allow_usage_delete`` on, or, for anyone, for a record that no statement charged whose
  import batch is voided: the void service marks its batch voided, then deletes its unbilled records,
  in one transaction. Usage on an issued statement is never deleted by the application.
"""

from django.db import migrations

GUARD = """
CREATE OR REPLACE FUNCTION billing_usage_record_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF billing_maintenance_switch('billing.allow_usage_delete') THEN
            RETURN OLD;
        END IF;
        IF OLD.billed_on_id IS NULL AND OLD.import_batch_id IS NOT NULL AND EXISTS (
            SELECT 1 FROM billing_importbatch b WHERE b.id = OLD.import_batch_id AND b.status = 'voided'
        ) THEN
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


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0012_immutability_maintenance_role"),
        ("billing", "0014_merge_sources_and_late_usage"),
    ]
    # Reversing keeps this guard: the rules of both parents hold in it.
    operations = [migrations.RunSQL(GUARD, migrations.RunSQL.noop)]
