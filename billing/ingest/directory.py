"""The line directory of an import: which line a party of a call record names, and who used it then.

Loaded once per import: the lines (of the source's organization; without a source, of all
organizations, matched by number only), their identifiers in the phone system (extension, SIP user,
DID, account code, each with a validity period) and their assignments to a person and a location.
The row-by-row path asks it per row; the set-based path (``setbased``) asks it once per distinct
party text and does the rest as joins on the same tables.
"""

from __future__ import annotations

import bisect
import re
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property

from billing.models import Line, LineAssignment, LineIdentifier, Organization
from billing.numbers import normalize

_CHANNEL_USER = re.compile(r"^[A-Za-z0-9_]+/([^/@;\-]+)")


@dataclass(frozen=True, slots=True)
class LineInfo:
    id: int
    number: str
    organization_id: int
    activated_on: date
    deactivated_on: date | None


def channel_user(channel: str) -> str:
    """``SIP/1001-0000a1b2`` -> ``1001``; ``PJSIP/201-00000003`` -> ``201``; ``sofia/internal/1001@host`` -> ``1001``."""
    channel = channel.strip()
    if channel.lower().startswith("sofia/"):
        parts = channel.split("/")
        return parts[2].split("@")[0] if len(parts) > 2 else ""
    match = _CHANNEL_USER.match(channel)
    return match.group(1) if match else ""


class Directory:
    """The lines (of one organization, with a source; else of all), their identifiers and assignments."""

    def __init__(self, organization: Organization | None = None, methods=("number",), dialplan=None):
        self.organization = organization
        orgs = Organization.objects.all() if organization is None else Organization.objects.filter(pk=organization.pk)
        self.orgs = {o.id: o for o in orgs}
        self.tz = {oid: zoneinfo.ZoneInfo(o.time_zone) for oid, o in self.orgs.items()}
        self.regions = sorted({o.country for o in self.orgs.values()}) or ["US"]
        self.methods = tuple(methods)
        self.dialplan = dialplan
        lines = Line.objects.all() if organization is None else Line.objects.filter(organization=organization)
        self.by_id: dict[int, LineInfo] = {}
        self.by_number: dict[str, LineInfo] = {}
        for pk, number, org, on, off in lines.values_list(
            "id", "number", "organization_id", "activated_on", "deactivated_on"
        ).order_by("id"):
            self.by_id[pk] = self.by_number[number] = LineInfo(pk, number, org, on, off)
        self._number_cache: dict[str, LineInfo | None] = {}

    @cached_property
    def identifiers(self) -> dict[tuple[str, str], list]:
        """(kind, value) -> [(valid_from, valid_to, line)], only with a source."""
        found: dict[tuple[str, str], list] = defaultdict(list)
        if self.organization is not None:
            for line_id, kind, value, start, end in (
                LineIdentifier.objects.filter(organization=self.organization)
                .order_by("valid_from")
                .values_list("line_id", "kind", "value", "valid_from", "valid_to")
            ):
                if line_id in self.by_id:
                    found[kind, value.strip()].append((start, end, self.by_id[line_id]))
        return found

    @cached_property
    def assignments(self) -> dict[int, list]:
        found: dict[int, list] = defaultdict(list)
        for line_id, start, end, person, location in (
            LineAssignment.objects.filter(line_id__in=self.by_id)
            .order_by("line_id", "valid_from")
            .values_list("line_id", "valid_from", "valid_to", "person_id", "location_id")
        ):
            found[line_id].append((start, end, person, location))
        return found

    @cached_property
    def starts(self) -> dict[int, list]:
        return {line_id: [a[0] for a in rows] for line_id, rows in self.assignments.items()}

    def by_number_text(self, party: str) -> LineInfo | None:
        """A line by its number written any way (E.164, national, with spaces), in each customer country."""
        party = (party or "").strip()
        if party in self._number_cache:
            return self._number_cache[party]
        found = None
        if party:
            for region in self.regions:
                e164 = normalize(party, region, dialplan=self.dialplan)
                if e164 and e164 in self.by_number:
                    found = self.by_number[e164]
                    break
        self._number_cache[party] = found
        return found

    def did_number(self, party: str) -> str | None:
        """The E.164 form under which a party could be a DID identifier (the first region that reads it)."""
        party = (party or "").strip()
        for region in self.regions:
            e164 = normalize(party, region, dialplan=self.dialplan)
            if e164:
                return e164
        return None

    def identifier(self, kind: str, value: str, when: datetime | None) -> LineInfo | None:
        for start, end, line in self.identifiers.get((kind, value), ()):
            if when is None or (start <= when and (end is None or when < end)):
                return line
        return None

    def match(self, party: str, channel: str, accountcode: str, when: datetime | None) -> LineInfo | None:
        """The line a party of a row names, by the source's methods in their order (None: not ours)."""
        party = (party or "").strip()
        for method in self.methods:
            found = None
            if method == "number" and party:
                found = self.by_number_text(party)
                if found is None and self.identifiers:
                    e164 = self.did_number(party)
                    if e164:
                        found = self.identifier("did", e164, when)
            elif method == "extension" and party:
                found = self.identifier("extension", party, when)
            elif method == "channel" and channel:
                user = channel_user(channel)
                if user:
                    found = self.identifier("sip_user", user, when) or self.identifier("extension", user, when)
            elif method == "account_code" and accountcode:
                found = self.identifier("account_code", accountcode, when)
            if found is not None:
                return found
        return None

    def stamp(self, line_id: int, when: datetime) -> tuple[int | None, int | None]:
        starts = self.starts.get(line_id)
        if not starts:
            return None, None
        i = bisect.bisect_right(starts, when) - 1
        if i < 0:
            return None, None
        _start, end, person, location = self.assignments[line_id][i]
        if end is not None and when >= end:
            return None, None
        return person, location
