"""The money rules: amounts are Decimal; rated amounts keep 6 decimal places; what a customer is charged
is rounded once, half-up, to the currency's minor unit (ISO 4217, from Babel's CLDR data: 2 for EUR,
0 for JPY, 3 for BHD)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel.numbers import get_currency_precision

SIX_PLACES = Decimal("0.000001")


@lru_cache(maxsize=256)
def minor_unit(currency: str) -> Decimal:
    """The smallest amount of the currency: Decimal("0.01") for EUR."""
    return Decimal(1).scaleb(-get_currency_precision(currency))


def money(amount: Decimal, currency: str) -> Decimal:
    """Round once, half-up, to the currency's minor unit."""
    return amount.quantize(minor_unit(currency), ROUND_HALF_UP)


def exact(amount: Decimal) -> Decimal:
    """A rated amount as stored: 6 decimal places, half-up."""
    return amount.quantize(SIX_PLACES, ROUND_HALF_UP)
