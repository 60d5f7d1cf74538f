"""An organization with one planted case of each bill audit finding, and its three issued statements.

Plans (EUR, voice 0.10 per minute in whole minutes, national calls):
- small: 10.00 a month, 100 minutes included per line; large (public): 15.00, 300 minutes included;
- legacy: 5.00, no allowance; its rate went from 0.10 to 0.15 on 2026-10-01 (contracts from 2025).

Lines (billing day 1, periods August to October 2026, issued on the 3rd of the next month):
- A "overage", small, Berlin: 300 minutes every month -> pays 200 minutes (20.00) over its allowance;
  under large it would pay 15.00 instead of 30.00: 15.00 a month saved.
- B "idle", small, Berlin: last call on 2026-08-14; 60 days up to 2026-11-03 without usage: 10.00.
- C "leaver", small, Berlin: Lena held it until 2026-10-01, nobody since; one call in October: 10.00.
- D "legacy", Munich: 10 minutes in October charged at 0.15 (1.50) instead of the contracted 0.10: 0.50.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from billing.models import LineAssignment, PlanAllowance, PlanRate
from billing.usage.writer import usage_records_write
from tests import factories
from tests.factories import usage_record

NOW = datetime(2026, 11, 3, 12, tzinfo=UTC)  # after October's statement; the findings' pinned clock
NATIONAL = "+498912345678"


def _plan(make, code, fee, *, allowance=None, public=True):
    plan = make.plan(code=code, name=code.title(), currency="EUR", monthly_fee=D(fee), public=public)
    plan.rates.all().delete()
    PlanRate.objects.create(plan=plan, usage_type="voice", price=D("0.10"), valid_from=date(2020, 1, 1))
    if allowance:
        PlanAllowance.objects.create(plan=plan, usage_type="voice", quantity=D(allowance))
    return plan


@pytest.fixture
def planted(make):
    org = make.organization(name="Audit GmbH", billing_day=1, currency="EUR", locale="en-IE")
    berlin, munich = make.location(org, name="Berlin"), make.location(org, name="Munich")
    anna, lena, max_ = make.person(org, name="Anna"), make.person(org, name="Lena"), make.person(org, name="Max")
    small = _plan(make, "small", "10.00", allowance="100")
    _plan(make, "large", "15.00", allowance="300")
    legacy = _plan(make, "legacy", "5.00", public=False)
    rate = legacy.rates.get()
    rate.valid_to = date(2026, 10, 1)
    rate.save()
    PlanRate.objects.create(plan=legacy, usage_type="voice", price=D("0.15"), valid_from=date(2026, 10, 1))

    since = datetime(2025, 1, 1, tzinfo=UTC)
    a = make.line(org, "+493020000001", person=anna, location=berlin, since=since)
    b = make.line(org, "+493020000002", person=anna, location=berlin, since=since)
    c = make.line(org, "+493020000003", since=since)
    d = make.line(org, "+498920000004", person=max_, location=munich, since=since)
    LineAssignment.objects.create(
        organization=org,
        line=c,
        person=lena,
        location=berlin,
        valid_from=since,
        valid_to=datetime(2026, 10, 1, tzinfo=UTC),
    )
    for line, plan in ((a, small), (b, small), (c, small), (d, legacy)):
        make.line_plan(line, plan, valid_from=date(2025, 1, 1))

    records = []
    for month in (8, 9, 10):
        for day in range(1, 11):  # ten calls of 30 minutes
            at = datetime(2026, month, day + 1, 9, tzinfo=UTC)
            records.append(usage_record(org, a, at, seconds=1800, dest=NATIONAL, location=berlin, person=anna))
    records.append(
        usage_record(
            org, b, datetime(2026, 8, 14, 9, tzinfo=UTC), seconds=60, dest=NATIONAL, location=berlin, person=anna
        )
    )
    records.append(usage_record(org, c, datetime(2026, 10, 20, 9, tzinfo=UTC), seconds=60, dest=NATIONAL))
    records.append(
        usage_record(
            org, d, datetime(2026, 10, 5, 9, tzinfo=UTC), seconds=600, dest=NATIONAL, location=munich, person=max_
        )
    )
    usage_records_write(records=records)
    for month in (8, 9, 10):
        factories.issued_statement(org, 2026, month, now=datetime(2026, month + 1, 3, tzinfo=UTC))
    org.lines_by_label = {"A": a, "B": b, "C": c, "D": d}
    org.berlin, org.munich = berlin, munich
    return org


def one_more_day(org, line, at):
    usage_records_write(records=[usage_record(org, line, at, seconds=60, dest=NATIONAL)])


__all__ = ["NOW", "planted", "one_more_day", "timedelta"]
