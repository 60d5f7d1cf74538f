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
