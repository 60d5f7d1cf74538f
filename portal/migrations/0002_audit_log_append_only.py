from django.db import migrations

SQL = """
CREATE FUNCTION portal_audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
CREATE TRIGGER portal_auditlog_append_only
    BEFORE UPDATE OR DELETE ON portal_auditlog
    FOR EACH ROW EXECUTE FUNCTION portal_audit_log_guard();
"""

REVERSE = """
DROP TRIGGER IF EXISTS portal_auditlog_append_only ON portal_auditlog;
DROP FUNCTION IF EXISTS portal_audit_log_guard();
"""


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_memberships_tokens_audit")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
