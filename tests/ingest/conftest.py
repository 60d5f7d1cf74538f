from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from billing.models import LineAssignment

DATA = Path(__file__).parent / "data"


@pytest.fixture
def pbx(make):
    """A Berlin law office whose phone system exports CDRs: Anna and Ben; Ben's line moves to Cem on 20 Oct."""
    org = make.organization(name="Kanzlei Berlin", country="DE", time_zone="Europe/Berlin")
    office = make.location(org, name="Berlin office")
    anna, ben, cem = (make.person(org, name=n) for n in ("Anna", "Ben", "Cem"))
    since = datetime(2025, 1, 1, tzinfo=UTC)
    anna_line = make.line(org, "+493012345601", person=anna, location=office, since=since)
    ben_line = make.line(org, "+493012345602", person=ben, location=office, since=since)
    moved = datetime(2026, 10, 19, 22, 0, tzinfo=UTC)  # midnight in Berlin
    LineAssignment.objects.filter(line=ben_line).update(valid_to=moved)
    LineAssignment.objects.create(organization=org, line=ben_line, person=cem, location=office, valid_from=moved)
    make.line(org, "+493012345603", since=datetime(2026, 11, 1, tzinfo=UTC))  # Carl starts in November
    org.people = {"anna": anna, "ben": ben, "cem": cem}
    org.lines_ = {"anna": anna_line, "ben": ben_line}
    org.activated = date(2025, 1, 1)
    return org


NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)  # imports in these tests happen "now"; nothing reads today's date


@pytest.fixture
def hosted(make):
    """A Dutch practice on a hosted PBX (Amsterdam): its lines are known there by extension 201, 202,
    203, by SIP user, account code, and their DIDs; Anna (201) and Bram (202) in Amsterdam, Carla (203)
    in Rotterdam."""
    from billing.models import LineIdentifier, UsageSource

    org = make.organization(name="Praxis Amsterdam", country="NL", time_zone="Europe/Amsterdam")
    amsterdam, rotterdam = make.location(org, name="Amsterdam"), make.location(org, name="Rotterdam")
    since = datetime(2026, 1, 1, tzinfo=UTC)
    people, lines = {}, {}
    for ext, name, where in (("201", "Anna", amsterdam), ("202", "Bram", amsterdam), ("203", "Carla", rotterdam)):
        people[ext] = make.person(org, name=name)
        lines[ext] = make.line(org, f"+3120123450{ext[-1]}", person=people[ext], location=where, since=since)
        for kind, value in (("extension", ext), ("sip_user", ext), ("account_code", f"ACC-{name.upper()}")):
            LineIdentifier.objects.create(organization=org, line=lines[ext], kind=kind, value=value, valid_from=since)
    org.people, org.lines_, org.sites = people, lines, {"amsterdam": amsterdam, "rotterdam": rotterdam}

    def source(slug="pbx", format="asterisk", **kw):
        kw.setdefault("clock", "UTC")
        kw.setdefault("match_by", "number,extension,channel,account_code")
        return UsageSource.objects.create(organization=org, name=slug, slug=slug, format=format, **kw)

    org.source = source
    return org
