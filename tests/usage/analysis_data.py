"""Pinned usage for the time series, pivot, forecast and anomaly tests: one call a day per line, at noon local
time, with the cost given (days and costs are chosen by each test; nothing depends on today's date)."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from billing.models import UsageRecord
from billing.usage.rollups import rollups_rebuild
from billing.usage.writer import usage_records_write
from tests import factories


def firm(make, **organization):
    settings = dict(name="Pinned AG", time_zone="Europe/Berlin", currency="EUR", locale="de-DE") | organization
    org = make.organization(**settings)
    org.hq, org.depot = make.location(org, name="HQ"), make.location(org, name="Depot")
    org.anna, org.ben, org.cem = (make.person(org, name=n) for n in ("Anna", "Ben", "Cem"))
    org.line_a = make.line(org, "+493011110001", person=org.anna, location=org.hq)
    org.line_b = make.line(org, "+493011110002", person=org.ben, location=org.hq)
    org.line_c = make.line(org, "+493011110003", person=org.cem, location=org.depot)
    return org


def write_daily(org, line, costs: dict[date, Decimal | str]) -> None:
    """One 60-second call on each given local day with the given cost."""
    assignment = line.assignments.first()
    records, by_source = [], {}
    for day, cost in costs.items():
        started = datetime.combine(day, time(12, 0), tzinfo=org.tz).astimezone(UTC)
        source_id = f"d-{line.id}-{day.isoformat()}"
        by_source[source_id] = Decimal(cost)
        records.append(
            factories.usage_record(
                org,
                line,
                started,
                seconds=60,
                dest="+4930123456",
                person=assignment.person,
                location=assignment.location,
                source_id=source_id,
            )
        )
    usage_records_write(records=records)
    for source_id, cost in by_source.items():
        UsageRecord.objects.filter(organization=org, source_id=source_id).update(cost=cost)
    rollups_rebuild(slices={(org.id, day) for day in costs})


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
