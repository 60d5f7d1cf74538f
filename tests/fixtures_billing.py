"""The hand-computed billing fixture (see tests/statements/test_billing_run.py)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from billing.models import PlanAllowance, PlanRate
from billing.usage.writer import usage_records_write
from tests.factories import usage_record

OCT = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)


def usage(org, line, started, **kw):
    """A usage record of the hand-computed fixture (tests.factories.usage_record)."""
    return usage_record(org, line, started, **kw)


@pytest.fixture
def billed_org(make):
    """The hand-computed fixture: see test_billing_run.py for every number."""
    org = make.organization(name="Hand GmbH", billing_day=1, tax_rate=D("0.19"), currency="EUR", locale="en-IE")
    berlin = make.location(org, name="Berlin")
    anna, ben = make.person(org, name="Anna"), make.person(org, name="Ben")
    flex = make.plan(code="flex-eur", name="Business Flex", currency="EUR", monthly_fee=D("20.00"))
    flex.rates.all().delete()
    for category, zone, price, first, step in [
        ("", "", "0.10", 60, 60),
        ("mobile", "", "0.20", 30, 6),
        ("international", "EU", "0.25", 1, 1),
    ]:
        PlanRate.objects.create(
            plan=flex,
            usage_type="voice",
            category=category,
            zone=zone,
            price=D(price),
            first_increment=first,
            next_increment=step,
            valid_from=date(2020, 1, 1),
        )
    PlanRate.objects.create(plan=flex, usage_type="sms", price=D("0.09"), valid_from=date(2020, 1, 1))
    PlanAllowance.objects.create(plan=flex, usage_type="voice", quantity=D("10"), categories=["local", "national"])
    l1 = make.line(org, "+493011112222", person=anna, location=berlin, since=datetime(2025, 1, 1, tzinfo=UTC))
    l2 = make.line(org, "+493011113333", person=ben, location=berlin, since=datetime(2026, 10, 16, tzinfo=UTC))
    make.line_plan(l1, flex, valid_from=date(2025, 1, 1))
    make.line_plan(l2, flex, valid_from=date(2026, 10, 16))
    t = OCT
    a = dict(location=berlin, person=anna)
    b = dict(location=berlin, person=ben)
    usage_records_write(
        records=[
            usage(org, l1, t, seconds=300, dest="+493099887766", **a),  # local, 5 min: covered
            usage(org, l1, t + timedelta(hours=1), seconds=400, dest="+498912345678", **a),  # 7 min: 5 covered, 2 paid
            usage(org, l1, t + timedelta(hours=2), seconds=31, dest="+491701234567", **a),  # 36 s mobile: 0.12
            usage(org, l1, t + timedelta(hours=3), seconds=90, dest="+33142685300", **a),  # EU 1.5 min: 0.375
            usage(org, l1, t + timedelta(hours=4), seconds=200, dest="+498912345678", answered=False, **a),
            usage(org, l1, t + timedelta(hours=5), seconds=600, dest="+498912345678", direction="inbound", **a),
            usage(org, l2, datetime(2026, 10, 20, 9, tzinfo=UTC), seconds=120, dest="+498912345678", **b),  # covered
            usage(org, l2, datetime(2026, 10, 20, 10, tzinfo=UTC), kind="sms", dest="+491701234567", **b),  # 0.09
            usage(org, l1, datetime(2026, 11, 1, 9, tzinfo=UTC), seconds=60, dest="+498912345678", **a),  # next period
        ]
    )
    org.anna, org.ben, org.berlin = anna, ben, berlin
    return org
