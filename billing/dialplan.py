"""A phone system's dial plan: how its users dial (outside-line, international and national prefixes,
extension lengths), and the rules it comes to once the country's own prefixes are filled in from
libphonenumber's metadata. Reading dialled digits by these rules is ``billing.numbers``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

import phonenumbers

INTERNAL_MAX_DIGITS = 6  # PBX extensions: short numbers without a prefix


@dataclass(frozen=True, slots=True)
class DialPlan:
    """How a phone system's users dial: read before any number of that system is interpreted.

    ``None`` for a prefix means "the country's own" (libphonenumber's metadata: ``00`` in Europe,
    ``011`` in North America; national prefix ``0`` in DE/GB/NL/FR, ``1`` in the US); ``""`` means none.
    """

    country: str  # ISO 3166 alpha-2 of the PBX's users (numbers without a prefix are read there)
    outside_prefix: str = ""  # the digit(s) dialled for an outside line ("0", "9"), stripped first when present
    international_prefix: str | None = None
    national_prefix: str | None = None
    extension_lengths: tuple[int, ...] = ()  # lengths of internal extensions; () = up to INTERNAL_MAX_DIGITS

    def for_inbound(self) -> DialPlan:
        """This plan for numbers that came in from outside (an inbound call's caller id, a DID).

        Nobody dialled the outside-line prefix in front of those, so it must not be stripped: with an
        outside prefix ``0`` in Germany, an outbound ``030901820`` is ``0`` + the local ``30901820``, but an
        inbound caller id ``030901820`` is the national number +49 30 901820.
        """
        return replace(self, outside_prefix="") if self.outside_prefix else self


def plan_for(dialplan: DialPlan | None, region: str) -> DialPlan:
    """The plan to read by: the source's, in the organization's country when it names none."""
    if dialplan is None:
        return default_dialplan(region)
    return dialplan if dialplan.country else replace(dialplan, country=region)


@lru_cache(maxsize=256)
def default_dialplan(region: str) -> DialPlan:
    """The plan of a source that declared none: the country's own prefixes, no outside-line prefix, and
    every number of up to ``INTERNAL_MAX_DIGITS`` digits an extension (as before dial plans existed)."""
    return DialPlan(country=region)


# Countries that have a national prefix but a closed numbering plan: the full national number is always
# dialled, so digits without an area code are never a local number there.
CLOSED_NUMBERING = {"FR", "BE", "CH"}
# A subscriber number dialled without its area code (3 digits in small German towns, 7 in North America,
# 8 in London, Berlin or Paris). Longer digit strings are read as full numbers only.
LOCAL_NUMBER_LENGTHS = range(3, 9)


@dataclass(frozen=True, slots=True)
class Rules:
    """A DialPlan with the country's defaults filled in."""

    country: str
    country_code: int  # 0 when the country is unknown: only "+" numbers and extensions can be read
    outside: str
    international: re.Pattern | None
    national: str
    national_without_prefix: bool  # NANP's 10 digits, or a country that has no national prefix
    local: bool
    extension_lengths: frozenset[int]


@lru_cache(maxsize=1024)
def rules_of(plan: DialPlan) -> Rules:
    country = (plan.country or "").upper()
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(country) if country else None
    if plan.international_prefix is not None:
        international = re.compile(re.escape(plan.international_prefix)) if plan.international_prefix else None
    elif metadata is not None and metadata.international_prefix:
        international = re.compile(f"(?:{metadata.international_prefix})")
    else:
        international = None
    if plan.national_prefix is not None:
        national = plan.national_prefix
    else:
        national = (metadata.national_prefix or "") if metadata is not None else ""
    country_code = metadata.country_code if metadata is not None else 0
    return Rules(
        country=country,
        country_code=country_code,
        outside=plan.outside_prefix or "",
        international=international,
        national=national,
        national_without_prefix=country_code != 0 and (national == "" or country_code == 1),
        local=country_code != 0 and national != "" and country not in CLOSED_NUMBERING,
        extension_lengths=frozenset(plan.extension_lengths or range(1, INTERNAL_MAX_DIGITS + 1)),
    )
