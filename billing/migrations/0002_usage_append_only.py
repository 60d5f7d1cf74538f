"""Usage records are append-only, enforced by the database and not only by the application.

Updates may only set the rating columns (cost, rated_plan_id, rated_at); every other change and every
delete is rejected. A maintenance purge can set ``SET LOCAL billing.allow_usage_delete = 'on'`` in its
transaction (documented in the README); nothing in the application does.
"""

from django.db import migrations

SQL = """
CREATE FUNCTION billing_usage_record_guard() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER billing_usagerecord_append_only
    BEFORE UPDATE OR DELETE ON billing_usagerecord
    FOR EACH ROW EXECUTE FUNCTION billing_usage_record_guard();
"""

REVERSE = """
DROP TRIGGER IF EXISTS billing_usagerecord_append_only ON billing_usagerecord;
DROP FUNCTION IF EXISTS billing_usage_record_guard();
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_warehouse")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
