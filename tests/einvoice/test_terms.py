"""The pure parts of the e-invoice: billing addresses read into EN 16931 address terms, the VAT breakdown."""

from decimal import Decimal as D
from types import SimpleNamespace

import pytest

from billing.einvoice.tax import vat_breakdown
from billing.einvoice.terms import parse_address


@pytest.mark.parametrize(
    ("text", "country", "street", "postcode", "city"),
    [
        ("Mönckebergstraße 7\n20095 Hamburg\nDeutschland", "DE", "Mönckebergstraße 7", "20095", "Hamburg"),
        ("Damrak 1\n1012 LG Amsterdam", "NL", "Damrak 1", "1012 LG", "Amsterdam"),
        ("12 rue de la Paix\n75002 Paris", "FR", "12 rue de la Paix", "75002", "Paris"),
        ("1 Exchange Square\nLondon EC2A 2BR", "GB", "1 Exchange Square", "EC2A 2BR", "London"),
        (
            "350 Fifth Avenue, Suite 4100\nNew York, NY 10118\nUSA",
            "US",
            "350 Fifth Avenue, Suite 4100",
            "10118",
            "New York",
        ),
        ("", "BE", "", "", ""),
    ],
)
def test_billing_address_to_business_terms(text, country, street, postcode, city):
    address = parse_address(text, country)
    assert (address.street, address.postcode, address.city, address.country) == (street, postcode, city, country)


def test_vat_breakdown_per_category_and_rate_rounds_each_group_once():
    lines = [
        SimpleNamespace(vat_category="S", amount=D("10.01")),
        SimpleNamespace(vat_category="S", amount=D("10.01")),
        SimpleNamespace(vat_category="E", amount=D("5.00")),
    ]
    rows = vat_breakdown(lines, D("0.19"), "EUR")
    assert [(r.category, r.rate, r.taxable, r.tax) for r in rows] == [
        ("E", D("0"), D("5.00"), D("0.00")),
        ("S", D("0.19"), D("20.02"), D("3.80")),  # 3.8038 rounded once, not 1.90 + 1.90
    ]
