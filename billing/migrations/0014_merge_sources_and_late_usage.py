"""Joins the usage sources (0012) and late usage / voiding (0013), written side by side."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0012_usage_sources_and_line_identifiers"),
        ("billing", "0013_late_usage_and_voiding"),
    ]

    operations = []
