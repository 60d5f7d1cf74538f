"""A statement in EN 16931 business terms: one pure mapping that both syntaxes (CII and UBL) write.

Every field carries the business term it is (BT-n / BG-n); the README's mapping table lists them. Amounts
are the statement's, unchanged: each line as rounded on the statement, the VAT breakdown per category and
rate (tax = taxable × rate, rounded once, half-up, as the statement's tax), totals exactly as issued. The
previous balance is a note (BT-22), never part of the invoice's amounts. A statement whose total is
negative is a credit note (type 381) with the amounts' signs turned, as EN 16931 expects of a credit note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from billing.einvoice.tax import (
    default_exemption_reason,
    normalized_tax_id,
    tax_id_is_vat,
    vat_breakdown,
)
from billing.statements.payments import payment_reference

INVOICE, CREDIT_NOTE = "380", "381"

# UN/ECE Recommendation 20 unit codes of the statement's units (BT-130).
UNIT_CODES = {"min": "MIN", "MB": "4L", "msg": "C62", "days": "DAY", "": "C62"}

# Guideline (BT-24) and business process (BT-23) of each format.
SPECIFICATION = {
    "facturx": "urn:cen.eu:en16931:2017",
    "xrechnung": "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0",
    "peppol": "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0",
}
PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"

_POSTCODE_CITY = re.compile(r"^(?P<postcode>(?:[A-Z]{1,3}-)?\d[\d-]{1,9})\s+(?P<city>\D.*)$")
# Postcodes with letters, by country ("1012 LG Amsterdam"; "EC2A 2BR London").
_UK_POSTCODE = r"(?P<postcode>[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})"
_POSTCODE_CITY_BY_COUNTRY = {
    "NL": (re.compile(r"^(?P<postcode>\d{4} ?[A-Z]{2})\s+(?P<city>.+)$"),),
    "GB": (re.compile(rf"^(?P<city>\D+?),?\s+{_UK_POSTCODE}$"), re.compile(rf"^{_UK_POSTCODE}\s+(?P<city>.+)$")),
    "US": (re.compile(r"^(?P<city>[^,]+),\s*[A-Z]{2}\s+(?P<postcode>\d{5}(?:-\d{4})?)$"),),  # "New York, NY 10118"
}


@dataclass(frozen=True)
class Address:  # BG-5 seller / BG-8 buyer postal address
    street: str  # BT-35 / BT-50
    postcode: str  # BT-38 / BT-53
    city: str  # BT-37 / BT-52
    country: str  # BT-40 / BT-55


@dataclass(frozen=True)
class Party:  # BG-4 seller / BG-7 buyer
    name: str  # BT-27 / BT-44
    address: Address
    vat_id: str = ""  # BT-31 / BT-48 (VAT identifier, scheme VA)
    tax_registration: str = ""  # BT-32 (seller tax registration, scheme FC) — a buyer's EIN goes to BT-47 instead
    legal_id: str = ""  # BT-30 / BT-47
    endpoint: tuple[str, str] | None = None  # BT-34 / BT-49 electronic address (scheme, id)
    contact_name: str = ""  # BT-41
    contact_phone: str = ""  # BT-42
    contact_email: str = ""  # BT-43


@dataclass(frozen=True)
class InvoiceLine:  # BG-25
    id: str  # BT-126
    name: str  # BT-153
    quantity: Decimal  # BT-129
    unit: str  # BT-130
    net_amount: Decimal  # BT-131
    price: Decimal  # BT-146 (net price per base quantity)
    base_quantity: Decimal  # BT-149
    vat_category: str  # BT-151
    vat_rate: Decimal  # BT-152, a fraction


@dataclass(frozen=True)
class VatRow:  # BG-23
    category: str  # BT-118
    rate: Decimal  # BT-119, a fraction
    taxable: Decimal  # BT-116
    tax: Decimal  # BT-117
    exemption_reason: str = ""  # BT-120


@dataclass(frozen=True)
class Invoice:
    format: str
    number: str  # BT-1
    issue_date: date  # BT-2
    type_code: str  # BT-3
    currency: str  # BT-5
    due_date: date | None  # BT-9
    buyer_reference: str  # BT-10
    specification: str  # BT-24
    period_start: date  # BT-73
    period_end: date  # BT-74
    seller: Party
    buyer: Party
    lines: list[InvoiceLine]
    vat: list[VatRow]
    line_total: Decimal  # BT-106
    tax_exclusive: Decimal  # BT-109
    tax_total: Decimal  # BT-110
    tax_inclusive: Decimal  # BT-112
    payable: Decimal  # BT-115
    payment_means: str  # BT-81 (58 SEPA credit transfer, 30 credit transfer)
    remittance: str  # BT-83
    iban: str  # BT-84
    account_name: str  # BT-85
    bic: str  # BT-86
    payment_terms: str  # BT-20
    notes: list[str] = field(default_factory=list)  # BT-22


def parse_address(text: str, country: str) -> Address:
    """A free-form billing address: street first, then a 'postcode city' line (a last line naming the country
    is ignored). Whatever is missing stays empty, and the rules say so when a format needs it."""
    rows = [r.strip() for r in (text or "").splitlines() if r.strip()]
    postcode = city = ""
    patterns = _POSTCODE_CITY_BY_COUNTRY.get(country.upper(), (_POSTCODE_CITY,))
    for i in range(len(rows) - 1, -1, -1):
        match = next((m for m in (p.match(rows[i]) for p in patterns) if m), None)
        if match:
            postcode, city = match["postcode"].strip(), match["city"].strip()
            rows = rows[:i]
            break
    return Address(street=rows[0] if rows else "", postcode=postcode, city=city, country=country.upper())


def invoice_terms(*, statement, lines, organization, provider: dict, format: str) -> Invoice:
    """The EN 16931 invoice of an issued (or being issued) statement and its lines."""
    currency = statement.currency
    credit = statement.total < 0
    sign = Decimal(-1) if credit else Decimal(1)
    category = organization.effective_vat_category
    reason = organization.vat_exemption_reason.strip() or default_exemption_reason(category)
    groups = vat_breakdown(lines, statement.tax_rate, currency)
    if len(groups) == 1:  # the statement's own tax: its subtotal × rate, rounded once
        groups[0] = type(groups[0])(groups[0].category, groups[0].rate, statement.subtotal, statement.tax_amount)

    invoice_lines = []
    for line in lines:
        amount = line.amount * sign
        quantity = line.quantity * sign
        unit = UNIT_CODES.get(line.unit, "C62")
        if quantity == 0 or (amount != 0 and (amount < 0) != (quantity < 0)):
            # No quantity (an adjustment) or one whose sign disagrees with the amount: one unit at the price.
            quantity, unit = (Decimal(-1) if amount < 0 else Decimal(1)), "C62"
        # The price is given per the line's whole quantity (BT-149 = |BT-129|), so quantity × price equals the
        # line amount exactly: the statement rounded the line once, and a unit price would round it again.
        invoice_lines.append(
            InvoiceLine(
                id=str(line.position),
                name=line.description,
                quantity=quantity,
                unit=unit,
                net_amount=amount,
                price=abs(amount),
                base_quantity=abs(quantity),
                vat_category=line.vat_category or category,
                vat_rate=statement.tax_rate if (line.vat_category or category) == "S" else Decimal(0),
            )
        )

    vat_rows = [
        VatRow(g.category, g.rate, g.taxable * sign, g.tax * sign, "" if g.category in ("S", "Z") else reason)
        for g in groups
    ]
    country = (organization.country or "").upper()
    buyer_tax = normalized_tax_id(country, organization.vat_id)
    outside = category == "O"  # BR-O-02: no VAT identifiers on an invoice outside the scope of VAT
    buyer = Party(
        name=organization.name,
        address=parse_address(organization.billing_address, country),
        vat_id="" if outside or not tax_id_is_vat(country) else buyer_tax,
        legal_id=buyer_tax if buyer_tax and not tax_id_is_vat(country) else "",
        endpoint=tuple(organization.einvoice_address.split(":", 1))
        if ":" in (organization.einvoice_address or "")
        else None,
    )
    seller = Party(
        name=provider["name"],
        address=Address(provider["street"], provider["postcode"], provider["city"], provider["country"].upper()),
        vat_id="" if outside else provider["vat_number"],
        tax_registration=provider["vat_number"] if outside else "",
        legal_id=provider.get("registration", ""),
        endpoint=("EM", provider["email"]),
        contact_name=provider.get("contact", "") or provider["name"],
        contact_phone=provider.get("phone", ""),
        contact_email=provider["email"],
    )
    issue_date = statement.issued_at.astimezone(organization.tz).date()
    notes = []
    if statement.previous_balance:
        notes.append(
            f"Previous balance (unpaid earlier statements): {currency} {statement.previous_balance:.2f}. "
            "It is not part of this invoice's amounts."
        )
    # BT-83: the RF creditor reference the PDF asks the payer to quote (billing.statements.payments).
    remittance = payment_reference(statement)
    terms = f"Payable within {organization.payment_terms_days} days"
    if statement.due_date:
        terms += f", by {statement.due_date.isoformat()}"
    terms += f", quoting {remittance}."
    return Invoice(
        format=format,
        number=statement.number,
        issue_date=issue_date,
        type_code=CREDIT_NOTE if credit else INVOICE,
        currency=currency,
        due_date=statement.due_date,
        buyer_reference=organization.buyer_reference or organization.account_number,
        specification=SPECIFICATION[format],
        period_start=statement.period_start,
        period_end=statement.period_end,
        seller=seller,
        buyer=buyer,
        lines=invoice_lines,
        vat=vat_rows,
        line_total=statement.subtotal * sign,
        tax_exclusive=statement.subtotal * sign,
        tax_total=statement.tax_amount * sign,
        tax_inclusive=statement.total * sign,
        payable=statement.total * sign,
        payment_means="58" if currency == "EUR" else "30",
        remittance=remittance,
        iban=provider.get("iban", ""),
        account_name=provider["name"],
        bic=provider.get("bic", ""),
        payment_terms=terms,
        notes=notes,
    )
