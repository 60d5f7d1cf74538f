"""Immutability without a side door: the maintenance switches need a maintenance role, and TRUNCATE is refused.

Until now any session could ``SET billing.allow_statement_delete = 'on'`` (a custom setting needs no
privilege) and then delete an issued statement or single lines of it, and ``TRUNCATE`` skipped the row
triggers altogether. Now:

- every switch (``billing.allow_statement_delete``, ``billing.allow_usage_delete``, and
  ``portal.allow_audit_delete`` in the portal's migration) counts only for a member of the
  ``billing_maintenance`` role or a superuser (``billing_maintenance_switch``); the application's own
  role, which is neither, cannot delete an issued statement, a usage record or an audit entry, switch or
  not;
- ``TRUNCATE`` of statements, statement lines, breakdowns, the usage table (its partitions included) and
  the audit log is refused by statement triggers unless the same switch is on for such a role.

The role is created here when the migrating user may (superuser or CREATEROLE); otherwise the migration
says so and only superusers can use the switches until an administrator runs
``CREATE ROLE billing_maintenance NOLOGIN`` and grants it to the maintenance login.
Self-contained on purpose (a migration must not change when the application code does).
"""

from django.db import migrations

ROLE = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'billing_maintenance') THEN
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
        CREATE ROLE billing_maintenance NOLOGIN;
    ELSE
        RAISE NOTICE 'role billing_maintenance not created (% may not create roles): until an administrator '
                     'creates it, only superusers can use the maintenance switches', current_user;
    END IF;
END;
$$;
"""

SWITCH = """
CREATE OR REPLACE FUNCTION billing_maintenance_switch(setting text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF coalesce(current_setting(setting, true), '') <> 'on' THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND rolsuper) THEN
        RETURN true;
    END IF;
    RETURN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'billing_maintenance')
        AND pg_has_role(current_user, 'billing_maintenance', 'MEMBER');
END;
$$;

CREATE OR REPLACE FUNCTION billing_truncate_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- TG_ARGV[0]: the switch that allows it (for the maintenance role only)
    IF billing_maintenance_switch(TG_ARGV[0]) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only or holds issued statements: TRUNCATE refused', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
"""

GUARDS = """
CREATE OR REPLACE FUNCTION billing_statement_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    mutable text[] := ARRAY['status', 'paid_at', 'voided_at', 'pdf_status', 'pdf_file', 'pdf_sha256',
                            'pdf_attempts', 'pdf_error'];
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' AND NOT billing_maintenance_switch('billing.allow_statement_delete') THEN
            RAISE EXCEPTION 'statement % is % and cannot be deleted', OLD.number, OLD.status
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status = 'draft' THEN
        RETURN NEW;
    END IF;
    IF (to_jsonb(NEW) - mutable) IS DISTINCT FROM (to_jsonb(OLD) - mutable) THEN
        RAISE EXCEPTION 'statement % is % and immutable: use an adjustment on a later statement', OLD.number, OLD.status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.status <> OLD.status AND NOT (
        (OLD.status = 'issued' AND NEW.status IN ('paid', 'void')) OR (OLD.status = 'paid' AND NEW.status = 'void')
    ) THEN
        RAISE EXCEPTION 'statement % cannot go from % to %', OLD.number, OLD.status, NEW.status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION billing_statement_child_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sid bigint;
    st text;
BEGIN
    IF TG_OP = 'DELETE' AND billing_maintenance_switch('billing.allow_statement_delete') THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'DELETE' THEN sid := OLD.statement_id; ELSE sid := NEW.statement_id; END IF;
    SELECT status INTO st FROM billing_statement WHERE id = sid;
    IF st IS NOT NULL AND st <> 'draft' THEN
        RAISE EXCEPTION 'statement % is % and immutable: its % rows cannot change', sid, st, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.statement_id <> NEW.statement_id THEN
        SELECT status INTO st FROM billing_statement WHERE id = OLD.statement_id;
        IF st IS NOT NULL AND st <> 'draft' THEN
            RAISE EXCEPTION 'statement % is immutable', OLD.statement_id USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION billing_usage_record_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF billing_maintenance_switch('billing.allow_usage_delete') THEN
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

STATEMENT_TABLES = ("billing_statement", "billing_statementline", "billing_statementbreakdown")


def truncate_triggers(cursor):
    tables = [(t, "billing.allow_statement_delete") for t in STATEMENT_TABLES]
    # The usage table and each of its partitions (a TRUNCATE of one partition fires only its own triggers).
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass('billing_usagerecord')"
    )
    usage = ["billing_usagerecord", *(name for (name,) in cursor.fetchall())]
    tables += [(t, "billing.allow_usage_delete") for t in usage]
    for table, switch in tables:
        cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        cursor.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION billing_truncate_guard('{switch}')"
        )


def forward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(ROLE)
        cursor.execute(SWITCH)
        cursor.execute(GUARDS)
        truncate_triggers(cursor)


def backward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname, tgrelid::regclass::text FROM pg_trigger WHERE tgname LIKE '%\\_no\\_truncate' "
            "AND tgfoid = to_regproc('billing_truncate_guard')"
        )
        for name, table in cursor.fetchall():
            cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        # The guards keep calling billing_maintenance_switch; the switches stay role-bound when reversed.


class Migration(migrations.Migration):
    dependencies = [("billing", "0011_usage_partitioned")]
    operations = [migrations.RunPython(forward, backward)]
