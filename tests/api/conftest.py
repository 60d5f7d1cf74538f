from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from billing.usage.writer import usage_records_write
from tests import factories


def add_calls(org, line, person, location, calls):
    """calls: list of (started_at, seconds, destination)."""
    records = [
        factories.usage_record(
            org,
            line,
            started,
            seconds=seconds,
            dest=destination,
            person=person,
            location=location,
            source_id=f"{line.id}-{i}-{started.isoformat()}",
        )
        for i, (started, seconds, destination) in enumerate(calls)
    ]
    usage_records_write(records=records)


@pytest.fixture
def acme(make):
    """An organization with two offices, three people and calls in October 2026 (Berlin time)."""
    org = make.organization(name="ACME GmbH", time_zone="Europe/Berlin", country="DE")
    berlin, munich = make.location(org, name="Berlin office"), make.location(org, name="Munich office")
    anna, ben, cem = make.person(org, name="Anna"), make.person(org, name="Ben"), make.person(org, name="Cem")
    lines = {
        "anna": (make.line(org, "+493011110001", person=anna, location=berlin), anna, berlin),
        "ben": (make.line(org, "+493011110002", person=ben, location=berlin), ben, berlin),
        "cem": (make.line(org, "+498911110003", person=cem, location=munich), cem, munich),
    }
    t = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)
    add_calls(org, *lines["anna"], [(t + timedelta(hours=i), 120 * (i + 1), "+493099887766") for i in range(5)])
    add_calls(org, *lines["ben"], [(t, 4000, "+14155550123"), (t + timedelta(days=1), 30, "+491701234567")])
    add_calls(org, *lines["cem"], [(t + timedelta(days=2, hours=i), 600, "+498912345678") for i in range(3)])
    from billing.models import UsageRecord
    from billing.usage.rollups import rollups_rebuild

    for rec in UsageRecord.objects.filter(organization=org):
        UsageRecord.objects.filter(pk=rec.pk).update(cost=Decimal(rec.billable_seconds) / 1000)
    rollups_rebuild(slices={(org.id, date(2026, 10, d)) for d in range(1, 32)})
    org.places = {"berlin": berlin, "munich": munich}
    org.people = {"anna": anna, "ben": ben, "cem": cem}
    org.line_objs = {k: v[0] for k, v in lines.items()}
    return org
