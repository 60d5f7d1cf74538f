"""API tokens belong to the organization: removing a member revokes and detaches their tokens (the
audit log refers to them) instead of refusing the removal."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_warehouse"),
        ("portal", "0005_portal_pages"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="organization",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="billing.organization"
            ),
        ),
        migrations.RunSQL(
            """UPDATE portal_apitoken t SET organization_id = m.organization_id
               FROM portal_membership m WHERE m.id = t.membership_id""",
            migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name="apitoken",
            name="organization",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="billing.organization"
            ),
        ),
        migrations.AlterField(
            model_name="apitoken",
            name="membership",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="tokens",
                to="portal.membership",
            ),
        ),
    ]
