"""The audit log's purge switch counts only for the maintenance role, and TRUNCATE is refused.

``SET portal.allow_audit_delete = 'on'`` needs no privilege, so it was a side door for any session; now it
counts only for a member of ``billing_maintenance`` or a superuser (``billing_maintenance_switch``, billing
migration 0012), and a statement trigger refuses ``TRUNCATE portal_auditlog`` under the same rule.
"""

from django.db import migrations

SQL = """
CREATE OR REPLACE FUNCTION portal_audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND billing_maintenance_switch('portal.allow_audit_delete') THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
DROP TRIGGER IF EXISTS portal_auditlog_no_truncate ON portal_auditlog;
CREATE TRIGGER portal_auditlog_no_truncate BEFORE TRUNCATE ON portal_auditlog
    FOR EACH STATEMENT EXECUTE FUNCTION billing_truncate_guard('portal.allow_audit_delete');
"""

REVERSE = "DROP TRIGGER IF EXISTS portal_auditlog_no_truncate ON portal_auditlog;"


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0012_immutability_maintenance_role"),
        ("portal", "0007_signin_throttle_counters"),
    ]
    operations = [migrations.RunSQL(SQL, REVERSE)]
