"""Phone numbers: reading dialled digits by a dial plan, normalizing to E.164, classifying destinations,
masking for display. The reading order is the README's "How dialled numbers are read"; the dial plan
read by, with each country's prefixes, is ``billing.dialplan``.

Classification is by number prefix with Google's libphonenumber metadata (the ``phonenumbers``
package): country, number type (toll-free, premium, mobile, fixed) and, for fixed numbers in the
caller's own country, whether the call stays in the caller's area code (local) or not (national).
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass, replace
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType, shortnumberinfo

from billing.dialplan import LOCAL_NUMBER_LENGTHS, DialPlan, Rules, plan_for, rules_of
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


def zone_for_country(country: str) -> str:
    if country in EU_COUNTRIES:
        return "EU"
    if country in NORTH_AMERICA:
        return "NA"
    if country in APAC:
        return "APAC"
    return "ROW"


@dataclass(frozen=True, slots=True)
class Destination:
    number: str  # E.164 when it could be parsed, else the digits as dialled
    category: str
    country: str  # ISO 3166 alpha-2, "" when unknown
    zone: str  # international zone, "" for domestic and internal calls
    masked: str


# Formatting people and systems put into numbers: spaces, dashes, dots, parentheses, slashes (030/901820).
_FORMATTING = re.compile(r"[\s\-.()/\u00a0\u2010-\u2015]")
_TRUNK_ZERO = re.compile(r"^(\+\d{1,3})\s*\(0\)")  # "+49 (0)30 901820": the (0) is not dialled from abroad
_NOT_DIALLED = re.compile(r"[^0-9+*#]")
_URI_SCHEMES = ("tel:", "sip:", "sips:")


@lru_cache(maxsize=262144)
def _clean(raw: str) -> str:
    """The dialled characters of a party: the user part of a URI, without formatting."""
    text = (raw or "").strip()
    if "<" in text:  # '"Name" <sip:1001@pbx>', '"Anna" <201>'
        text = text[text.index("<") + 1 :].split(">", 1)[0].strip()
    lowered = text.lower()
    for scheme in _URI_SCHEMES:
        if lowered.startswith(scheme):
            text = text[len(scheme) :]
            break
    text = text.split("@", 1)[0].split(";", 1)[0]
    text = _TRUNK_ZERO.sub(r"\1", text)
    return _FORMATTING.sub("", text)


@lru_cache(maxsize=262144)
def _facts(number: str):
    """(parsed, region, number type, E.164) of a "+" number, worked out once: libphonenumber's type and
    region matching is the costly part of reading a number."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(parsed)
    kind = phonenumbers.number_type(parsed)
    return parsed, region, kind, phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _valid_e164(number: str) -> str | None:
    """E.164 of a "+" number that libphonenumber knows as valid (its prefix is a range in use)."""
    facts = _facts(number)
    # is_valid_number is exactly "some region's pattern matches and gives a known type".
    if facts is None or facts[1] is None or facts[2] == PhoneNumberType.UNKNOWN:
        return None
    return facts[3]


def _valid(digits: str) -> str | None:
    """``+digits`` when it is a valid number exactly as written (no digit dropped or added by the parser)."""
    if not digits or digits[0] == "0":
        return None
    e164 = _valid_e164("+" + digits)
    return e164 if e164 == "+" + digits else None


def _local(digits: str, rules: Rules, own_area: tuple[int, str] | None) -> str | None:
    """A subscriber number dialled without the area code, in the area of the caller's own line."""
    if not rules.local or own_area is None or own_area[0] != rules.country_code:
        return None
    if len(digits) not in LOCAL_NUMBER_LENGTHS or digits.startswith(rules.national):
        return None
    return _valid(f"{rules.country_code}{own_area[1]}{digits}")


def _full_number(digits: str, rules: Rules, own_area: tuple[int, str] | None) -> str | None:
    """A complete number: international prefix, national prefix, national number, or E.164 without "+"."""
    if rules.international is not None:
        match = rules.international.match(digits)
        if match and match.end() and (found := _valid(digits[match.end() :])):
            return found
    if rules.national and digits.startswith(rules.national):
        rest = digits[len(rules.national) :]
        if rest and not rest.startswith(rules.national) and (found := _valid(f"{rules.country_code}{rest}")):
            return found
    if rules.national_without_prefix and (found := _valid(f"{rules.country_code}{digits}")):
        return found
    # E.164 digits without "+" ("12125550123" on a Dutch line): only where no reading in the dial plan's
    # country is valid, so that a national or local number is never taken for a foreign one.
    if (found := _valid(digits)) and _local(digits, rules, own_area) is None:
        return found
    return None


def _possible_full_number(digits: str, rules: Rules) -> str | None:
    """A number with an explicit prefix that libphonenumber does not list as valid but that has the length of a
    fixed or mobile number there (new ranges, fictional ones such as Ofcom's 07700 900xxx): the prefix says
    what it is."""
    rest = ""
    if rules.international is not None and (match := rules.international.match(digits)) and match.end():
        rest = digits[match.end() :]
    elif rules.national and digits.startswith(rules.national):
        rest = digits[len(rules.national) :]
        rest = "" if rest.startswith(rules.national) else f"{rules.country_code}{rest}"
    return _full_length(rest) if rest and rest[0] != "0" else None


@lru_cache(maxsize=65536)
def _full_length(digits: str) -> str | None:
    facts = _facts("+" + digits)
    if facts is None:
        return None
    parsed = facts[0]
    possible = phonenumbers.ValidationResult.IS_POSSIBLE  # not IS_POSSIBLE_LOCAL_ONLY: that lacks the area code
    if all(phonenumbers.is_possible_number_for_type_with_reason(parsed, kind) != possible for kind in _FULL_TYPES):
        return None
    return facts[3]


_FULL_TYPES = (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE)


@lru_cache(maxsize=4096)
def _service(digits: str, country: str) -> str | None:
    """The category of a short service number of ``country``, or None when it is not one.

    Emergency numbers (112, 911, 999, 110, 15, 17, 18) and free services (116xxx, 988) are toll-free,
    premium short numbers (FR 118xxx, 3949) premium, other service numbers (411, 11833, 101) ``other``.
    """
    if not country or not digits.isdigit():
        return None
    if shortnumberinfo.is_emergency_number(digits, country):
        return Category.TOLL_FREE
    try:
        parsed = phonenumbers.parse(digits, country)
    except phonenumbers.NumberParseException:
        return None
    if not shortnumberinfo.is_valid_short_number_for_region(parsed, country):
        return None
    cost = shortnumberinfo.expected_cost_for_region(parsed, country)
    if cost == shortnumberinfo.ShortNumberCost.TOLL_FREE:
        return Category.TOLL_FREE
    if cost == shortnumberinfo.ShortNumberCost.PREMIUM_RATE:
        return Category.PREMIUM
    return Category.OTHER


def _external(digits: str, rules: Rules, own_area) -> tuple[str, str] | None:
    """What follows an outside-line prefix, when it is a valid external number."""
    if found := _full_number(digits, rules, own_area):
        return "number", found
    if _service(digits, rules.country):
        return "service", digits
    if found := _local(digits, rules, own_area):
        return "number", found
    return None


def _digits_only(text: str) -> bool:
    return text.isascii() and text.isdigit()  # str.isdigit alone takes "²" or Arabic-Indic digits


def _read(text: str, rules: Rules, own_area: tuple[int, str] | None) -> tuple[str, str]:
    """(what, number) of cleaned dialled characters: what is "number" (number is E.164), "internal",
    "service" (a short number of the dial plan's country) or "other" (garbage: number is what was dialled).

    The order is the README's "How dialled numbers are read".
    """
    if text.startswith("+"):
        # Valid, or of the length of a fixed or mobile number of that country (a range libphonenumber
        # does not list yet): "+" says it is complete, but "+44 20 7946" is not.
        found = (_valid_e164(text) or _full_length(text[1:])) if _digits_only(text[1:]) else None
        return ("number", found) if found else ("other", _NOT_DIALLED.sub("", text))
    if not _digits_only(text):
        return "other", _NOT_DIALLED.sub("", text)
    if rules.country and shortnumberinfo.is_emergency_number(text, rules.country):
        return "service", text
    outside = rules.outside
    if outside and text.startswith(outside) and (found := _external(text[len(outside) :], rules, own_area)):
        return found
    if rules.country_code and (found := _full_number(text, rules, own_area)):
        return "number", found
    if not rules.country_code and (found := _valid(text)):
        return "number", found
    if len(text) in rules.extension_lengths:
        return "internal", text
    if rules.country_code and (found := _possible_full_number(text, rules)):
        return "number", found
    if _service(text, rules.country):
        return "service", text
    if found := _local(text, rules, own_area):
        return "number", found
    return "other", text


def _country_of(parsed, region: str | None) -> str:
    if region and region != phonenumbers.UNKNOWN_REGION and region != "001":
        return region
    # A number libphonenumber cannot place precisely (not valid, or a range it does not list) still
    # belongs to the main country of its calling code, unless the code is a non-geographic one.
    main = phonenumbers.region_code_for_country_code(parsed.country_code)
    return "" if main in (phonenumbers.UNKNOWN_REGION, "001") else main


def _area(parsed) -> tuple[int, str] | None:
    national = phonenumbers.national_significant_number(parsed)
    length = phonenumbers.length_of_geographical_area_code(parsed)
    return (parsed.country_code, national[:length]) if length else None


def _in_area(parsed, area: tuple[int, str] | None) -> bool:
    """Whether a number is in the geographic area ``area``; the cheap prefix test first."""
    if area is None or parsed.country_code != area[0]:
        return False
    if not phonenumbers.national_significant_number(parsed).startswith(area[1]):
        return False
    return _area(parsed) == area


@lru_cache(maxsize=65536)
def _own_area(own_number: str, region: str) -> tuple[int, str] | None:
    """(calling code, area code) of the caller's own line, None when it has no geographic area code."""
    try:
        own = phonenumbers.parse((own_number or "").strip(), region or None)
    except phonenumbers.NumberParseException:
        return None
    return _area(own)


@lru_cache(maxsize=262144)
def _destination(dialled: str, plan: DialPlan, region: str, own_area: tuple[int, str] | None) -> Destination:
    rules = rules_of(plan)
    what, number = _read(_clean(dialled), rules, own_area)
    if what == "internal":
        return Destination(number, Category.INTERNAL, region, "", mask(number))
    if what == "other":
        return Destination(number, Category.OTHER, "", "", mask(number))
    if what == "service":  # emergency and free services toll-free, premium ones premium, others other
        return Destination(number, _service(number, rules.country), rules.country, "", mask(number))
    parsed, number_region, number_type, _ = _facts(number)
    country = _country_of(parsed, number_region)
    if number_type == PhoneNumberType.TOLL_FREE:
        category = Category.TOLL_FREE
    elif number_type in (PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST):
        category = Category.PREMIUM
    elif country and country != region:
        category = Category.INTERNATIONAL
    elif number_type == PhoneNumberType.MOBILE:
        category = Category.MOBILE
    else:
        category = Category.LOCAL if _in_area(parsed, own_area) else Category.NATIONAL
        return Destination(number, category, country, "", mask(number))
    zone = zone_for_country(country) if category == Category.INTERNATIONAL else ""
    return Destination(number, category, country, zone, mask(number))


@lru_cache(maxsize=65536)
def normalize(raw: str, region: str, dialplan: DialPlan | None = None) -> str | None:
    """E.164 form of a number read by ``dialplan`` (default: the plan of ``region``), or None when it is
    not a complete external number (an extension, a service number, a local number, garbage).

    Reads as ``classify`` does, but without a caller's line, so digits without an area code are not local
    numbers here. For a DID or an inbound caller id pass ``dialplan.for_inbound()``.
    """
    what, number = _read(_clean(raw), rules_of(plan_for(dialplan, region)), None)
    return number if what == "number" else None


@lru_cache(maxsize=262144)
def classify(dialled: str, own_number: str, region: str, dialplan: DialPlan | None = None) -> Destination:
    """Classify the other party of a call made from (or to) ``own_number`` in country ``region``.

    ``dialled`` is read by ``dialplan`` (default: the plan of ``region``; for the caller of an inbound
    call pass ``dialplan.for_inbound()``). A fixed number in the caller's own area code is local,
    elsewhere in the country national; ``region`` is the organization's country, the one "international"
    is measured from. Cached per call, and below that the reading per (digits, plan, region, caller's
    area code), so that the lines of one area share it.
    """
    plan = plan_for(dialplan, region)
    return _destination(dialled, plan, region, _own_area(own_number, plan.country))


def caller_area(own_number: str, region: str, dialplan: DialPlan | None = None) -> tuple[int, str] | None:
    """What ``classify`` needs of the caller's line: its calling code and area code (``None`` without a
    geographic one). Lines that share it get the same classification of one dialled number."""
    return _own_area(own_number, plan_for(dialplan, region).country)


def is_own_line(destination: Destination, own_numbers: Container[str]) -> bool:
    """Whether the other party of a call is one of the organization's own lines (``own_numbers``: E.164)."""
    return destination.number.startswith("+") and destination.number in own_numbers


def internal_if_own_line(destination: Destination, own_numbers: Container[str]) -> Destination:
    """The destination as an internal call when it is one of the organization's own lines.

    A call between two lines of the same organization is internal wherever they are: it is not billed as
    local, national or international unless the plan says so.
    """
    if is_own_line(destination, own_numbers):
        return replace(destination, category=Category.INTERNAL, zone="")
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
