"""Phone numbers: normalizing to E.164, classifying destinations, masking for display.

Classification is by number prefix with Google's libphonenumber metadata (the ``phonenumbers``
package): country, number type (toll-free, premium, mobile, fixed) and, for fixed numbers in the
caller's own country, whether the call stays in the caller's area code (local) or not (national).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType

from billing.models.choices import Category

# International zones used by plans and offers. Countries not listed are "ROW" (rest of world).
EU_COUNTRIES = set(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
        "CH",
        "GB",
    ]
)
NORTH_AMERICA = {"US", "CA", "PR"}
APAC = set(["AU", "NZ", "JP", "KR", "CN", "HK", "SG", "TW", "IN", "ID", "MY", "PH", "TH", "VN"])
INTERNAL_MAX_DIGITS = 6  # PBX extensions: short numbers without a prefix

_non_digits = re.compile(r"[^\d+]")


def zone_for_country(country: str) -> str:
    if country in EU_COUNTRIES:
        return "EU"
    if country in NORTH_AMERICA:
        return "NA"
    if country in APAC:
        return "APAC"
    return "ROW"


@dataclass(frozen=True, slots=True)
class DialPlan:
    """How a phone system's users dial: read before any number of that system is interpreted.

    ``None`` for a prefix means "the country's own" (libphonenumber's metadata: ``00`` in Europe,
    ``011`` in North America; national prefix ``0`` in DE/GB/NL/FR, ``1`` in the US).
    """

    country: str  # ISO 3166 alpha-2 of the PBX's users (numbers without a prefix are read there)
    outside_prefix: str = ""  # the digit(s) dialled for an outside line ("0", "9"), stripped first when present
    international_prefix: str | None = None
    national_prefix: str | None = None
    extension_lengths: tuple[int, ...] = ()  # lengths of internal extensions; () = up to INTERNAL_MAX_DIGITS


@dataclass(frozen=True, slots=True)
class Destination:
    number: str  # E.164 when it could be parsed, else the digits as dialled
    category: str
    country: str  # ISO 3166 alpha-2, "" when unknown
    zone: str  # international zone, "" for domestic and internal calls
    masked: str


def _parse(raw: str, region: str):
    digits = _non_digits.sub("", raw or "")
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if not digits or len(digits.lstrip("+")) < 3:
        return digits, None
    try:
        parsed = phonenumbers.parse(digits, None if digits.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return digits, None
    return digits, parsed


@lru_cache(maxsize=65536)
def normalize(raw: str, region: str, dialplan: DialPlan | None = None) -> str | None:
    """E.164 form of a dialled number read in ``region``, or None when it is not a valid number.
    (``dialplan``: accepted, not yet read: the dial-plan work of issue 14 item 8 reads it.)"""
    _digits, parsed = _parse(raw, region)
    if parsed is None or not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _area_prefix(parsed) -> str:
    national = phonenumbers.national_significant_number(parsed)
    length = phonenumbers.length_of_geographical_area_code(parsed)
    return f"{parsed.country_code}:{national[:length]}" if length else ""


@lru_cache(maxsize=65536)
def _own_area(own_number: str, region: str) -> str:
    own = _parse(own_number, region)[1]
    return _area_prefix(own) if own is not None else ""


@lru_cache(maxsize=262144)
def _destination(dialled: str, region: str) -> tuple[Destination, str]:
    """Everything about a dialled number that does not depend on who called it, plus its area prefix."""
    digits, parsed = _parse(dialled, region)
    bare = digits.lstrip("+")
    if not digits.startswith("+") and 0 < len(bare) <= INTERNAL_MAX_DIGITS:
        return Destination(bare, Category.INTERNAL, region, "", mask(bare)), ""
    if parsed is None or not phonenumbers.is_possible_number(parsed):
        return Destination(digits, Category.OTHER, "", "", mask(digits)), ""
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    country = phonenumbers.region_code_for_number(parsed) or ""
    number_type = phonenumbers.number_type(parsed)
    if number_type == PhoneNumberType.TOLL_FREE:
        category = Category.TOLL_FREE
    elif number_type in (PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST):
        category = Category.PREMIUM
    elif country and country != region:
        category = Category.INTERNATIONAL
    elif number_type == PhoneNumberType.MOBILE:
        category = Category.MOBILE
    else:
        return Destination(e164, Category.NATIONAL, country, "", mask(e164)), _area_prefix(parsed)
    zone = zone_for_country(country) if category == Category.INTERNATIONAL else ""
    return Destination(e164, category, country, zone, mask(e164)), ""


def classify(dialled: str, own_number: str, region: str, dialplan: DialPlan | None = None) -> Destination:
    """Classify the other party of a call made from (or to) ``own_number`` in country ``region``.

    A fixed number in the caller's own area code is local, elsewhere in the country national.
    """
    destination, area = _destination(dialled, region)
    if area and area == _own_area(own_number, region):
        return Destination(destination.number, Category.LOCAL, destination.country, "", destination.masked)
    return destination


@lru_cache(maxsize=262144)
def mask(number: str) -> str:
    """Hide the subscriber part of a number: ``+49 30 ••••• 12``.

    Keeps the country code and area code (so a purchasing department still sees where a call went)
    and the last two digits; short internal extensions keep their last digit only.
    """
    if not number:
        return ""
    digits = number.lstrip("+")
    if not number.startswith("+"):
        return "•" * max(len(digits) - 1, 0) + digits[-1:]
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return "+" + "•" * max(len(digits) - 2, 0) + digits[-2:]
    national = phonenumbers.national_significant_number(parsed)
    area = phonenumbers.length_of_geographical_area_code(parsed) or phonenumbers.length_of_national_destination_code(
        parsed
    )
    area = min(area, max(len(national) - 4, 0))
    head, rest = national[:area], national[area:]
    hidden = "•" * max(len(rest) - 2, 1)
    parts = [f"+{parsed.country_code}"] + ([head] if head else []) + [hidden, rest[-2:]]
    return " ".join(parts)
