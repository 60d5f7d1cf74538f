"""Joins the audit log's move into the domain (0007) and its maintenance-role guard (0008), written side by side."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0007_audit_log_to_billing"),
        ("portal", "0008_audit_log_maintenance_role"),
    ]

    operations = []
