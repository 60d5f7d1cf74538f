import django.db.models.functions.comparison
from django.db import migrations, models

# Budgets made before duplicates were refused: of several budgets for one subject (the organization, a
# location or a person) the oldest stays, the later copies go (with their alerts), then the index holds.
DEDUPLICATE = """
DELETE FROM portal_budget b USING portal_budget keep
WHERE b.organization_id = keep.organization_id
  AND coalesce(b.location_id, 0) = coalesce(keep.location_id, 0)
  AND coalesce(b.person_id, 0) = coalesce(keep.person_id, 0)
  AND keep.id < b.id
"""


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0018_merge_einvoice"),
        ("portal", "0009_merge_audit_log_moves_and_maintenance_role"),
    ]

    operations = [
        migrations.RunSQL(DEDUPLICATE, migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name="budget",
            constraint=models.UniqueConstraint(
                models.F("organization"),
                django.db.models.functions.comparison.Coalesce(models.F("location"), models.Value(0)),
                django.db.models.functions.comparison.Coalesce(models.F("person"), models.Value(0)),
                name="budget_one_per_subject",
            ),
        ),
    ]
