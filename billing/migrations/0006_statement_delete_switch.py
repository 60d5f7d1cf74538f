"""A maintenance switch to delete issued statements (demo resets, data-retention purges).

Deletes are still refused unless the transaction runs ``SET LOCAL billing.allow_statement_delete = 'on'``;
updates to issued statements stay impossible.
"""

from django.db import migrations

SQL = """

CREATE OR REPLACE FUNCTION billing_statement_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    mutable text[] := ARRAY['status', 'paid_at', 'voided_at', 'pdf_status', 'pdf_file', 'pdf_sha256',
                            'pdf_attempts', 'pdf_error'];
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' AND coalesce(current_setting('billing.allow_statement_delete', true), '') <> 'on' THEN
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
    IF TG_OP = 'DELETE' AND coalesce(current_setting('billing.allow_statement_delete', true), '') = 'on' THEN
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
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_statement_details")]
    operations = [migrations.RunSQL(SQL, migrations.RunSQL.noop)]
