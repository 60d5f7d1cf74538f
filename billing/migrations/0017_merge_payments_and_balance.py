"""Joins payments and balances (0014_payments_and_balance) with the rest, written side by side."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0014_payments_and_balance"),
        ("billing", "0016_merge_offers_learning"),
    ]

    operations = []
