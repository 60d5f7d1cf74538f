"""Small, explicit usage data for the dashboard/explorer/export tests (web and browser).

Calls are placed in the organization's current billing period (today, local time) unless a day is
given, with the cost set on each record; the rollups are rebuilt so the selectors see them.
"""

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from billing.models import UsageRecord
from billing.usage.rollups import rollups_rebuild
from billing.usage.writer import usage_records_write
from portal.web.usage_forms import today_for
from tests import factories

_ids = itertools.count(1)


@dataclass
class Call:
    line: object
    seconds: int
    cost: str
    dest: str = "+4930123456"
    day_offset: int = 0  # days before today
    person: object = None
    location: object = None


def write_calls(org, calls: list[Call]) -> None:
    today = today_for(org)
    records, costs = [], {}
    for i, call in enumerate(calls):
        day = today - timedelta(days=call.day_offset)
        local = datetime.combine(day, time(0, 1), tzinfo=org.tz) + timedelta(seconds=7 * i)
        started = local.astimezone(UTC)
        source_id = f"page-{next(_ids)}"
        costs[source_id] = Decimal(call.cost)
        assignment = call.line.assignments.first()
        person = call.person or (assignment.person if assignment else None)
        location = call.location or (assignment.location if assignment else None)
        records.append(
            factories.usage_record(
                org,
                call.line,
                started,
                seconds=call.seconds,
                dest=call.dest,
                person=person,
                location=location,
                source_id=source_id,
            )
        )
    usage_records_write(records=records)
    for source_id, cost in costs.items():
        UsageRecord.objects.filter(organization=org, source_id=source_id).update(cost=cost)
    days = UsageRecord.objects.filter(organization=org).values_list("local_date", flat=True).distinct()
    rollups_rebuild(slices={(org.id, day) for day in days})


@dataclass
class Firm:
    org: object
    berlin: object
    munich: object
    anna: object
    ben: object
    anna_line: object
    ben_line: object


def firm(name="Usage GmbH", *, numbers: str = "1111") -> Firm:
    """Two locations, a person with a line at each; calls today and in the previous period."""
    org = factories.organization(name=name, locale="en-IE", billing_day=1)
    berlin = factories.location(org, name=f"{name} Berlin")
    munich = factories.location(org, name=f"{name} Munich")
    anna = factories.person(org, name=f"Anna {name}")
    ben = factories.person(org, name=f"Ben {name}")
    anna_line = factories.line(org, f"+4930{numbers}0001", person=anna, location=berlin)
    ben_line = factories.line(org, f"+4989{numbers}0002", person=ben, location=munich)
    write_calls(
        org,
        [
            Call(anna_line, 4000, "12.50", dest="+4930123456"),  # over 60 min
            Call(anna_line, 120, "0.40", dest="+33142685300"),
            Call(ben_line, 300, "2.10", dest="+491701234567"),
            Call(ben_line, 60, "0.20", dest="+4930987654", day_offset=40),  # a previous period
        ],
    )
    return Firm(org, berlin, munich, anna, ben, anna_line, ben_line)


def sign_in_as(client, org, role, *, username=None, locations=(), person=None):
    user = factories.user(username)
    membership = factories.membership(user, org, role=role, person=person)
    if locations:
        membership.locations.set(locations)
    client.force_login(user)
    return user
