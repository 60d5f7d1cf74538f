"""E-invoices (EN 16931) issued with statements, and the tax terms they are written in."""

from django.db import models

from billing.models.choices import EInvoiceFormat, VatCategory  # noqa: F401 - re-exported
from billing.models.statements import Statement


class StatementEInvoice(models.Model):
    """The EN 16931 invoice of an issued statement: the XML as issued and the report of the official rules it
    passed. Written in the issuing transaction, before the statement is issued, and immutable after (the
    statement child guard of migration 0004 covers this table too)."""

    statement = models.OneToOneField(Statement, on_delete=models.CASCADE, related_name="einvoice")
    format = models.CharField(max_length=10, choices=EInvoiceFormat.choices)
    type_code = models.CharField(max_length=3, help_text="UNTDID 1001: 380 invoice, 381 credit note")
    xml = models.TextField()
    sha256 = models.CharField(max_length=64)
    valid = models.BooleanField()
    report = models.JSONField(help_text="Which XSD and rule files ran, their versions, counts and any findings")
    validation_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    @property
    def filename(self) -> str:
        st = self.statement
        return f"einvoice-{st.organization.account_number}-{st.period_start:%Y-%m}-{self.format}.xml"
