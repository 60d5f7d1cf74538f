"""Joins the e-invoices and tax settings (0014_einvoice_tax_settings) with the rest, written side by side."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0014_einvoice_tax_settings"),
        ("billing", "0017_merge_payments_and_balance"),
    ]

    operations = []
