"""E-invoices issued with statements: XRechnung (German customer), Factur-X (French and Dutch customers,
inside a PDF/A-3b), Peppol BIS Billing 3.0 (Belgian customer) and a credit note, each validated by the
official XSD and rule files (the full CEN EN 16931 set and the KoSIT XRechnung set), read back by business
term. The first validation in a process compiles the rule files (~5 s)."""

import io
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from lxml import etree

from billing.einvoice.rules import FORMAT_ARTEFACTS, rule_counts
from billing.einvoice.tax import tax_id_label
from billing.einvoice.validation import validate
from billing.models import Statement, StatementEInvoice
from billing.periods import billing_period
from billing.statements.payments import payment_reference
from billing.statements.services import EInvoiceRejected, adjustment_create, statement_issue

pytestmark = pytest.mark.slow

NOW = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
CII = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
UBL = {
    "inv": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "cn": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}


def issue(org):
    return statement_issue(organization=org, period=billing_period(org, 2026, 10), now=NOW)


def setup(org, **fields):
    for name, value in fields.items():
        setattr(org, name, value)
    org.full_clean()
    org.save()
    return org


def text(doc, path, ns=CII):
    return [" ".join(n.split()) if isinstance(n, str) else n.text for n in doc.xpath(path, namespaces=ns)]


def assert_full_rule_sets_ran(report, fmt):
    ran = {r["artefact"]: r for r in report["ran"]}
    assert list(ran) == list(FORMAT_ARTEFACTS[fmt])
    for key, r in ran.items():
        if r["kind"] == "schematron":
            # Every pattern of the official file ran (no phase, no subset), and its rules fired.
            assert r["patterns_active"] == r["patterns_in_file"] == rule_counts(key)["patterns"] > 0
            assert r["rule_firings"] > 0 and r["asserts_in_file"] > 50


def test_german_customer_gets_a_valid_xrechnung_with_its_leitweg_id(billed_org):
    org = setup(
        billed_org,
        einvoice_format="xrechnung",
        buyer_reference="991-01234-44",
        einvoice_address="EM:rechnungseingang@hand.example",
        vat_id="DE 136 695 976",
        billing_address="Hauptstraße 1\n10115 Berlin\nGermany",
    )
    adjustment_create(organization=org, amount=D("-5.00"), reason="Goodwill credit for outage")
    st = issue(org)
    einvoice = StatementEInvoice.objects.get(statement=st)
    assert einvoice.format == "xrechnung" and einvoice.valid and einvoice.type_code == "380"
    assert einvoice.report["errors"] == [] and einvoice.report["not_run"] == []
    # Validated before the number was taken (its row lock serializes issuing), with a placeholder of its shape.
    assert einvoice.report["validated_with_number"] == "0000-000000" and "0000-000000" not in einvoice.xml
    assert validate(einvoice.xml.encode(), "xrechnung")["valid"]  # the stored XML passes as it is
    assert_full_rule_sets_ran(einvoice.report, "xrechnung")
    assert {r["artefact"] for r in einvoice.report["ran"]} == {"cii-xsd", "cen-cii", "xrechnung-cii"}

    doc = etree.fromstring(einvoice.xml.encode())
    header = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTrade"
    assert text(doc, "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == [
        "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
    ]  # BT-24
    assert text(doc, "rsm:ExchangedDocument/ram:ID") == [st.number]  # BT-1
    assert text(doc, "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString") == ["20261103"]  # BT-2
    assert text(doc, f"{header}Settlement/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString") == [
        st.due_date.strftime("%Y%m%d")
    ]  # BT-9
    assert text(doc, f"{header}Agreement/ram:BuyerReference") == ["991-01234-44"]  # BT-10
    assert text(doc, f"{header}Agreement/ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == ["DE136695976"]
    assert text(doc, f"{header}Agreement/ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == ["GB123456789"]
    assert text(doc, f"{header}Agreement/ram:BuyerTradeParty/ram:PostalTradeAddress/ram:CityName") == ["Berlin"]
    totals = f"{header}Settlement/ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
    assert text(doc, totals + "LineTotalAmount") == [f"{st.subtotal:.2f}"]  # BT-106
    assert text(doc, totals + "TaxTotalAmount") == [f"{st.tax_amount:.2f}"]  # BT-110
    assert text(doc, totals + "GrandTotalAmount") == [f"{st.total:.2f}"]  # BT-112
    assert text(doc, totals + "DuePayableAmount") == [f"{st.total:.2f}"]  # BT-115
    vat = f"{header}Settlement/ram:ApplicableTradeTax/ram:"
    assert text(doc, vat + "CategoryCode") == ["S"] and text(doc, vat + "RateApplicablePercent") == ["19.00"]  # BG-23
    assert text(doc, vat + "BasisAmount") == [f"{st.subtotal:.2f}"]
    means = f"{header}Settlement/ram:SpecifiedTradeSettlementPaymentMeans/"
    assert text(doc, means + "ram:PayeePartyCreditorFinancialAccount/ram:IBANID") == ["GB33BUKB20201555555555"]  # BT-84
    assert text(doc, f"{header}Settlement/ram:PaymentReference") == [payment_reference(st)]  # BT-83, as on the PDF

    lines = list(st.lines.all())
    items = doc.xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=CII)
    assert len(items) == len(lines)  # BG-25
    for line, item in zip(lines, items, strict=True):
        assert line.vat_category == "S"
        assert text(
            item,
            "ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
        ) == [f"{line.amount:.2f}"]
    units = doc.xpath("//ram:BilledQuantity/@unitCode", namespaces=CII)
    assert "MIN" in units and "DAY" in units
    assert sum(line.amount for line in lines) == st.subtotal


def test_previous_balance_is_a_note_not_in_the_total(billed_org):
    first = issue(billed_org)
    nov = statement_issue(
        organization=billed_org, period=billing_period(billed_org, 2026, 11), now=datetime(2026, 12, 3, 8, tzinfo=UTC)
    )
    assert nov.previous_balance == first.total
    doc = etree.fromstring(nov.einvoice.xml.encode())
    notes = text(doc, "rsm:ExchangedDocument/ram:IncludedNote/ram:Content")  # BT-22
    assert any(f"EUR {first.total:.2f}" in n and "not part of this invoice" in n for n in notes)
    assert text(doc, "//ram:DuePayableAmount") == [f"{nov.total:.2f}"]


@pytest.mark.parametrize(
    ("country", "vat_id", "address", "city"),
    [
        ("FR", "FR40303265045", "12 rue de la Paix\n75002 Paris", "Paris"),
        ("NL", "NL004495445B01", "Damrak 1\n1012 LG Amsterdam", "Amsterdam"),
    ],
)
def test_french_and_dutch_customers_get_factur_x_inside_a_pdf_a_3b(
    billed_org, country, vat_id, address, city, tmp_path, settings
):
    from pypdf import PdfReader

    from billing.statements.pdf import statement_render

    settings.MEDIA_ROOT = str(tmp_path)
    org = setup(
        billed_org, country=country, vat_id=vat_id, billing_address=address, locale=f"{country.lower()}-{country}"
    )
    st = issue(org)
    einvoice = st.einvoice
    assert einvoice.format == "facturx" and einvoice.valid
    assert_full_rule_sets_ran(einvoice.report, "facturx")
    doc = etree.fromstring(einvoice.xml.encode())
    assert text(doc, "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == ["urn:cen.eu:en16931:2017"]
    assert text(doc, "//ram:BuyerTradeParty/ram:PostalTradeAddress/ram:CityName") == [city]
    assert text(doc, "//ram:BuyerTradeParty/ram:PostalTradeAddress/ram:CountryID") == [country]

    path = statement_render(statement=Statement.objects.get(pk=st.pk))
    pdf = path.read_bytes()
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.attachments["factur-x.xml"] == [einvoice.xml.encode()]
    root = reader.trailer["/Root"]
    # WeasyPrint lists the one file specification twice in /AF (from the name tree and the object list).
    (spec_ref,) = {a.idnum for a in root["/AF"]}
    spec = reader.get_object(spec_ref)
    assert spec["/F"] == "factur-x.xml" and spec["/AFRelationship"] == "/Alternative"
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp  # PDF/A-3b
    assert "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp
    assert "<fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>" in xmp
    assert "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#" in xmp and "pdfaExtension:schemas" in xmp
    assert "/OutputIntents" in root
    # The same statement renders to the same bytes again (the attachment's dates are the issue time).
    assert statement_render(statement=Statement.objects.get(pk=st.pk)).read_bytes() == pdf


def test_belgian_peppol_customer_gets_ubl(billed_org):
    org = setup(
        billed_org,
        country="BE",
        vat_id="BE0403170701",
        einvoice_format="peppol",
        einvoice_address="0208:0403170701",
        billing_address="Rue de la Loi 16\n1000 Bruxelles",
        locale="fr-BE",
    )
    st = issue(org)
    einvoice = st.einvoice
    assert einvoice.format == "peppol" and einvoice.valid, einvoice.report["errors"]
    assert_full_rule_sets_ran(einvoice.report, "peppol")
    assert einvoice.report["not_run"] and "PEPPOL-EN16931-UBL" in einvoice.report["not_run"][0]
    doc = etree.fromstring(einvoice.xml.encode())
    assert doc.tag == f"{{{UBL['inv']}}}Invoice"
    assert text(doc, "cbc:CustomizationID", UBL) == [
        "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
    ]
    assert text(doc, "cbc:ID", UBL) == [st.number] and text(doc, "cbc:InvoiceTypeCode", UBL) == ["380"]
    assert doc.xpath("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID/@schemeID", namespaces=UBL) == ["0208"]
    assert text(doc, "cac:AccountingCustomerParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID", UBL) == ["BE0403170701"]
    assert text(doc, "cac:LegalMonetaryTotal/cbc:PayableAmount", UBL) == [f"{st.total:.2f}"]
    assert len(doc.xpath("cac:InvoiceLine", namespaces=UBL)) == st.lines.count()


@pytest.mark.parametrize("fmt", ["facturx", "peppol"])
def test_a_negative_statement_is_a_credit_note_381(billed_org, fmt):
    org = setup(
        billed_org,
        country="BE",
        vat_id="BE0403170701",
        einvoice_format=fmt,
        einvoice_address="0208:0403170701",
        billing_address="Rue de la Loi 16\n1000 Bruxelles",
    )
    adjustment_create(organization=org, amount=D("-500.00"), reason="Refund of a billing error")
    st = issue(org)
    assert st.total < 0
    einvoice = st.einvoice
    assert einvoice.type_code == "381" and einvoice.valid, einvoice.report["errors"]
    doc = etree.fromstring(einvoice.xml.encode())
    if fmt == "peppol":
        assert doc.tag == f"{{{UBL['cn']}}}CreditNote"
        assert text(doc, "cbc:CreditNoteTypeCode", UBL) == ["381"]
        assert text(doc, "cac:LegalMonetaryTotal/cbc:PayableAmount", UBL) == [f"{-st.total:.2f}"]
    else:
        assert text(doc, "rsm:ExchangedDocument/ram:TypeCode") == ["381"]
        assert text(doc, "//ram:GrandTotalAmount") == [f"{-st.total:.2f}"]


def test_reverse_charge_lines_are_category_ae_with_a_reason(billed_org):
    org = setup(
        billed_org,
        country="NL",
        vat_id="NL004495445B01",
        tax_rate=D("0"),
        vat_category="AE",
        vat_exemption_reason="Reverse charge: VAT due by the customer (Art. 196 VAT Directive)",
    )
    st = issue(org)
    assert st.tax_amount == 0 and {line.vat_category for line in st.lines.all()} == {"AE"}
    doc = etree.fromstring(st.einvoice.xml.encode())
    assert st.einvoice.valid, st.einvoice.report["errors"]
    vat = "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:"
    assert text(doc, vat + "CategoryCode") == ["AE"] and text(doc, vat + "RateApplicablePercent") == ["0.00"]
    assert text(doc, vat + "ExemptionReason") == [org.vat_exemption_reason]


def test_a_failing_e_invoice_is_not_issued_and_the_period_stays_open(billed_org):
    # XRechnung without the buyer's electronic address (BT-49): the KoSIT/Peppol rule fails.
    billed_org.einvoice_format = "xrechnung"
    billed_org.billing_address = "Hauptstraße 1\n10115 Berlin"
    billed_org.save()
    with pytest.raises(EInvoiceRejected, match="PEPPOL-EN16931-R010") as failure:
        issue(billed_org)
    assert "not issued" in str(failure.value)
    assert any(e["rule"] == "PEPPOL-EN16931-R010" for e in failure.value.report["errors"])
    assert not Statement.objects.filter(organization=billed_org).exists()
    assert not StatementEInvoice.objects.exists()
    billed_org.einvoice_address = "EM:ap@hand.example"
    billed_org.save()
    st = issue(billed_org)
    assert st.number == "2026-000001" and st.einvoice.valid  # the rolled-back number was given back


def test_the_e_invoice_is_immutable_once_issued(billed_org):
    st = issue(billed_org)
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        StatementEInvoice.objects.filter(statement=st).update(xml="<x/>")


def test_the_rules_catch_a_broken_invoice(billed_org):
    st = issue(billed_org)
    broken = st.einvoice.xml.replace(f">{st.total:.2f}</ram:GrandTotalAmount>", ">1.00</ram:GrandTotalAmount>")
    report = validate(broken.encode(), "facturx")
    assert not report["valid"] and "BR-CO-15" in {e["rule"] for e in report["errors"]}


def test_tax_identifiers_are_labelled_and_checked_by_country(make):
    assert tax_id_label("US") == "EIN" and tax_id_label("DE") == "VAT ID" and tax_id_label("GB") == "VAT Reg. No."
    org = make.organization(country="DE")
    org.vat_id = "DE123"
    with pytest.raises(ValidationError, match="not a valid VAT ID of DE"):
        org.full_clean()
    org.vat_id = "FR40303265045"
    with pytest.raises(ValidationError, match="starts with DE"):
        org.full_clean()
    us = make.organization(country="US", currency="USD", tax_rate=D("0"), vat_id="04-1234567")
    us.full_clean()
    us.vat_id = "12-345"
    with pytest.raises(ValidationError, match="not a valid EIN"):
        us.full_clean()
    org.vat_id, org.vat_category = "DE136695976", "AE"
    with pytest.raises(ValidationError) as bad:
        org.full_clean()
    assert set(bad.value.message_dict) == {"tax_rate", "vat_exemption_reason"}


def test_us_customer_outside_the_scope_of_vat_with_an_ein(billed_org):
    # No tax rate and no category set: the lines are outside the scope of VAT (O), and an EIN is not a VAT ID.
    org = setup(billed_org, country="US", currency="USD", tax_rate=D("0"), vat_id="04-1234567", locale="en-US")
    assert org.vat_category == "" and org.effective_vat_category == "O"
    st = issue(org)
    assert st.einvoice.valid, st.einvoice.report["errors"]
    assert {line.vat_category for line in st.lines.all()} == {"O"}
    doc = etree.fromstring(st.einvoice.xml.encode())
    vat = "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:"
    assert text(doc, vat + "CategoryCode") == ["O"] and text(doc, vat + "ExemptionReason") == ["Not subject to VAT"]
    assert not doc.xpath("//ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']", namespaces=CII)  # BR-O-02
    assert text(doc, "//ram:BuyerTradeParty/ram:SpecifiedLegalOrganization/ram:ID") == ["041234567"]  # BT-47


def test_a_crashed_saxon_worker_is_replaced(billed_org):
    from billing.einvoice.validation import worker

    st = issue(billed_org)
    xml = st.einvoice.xml.encode()
    assert validate(xml, "facturx")["valid"]
    crashed = worker._proc
    crashed.kill()
    crashed.wait()
    assert validate(xml, "facturx")["valid"]  # a new worker took over, compiling the rules again
    assert worker._proc is not crashed and worker._proc.poll() is None


def test_run_billing_reports_the_failed_rules_and_leaves_the_period_open(billed_org, monkeypatch):
    import io

    from django.core.management import CommandError, call_command
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: NOW)
    billed_org.einvoice_format = "xrechnung"  # without the buyer's electronic address (BT-49)
    billed_org.save()
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 organization"):
        call_command("run_billing", period="2026-10", no_pdf=True, stdout=io.StringIO(), stderr=err)
    assert f"{billed_org.account_number}: statement of {billed_org.account_number}" in err.getvalue()
    assert "PEPPOL-EN16931-R010 (xrechnung-cii)" in err.getvalue() and "not issued" in err.getvalue()
    assert not Statement.objects.filter(organization=billed_org).exists()  # the period stays open


def test_a_maintenance_purge_of_statements_takes_their_e_invoices(billed_org):
    from django.db import connection

    st = issue(billed_org)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL billing.allow_statement_delete = 'on'")
        for table in ("billing_statementline", "billing_statementbreakdown"):
            cursor.execute(f"DELETE FROM {table} WHERE statement_id = %s", [st.pk])  # noqa: S608
        cursor.execute("DELETE FROM billing_statement WHERE id = %s", [st.pk])
        cursor.execute("SELECT count(*) FROM billing_statementeinvoice WHERE statement_id = %s", [st.pk])
        assert cursor.fetchone() == (0,)  # the database cascaded (the raw purges know nothing of the table)
        transaction.set_rollback(True)  # its usage still names the statement: keep the fixture whole
