"""Issuing a statement's e-invoice: build it in the organization's format, validate it by the official
rules, and keep it (XML and report) with the statement.

Called by the billing run inside the issuing transaction, after the statement's number and dates are
set and before it is saved as issued: an e-invoice that fails the rules stops the issue (the caller
raises, the transaction rolls back, the period stays open), so a statement is issued exactly once and
only with a valid e-invoice.
"""

from __future__ import annotations

import hashlib

from django.conf import settings

from billing.einvoice.cii import cii_xml
from billing.einvoice.terms import CREDIT_NOTE, invoice_terms
from billing.einvoice.ubl import ubl_xml
from billing.einvoice.validation import validate
from billing.models import StatementEInvoice


def einvoice_prepare(*, statement, lines) -> StatementEInvoice | None:
    """The validated (unsaved) e-invoice of a statement being issued; None for a statement with no lines
    (EN 16931 BR-16: an invoice has at least one line; such a statement charges nothing)."""
    if not lines:
        return None
    organization = statement.organization
    format = organization.einvoice_format
    terms = invoice_terms(
        statement=statement, lines=lines, organization=organization, provider=settings.PROVIDER, format=format
    )
    if format == "peppol":
        xml = ubl_xml(terms)
        rules = "peppol-creditnote" if terms.type_code == CREDIT_NOTE else "peppol"
    else:
        xml = cii_xml(terms)
        rules = format
    report = validate(xml, rules)
    return StatementEInvoice(
        statement=statement,
        format=format,
        type_code=terms.type_code,
        xml=xml.decode("utf-8"),
        sha256=hashlib.sha256(xml).hexdigest(),
        valid=report["valid"],
        report=report,
        validation_ms=report["ms"],
    )
