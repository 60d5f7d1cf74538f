"""The audit log is now billing.AuditLog (billing migration 0012): remove it from the portal's state only.

The table ``portal_auditlog`` and its append-only trigger stay exactly as they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0006_token_belongs_to_organization"),
        ("billing", "0012_audit_log_in_domain"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="AuditLog")],
        ),
    ]
