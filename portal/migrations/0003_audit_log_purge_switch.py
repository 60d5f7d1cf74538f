"""Audit entries can be purged only by a transaction that runs SET LOCAL portal.allow_audit_delete = 'on'
(demo resets, retention purges); updates stay impossible."""

from django.db import migrations

SQL = """
CREATE OR REPLACE FUNCTION portal_audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND coalesce(current_setting('portal.allow_audit_delete', true), '') = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("portal", "0002_audit_log_append_only")]
    operations = [migrations.RunSQL(SQL, migrations.RunSQL.noop)]
