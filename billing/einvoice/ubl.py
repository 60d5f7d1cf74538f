"""OASIS UBL 2.1 Invoice / CreditNote from EN 16931 terms, as Peppol BIS Billing 3.0 (customization and
profile identifiers BT-24 / BT-23). Element order follows the UBL 2.1 schemas, which check it."""

from __future__ import annotations

from lxml import etree

from billing.einvoice.cii import _amount, _percent, _quantity
from billing.einvoice.terms import PROCESS, Invoice, Party

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
ROOT = {
    "380": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "381": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}


def _el(parent, tag: str, text=None, **attrib):
    prefix, name = tag.split(":")
    ns = CBC if prefix == "cbc" else CAC
    node = etree.SubElement(parent, f"{{{ns}}}{name}", {k: v for k, v in attrib.items() if v})
    if text is not None:
        node.text = str(text)
    return node


def _party(parent, tag: str, party: Party) -> None:
    node = _el(_el(parent, tag), "cac:Party")
    if party.endpoint:
        scheme, value = party.endpoint
        _el(node, "cbc:EndpointID", value, schemeID=scheme)
    address = _el(node, "cac:PostalAddress")
    if party.address.street:
        _el(address, "cbc:StreetName", party.address.street)
    if party.address.city:
        _el(address, "cbc:CityName", party.address.city)
    if party.address.postcode:
        _el(address, "cbc:PostalZone", party.address.postcode)
    _el(_el(address, "cac:Country"), "cbc:IdentificationCode", party.address.country)
    for value, scheme in ((party.vat_id, "VAT"), (party.tax_registration, "FC")):
        if value:
            tax = _el(node, "cac:PartyTaxScheme")
            _el(tax, "cbc:CompanyID", value)
            _el(_el(tax, "cac:TaxScheme"), "cbc:ID", "VAT" if scheme == "VAT" else "TAX")
    legal = _el(node, "cac:PartyLegalEntity")
    _el(legal, "cbc:RegistrationName", party.name)
    if party.legal_id:
        _el(legal, "cbc:CompanyID", party.legal_id)
    if party.contact_name or party.contact_phone or party.contact_email:
        contact = _el(node, "cac:Contact")
        if party.contact_name:
            _el(contact, "cbc:Name", party.contact_name)
        if party.contact_phone:
            _el(contact, "cbc:Telephone", party.contact_phone)
        if party.contact_email:
            _el(contact, "cbc:ElectronicMail", party.contact_email)


def _category(parent, tag: str, category: str, rate, reason: str = "") -> None:
    node = _el(parent, tag)
    _el(node, "cbc:ID", category)
    if category != "O":
        _el(node, "cbc:Percent", _percent(rate))
    if reason:
        _el(node, "cbc:TaxExemptionReason", reason)
    _el(_el(node, "cac:TaxScheme"), "cbc:ID", "VAT")


def ubl_xml(inv: Invoice) -> bytes:
    credit = inv.type_code == "381"
    doc = "CreditNote" if credit else "Invoice"
    root = etree.Element(f"{{{ROOT[inv.type_code]}}}{doc}", nsmap={None: ROOT[inv.type_code], "cac": CAC, "cbc": CBC})
    _el(root, "cbc:CustomizationID", inv.specification)
    _el(root, "cbc:ProfileID", PROCESS)
    _el(root, "cbc:ID", inv.number)
    _el(root, "cbc:IssueDate", inv.issue_date.isoformat())
    if inv.due_date and not credit:
        _el(root, "cbc:DueDate", inv.due_date.isoformat())
    _el(root, f"cbc:{doc}TypeCode", inv.type_code)
    for note in inv.notes:
        _el(root, "cbc:Note", note)
    _el(root, "cbc:DocumentCurrencyCode", inv.currency)
    _el(root, "cbc:BuyerReference", inv.buyer_reference)
    period = _el(root, "cac:InvoicePeriod")
    _el(period, "cbc:StartDate", inv.period_start.isoformat())
    _el(period, "cbc:EndDate", inv.period_end.isoformat())
    _party(root, "cac:AccountingSupplierParty", inv.seller)
    _party(root, "cac:AccountingCustomerParty", inv.buyer)
    if inv.iban:
        means = _el(root, "cac:PaymentMeans")
        _el(means, "cbc:PaymentMeansCode", inv.payment_means)
        _el(means, "cbc:PaymentID", inv.remittance)
        account = _el(means, "cac:PayeeFinancialAccount")
        _el(account, "cbc:ID", inv.iban)
        _el(account, "cbc:Name", inv.account_name)
        if inv.bic:
            _el(_el(account, "cac:FinancialInstitutionBranch"), "cbc:ID", inv.bic)
    _el(_el(root, "cac:PaymentTerms"), "cbc:Note", inv.payment_terms)
    total = _el(root, "cac:TaxTotal")
    _el(total, "cbc:TaxAmount", _amount(inv.tax_total), currencyID=inv.currency)
    for row in inv.vat:
        sub = _el(total, "cac:TaxSubtotal")
        _el(sub, "cbc:TaxableAmount", _amount(row.taxable), currencyID=inv.currency)
        _el(sub, "cbc:TaxAmount", _amount(row.tax), currencyID=inv.currency)
        _category(sub, "cac:TaxCategory", row.category, row.rate, row.exemption_reason)
    money = _el(root, "cac:LegalMonetaryTotal")
    _el(money, "cbc:LineExtensionAmount", _amount(inv.line_total), currencyID=inv.currency)
    _el(money, "cbc:TaxExclusiveAmount", _amount(inv.tax_exclusive), currencyID=inv.currency)
    _el(money, "cbc:TaxInclusiveAmount", _amount(inv.tax_inclusive), currencyID=inv.currency)
    _el(money, "cbc:PayableAmount", _amount(inv.payable), currencyID=inv.currency)
    for line in inv.lines:
        node = _el(root, f"cac:{doc}Line")
        _el(node, "cbc:ID", line.id)
        _el(
            node,
            "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity",
            _quantity(line.quantity),
            unitCode=line.unit,
        )
        _el(node, "cbc:LineExtensionAmount", _amount(line.net_amount), currencyID=inv.currency)
        item = _el(node, "cac:Item")
        _el(item, "cbc:Name", line.name)
        _category(item, "cac:ClassifiedTaxCategory", line.vat_category, line.vat_rate)
        price = _el(node, "cac:Price")
        _el(price, "cbc:PriceAmount", _amount(line.price), currencyID=inv.currency)
        _el(price, "cbc:BaseQuantity", _quantity(line.base_quantity), unitCode=line.unit)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
