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
from billing.statements.payments import rf_reference


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
    einvoice = StatementEInvoice(
        statement=statement,
        format=format,
        type_code=terms.type_code,
        xml=xml.decode("utf-8"),
        sha256=hashlib.sha256(xml).hexdigest(),
        valid=report["valid"],
        report=report,
        validation_ms=report["ms"],
    )
    return einvoice


def _reference_of(number: str) -> str:
    return rf_reference("".join(ch for ch in number if ch.isalnum()))


def einvoice_number(*, einvoice: StatementEInvoice, lines, number: str, placeholder: str) -> None:
    """Give a validated e-invoice, built with a placeholder number of the same shape, the statement's number.

    The XML is rebuilt with the number and must differ from the validated XML in that text only (BT-1, and
    BT-83 which quotes it); no EN 16931, Factur-X or XRechnung rule reads the value of a number, only that
    there is one, so the validation stands. The report says which number it ran with."""
    if len(number) != len(placeholder):
        raise ValueError(f"statement number {number!r} is not of the placeholder's shape {placeholder!r}")
    statement = einvoice.statement
    terms = invoice_terms(
        statement=statement,
        lines=lines,
        organization=statement.organization,
        provider=settings.PROVIDER,
        format=einvoice.format,
    )
    xml = (ubl_xml if einvoice.format == "peppol" else cii_xml)(terms)
    # The payment reference (BT-83) is derived from the number: it is swapped back with it.
    swapped = (
        xml.decode("utf-8").replace(_reference_of(number), _reference_of(placeholder)).replace(number, placeholder)
    )
    if swapped != einvoice.xml:
        raise RuntimeError(f"e-invoice of {number}: rebuilding with the number changed more than the number")
    einvoice.xml = xml.decode("utf-8")
    einvoice.sha256 = hashlib.sha256(xml).hexdigest()
    einvoice.report = {**einvoice.report, "validated_with_number": placeholder}
