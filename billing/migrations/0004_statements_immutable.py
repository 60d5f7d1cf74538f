"""Issued statements are immutable in the database, not only in Python.

Once a statement leaves draft, only its status may move forward (issued → paid or void, paid → void)
with the matching timestamp, and its PDF bookkeeping columns may change. Its lines and breakdowns
cannot be inserted, changed or deleted, and it cannot be deleted. Corrections are adjustments that
appear on a later statement.
"""

from django.db import migrations

SQL = """
CREATE FUNCTION billing_statement_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    mutable text[] := ARRAY['status', 'paid_at', 'voided_at', 'pdf_status', 'pdf_file', 'pdf_sha256',
                            'pdf_attempts', 'pdf_error'];
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
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
CREATE TRIGGER billing_statement_immutable
    BEFORE UPDATE OR DELETE ON billing_statement
    FOR EACH ROW EXECUTE FUNCTION billing_statement_guard();

CREATE FUNCTION billing_statement_child_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sid bigint;
    st text;
BEGIN
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
CREATE TRIGGER billing_statementline_immutable
    BEFORE INSERT OR UPDATE OR DELETE ON billing_statementline
    FOR EACH ROW EXECUTE FUNCTION billing_statement_child_guard();
CREATE TRIGGER billing_statementbreakdown_immutable
    BEFORE INSERT OR UPDATE OR DELETE ON billing_statementbreakdown
    FOR EACH ROW EXECUTE FUNCTION billing_statement_child_guard();
"""

REVERSE = """
DROP TRIGGER IF EXISTS billing_statementbreakdown_immutable ON billing_statementbreakdown;
DROP TRIGGER IF EXISTS billing_statementline_immutable ON billing_statementline;
DROP TRIGGER IF EXISTS billing_statement_immutable ON billing_statement;
DROP FUNCTION IF EXISTS billing_statement_child_guard();
DROP FUNCTION IF EXISTS billing_statement_guard();
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_statements")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
