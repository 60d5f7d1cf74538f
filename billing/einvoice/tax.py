"""Tax identifiers and VAT categories in EN 16931 terms.

Identifiers are labelled by the country that issued them (a US EIN is not a VAT ID) and their format is
checked with python-stdnum (check digits included where the country has them)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from stdnum import get_cc_module
from stdnum.exceptions import ValidationError as StdnumError

from billing.money import money

# Countries whose VAT numbers stdnum checks through the EU VAT module (ISO code -> VAT prefix).
EU_VAT_PREFIX = {
    **{
        c: c
        for c in [
            "AT",
            "BE",
            "BG",
            "CY",
            "CZ",
            "DE",
            "DK",
            "EE",
            "ES",
            "FI",
            "FR",
            "HR",
            "HU",
            "IE",
            "IT",
            "LT",
            "LU",
            "LV",
            "MT",
            "NL",
            "PL",
            "PT",
            "RO",
            "SE",
            "SI",
            "SK",
        ]
    },
    "GR": "EL",
}

# Label of the tax identifier, by country (what the customer's own tax office calls it).
LABELS = {
    "US": "EIN",
    "GB": "VAT Reg. No.",
    "CH": "UID / MWST",
    "NO": "Org.nr. MVA",
    "AU": "ABN",
    "CA": "BN",
}


def tax_id_label(country: str) -> str:
    country = (country or "").upper()
    if country in LABELS:
        return LABELS[country]
    return "VAT ID" if country in EU_VAT_PREFIX else "Tax ID"


def normalized_tax_id(country: str, value: str) -> str:
    """The identifier without spaces, dots or dashes (an EU VAT ID keeps its country prefix)."""
    return "".join(ch for ch in (value or "") if ch.isalnum()).upper()


def tax_id_is_vat(country: str) -> bool:
    """Whether the identifier is a VAT identifier (EN 16931 BT-48, scheme VA) or only a tax registration."""
    return (country or "").upper() in EU_VAT_PREFIX or (country or "").upper() in {"GB", "CH", "NO"}


def tax_id_errors(organization) -> dict[str, str]:
    """What is wrong with an organization's tax identifier and VAT settings, by field."""
    errors: dict[str, str] = {}
    country = (organization.country or "").upper()
    value = normalized_tax_id(country, organization.vat_id)
    if value:
        label = tax_id_label(country)
        if country in EU_VAT_PREFIX:
            prefix = EU_VAT_PREFIX[country]
            if not value.startswith(prefix):
                errors["vat_id"] = f"A {label} of {country} starts with {prefix} (e.g. {prefix}123456789)"
            elif not _valid("eu.vat", value):
                errors["vat_id"] = (
                    f"{organization.vat_id!r} is not a valid {label} of {country} (format or check digit)"
                )
        elif country in {"US", "GB", "CH", "NO", "AU", "CA"}:
            module = {"US": "us.ein", "GB": "gb.vat", "CH": "ch.vat", "NO": "no.mva", "AU": "au.abn", "CA": "ca.bn"}
            if not _valid(module[country], value):
                errors["vat_id"] = f"{organization.vat_id!r} is not a valid {label} ({country})"
    category = organization.vat_category
    if category and category != "S" and organization.tax_rate:
        errors["tax_rate"] = f"VAT category {category} charges no VAT: the tax rate must be 0"
    if category == "S" and not organization.tax_rate:
        errors["tax_rate"] = "The standard rate needs a tax rate above 0"
    if category in {"AE", "E", "O"} and not organization.vat_exemption_reason.strip():
        errors["vat_exemption_reason"] = f"VAT category {category} needs the reason no VAT is charged"
    if category == "AE" and not value:
        errors["vat_id"] = "Reverse charge needs the customer's VAT ID"
    if organization.einvoice_format in {"peppol", "xrechnung"} and ":" not in (organization.einvoice_address or ""):
        errors["einvoice_address"] = (
            "Peppol and XRechnung need the customer's electronic address as scheme:id, e.g. 0208:0123456789"
        )
    return errors


def _valid(module: str, value: str) -> bool:
    try:
        get_cc_module(*module.split(".")).validate(value)
    except StdnumError:
        return False
    except Exception:  # a country module stdnum does not have: the format cannot be checked here
        return True
    return True


def default_exemption_reason(category: str) -> str:
    return {
        "AE": "Reverse charge",
        "E": "Exempt from VAT",
        "O": "Not subject to VAT",
        "Z": "",
        "S": "",
    }[category]


@dataclass(frozen=True)
class VatGroup:
    """One row of the VAT breakdown (BG-23): all lines of one category and rate."""

    category: str
    rate: Decimal  # a fraction, 0.19
    taxable: Decimal
    tax: Decimal


def vat_breakdown(lines, rate: Decimal, currency: str) -> list[VatGroup]:
    """The VAT breakdown of a statement's lines by category and rate: taxable amount = sum of the rounded
    line amounts, tax = taxable × rate rounded once, half-up (the statement's tax rule, per group)."""
    taxable: dict[tuple[str, Decimal], Decimal] = defaultdict(Decimal)
    for line in lines:
        category = line.vat_category or "S"
        line_rate = rate if category == "S" else Decimal(0)
        taxable[(category, line_rate)] += line.amount
    return [
        VatGroup(category, line_rate, amount, money(amount * line_rate, currency))
        for (category, line_rate), amount in sorted(taxable.items())
    ]
