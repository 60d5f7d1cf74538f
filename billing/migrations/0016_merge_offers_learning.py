"""Joins the offers' learning and campaigns (0014, 0015) with the usage guard (0015), written side by side."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0015_offer_campaigns"),
        ("billing", "0015_usage_guard_voids_and_maintenance"),
    ]

    operations = []
