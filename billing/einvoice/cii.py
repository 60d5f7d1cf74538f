"""UN/CEFACT Cross Industry Invoice (CII D16B) from EN 16931 terms: Factur-X/ZUGFeRD profile EN 16931 and
XRechnung (the same syntax; only the specification identifier BT-24 differs). Element order follows the
D16B schema, which checks it."""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from billing.einvoice.terms import Invoice, Party

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NSMAP = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}


def _el(parent, tag: str, text=None, **attrib):
    prefix, name = tag.split(":")
    node = etree.SubElement(parent, f"{{{NSMAP[prefix]}}}{name}", {k: v for k, v in attrib.items() if v})
    if text is not None:
        node.text = str(text)
    return node


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def _quantity(value: Decimal) -> str:
    return f"{value.normalize():f}" if value == value.to_integral() else f"{value:f}".rstrip("0").rstrip(".")


def _percent(rate: Decimal) -> str:
    return f"{rate * 100:.2f}"


def _date(parent, tag: str, value) -> None:
    holder = _el(parent, tag)
    _el(holder, "udt:DateTimeString", value.strftime("%Y%m%d"), format="102")


def _party(parent, tag: str, party: Party, *, seller: bool) -> None:
    node = _el(parent, tag)
    _el(node, "ram:Name", party.name)
    if party.legal_id:
        legal = _el(node, "ram:SpecifiedLegalOrganization")
        _el(legal, "ram:ID", party.legal_id)
    if party.contact_name or party.contact_phone or party.contact_email:
        contact = _el(node, "ram:DefinedTradeContact")
        if party.contact_name:
            _el(contact, "ram:PersonName", party.contact_name)
        if party.contact_phone:
            _el(_el(contact, "ram:TelephoneUniversalCommunication"), "ram:CompleteNumber", party.contact_phone)
        if party.contact_email:
            _el(_el(contact, "ram:EmailURIUniversalCommunication"), "ram:URIID", party.contact_email)
    address = _el(node, "ram:PostalTradeAddress")
    if party.address.postcode:
        _el(address, "ram:PostcodeCode", party.address.postcode)
    if party.address.street:
        _el(address, "ram:LineOne", party.address.street)
    if party.address.city:
        _el(address, "ram:CityName", party.address.city)
    _el(address, "ram:CountryID", party.address.country)
    if party.endpoint:
        scheme, value = party.endpoint
        _el(_el(node, "ram:URIUniversalCommunication"), "ram:URIID", value, schemeID=scheme)
    if party.vat_id:
        _el(_el(node, "ram:SpecifiedTaxRegistration"), "ram:ID", party.vat_id, schemeID="VA")
    if seller and party.tax_registration:
        _el(_el(node, "ram:SpecifiedTaxRegistration"), "ram:ID", party.tax_registration, schemeID="FC")


def cii_xml(inv: Invoice) -> bytes:
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)
    context = _el(root, "rsm:ExchangedDocumentContext")
    if inv.format == "xrechnung":
        _el(
            _el(context, "ram:BusinessProcessSpecifiedDocumentContextParameter"),
            "ram:ID",
            "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0",
        )
    _el(_el(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", inv.specification)

    document = _el(root, "rsm:ExchangedDocument")
    _el(document, "ram:ID", inv.number)
    _el(document, "ram:TypeCode", inv.type_code)
    _date(document, "ram:IssueDateTime", inv.issue_date)
    for note in inv.notes:
        _el(_el(document, "ram:IncludedNote"), "ram:Content", note)

    transaction = _el(root, "rsm:SupplyChainTradeTransaction")
    for line in inv.lines:
        item = _el(transaction, "ram:IncludedSupplyChainTradeLineItem")
        _el(_el(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", line.id)
        _el(_el(item, "ram:SpecifiedTradeProduct"), "ram:Name", line.name)
        price = _el(_el(item, "ram:SpecifiedLineTradeAgreement"), "ram:NetPriceProductTradePrice")
        _el(price, "ram:ChargeAmount", _amount(line.price))
        _el(price, "ram:BasisQuantity", _quantity(line.base_quantity), unitCode=line.unit)
        _el(
            _el(item, "ram:SpecifiedLineTradeDelivery"),
            "ram:BilledQuantity",
            _quantity(line.quantity),
            unitCode=line.unit,
        )
        settlement = _el(item, "ram:SpecifiedLineTradeSettlement")
        tax = _el(settlement, "ram:ApplicableTradeTax")
        _el(tax, "ram:TypeCode", "VAT")
        _el(tax, "ram:CategoryCode", line.vat_category)
        if line.vat_category != "O":
            _el(tax, "ram:RateApplicablePercent", _percent(line.vat_rate))
        summation = _el(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
        _el(summation, "ram:LineTotalAmount", _amount(line.net_amount))

    agreement = _el(transaction, "ram:ApplicableHeaderTradeAgreement")
    _el(agreement, "ram:BuyerReference", inv.buyer_reference)
    _party(agreement, "ram:SellerTradeParty", inv.seller, seller=True)
    _party(agreement, "ram:BuyerTradeParty", inv.buyer, seller=False)
    _el(transaction, "ram:ApplicableHeaderTradeDelivery")

    settlement = _el(transaction, "ram:ApplicableHeaderTradeSettlement")
    _el(settlement, "ram:PaymentReference", inv.remittance)
    _el(settlement, "ram:InvoiceCurrencyCode", inv.currency)
    if inv.iban:
        means = _el(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
        _el(means, "ram:TypeCode", inv.payment_means)
        account = _el(means, "ram:PayeePartyCreditorFinancialAccount")
        _el(account, "ram:IBANID", inv.iban)
        _el(account, "ram:AccountName", inv.account_name)
        if inv.bic:
            _el(_el(means, "ram:PayeeSpecifiedCreditorFinancialInstitution"), "ram:BICID", inv.bic)
    for row in inv.vat:
        tax = _el(settlement, "ram:ApplicableTradeTax")
        _el(tax, "ram:CalculatedAmount", _amount(row.tax))
        _el(tax, "ram:TypeCode", "VAT")
        if row.exemption_reason:
            _el(tax, "ram:ExemptionReason", row.exemption_reason)
        _el(tax, "ram:BasisAmount", _amount(row.taxable))
        _el(tax, "ram:CategoryCode", row.category)
        if row.category != "O":
            _el(tax, "ram:RateApplicablePercent", _percent(row.rate))
    period = _el(settlement, "ram:BillingSpecifiedPeriod")
    _date(period, "ram:StartDateTime", inv.period_start)
    _date(period, "ram:EndDateTime", inv.period_end)
    terms = _el(settlement, "ram:SpecifiedTradePaymentTerms")
    _el(terms, "ram:Description", inv.payment_terms)
    if inv.due_date and inv.type_code == "380":
        _date(terms, "ram:DueDateDateTime", inv.due_date)
    totals = _el(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _el(totals, "ram:LineTotalAmount", _amount(inv.line_total))
    _el(totals, "ram:TaxBasisTotalAmount", _amount(inv.tax_exclusive))
    _el(totals, "ram:TaxTotalAmount", _amount(inv.tax_total), currencyID=inv.currency)
    _el(totals, "ram:GrandTotalAmount", _amount(inv.tax_inclusive))
    _el(totals, "ram:DuePayableAmount", _amount(inv.payable))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
