"""Small factory functions for tests: sensible defaults, override anything by keyword."""

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

from django.contrib.auth import get_user_model

from billing.models import Line, LineAssignment, LinePlan, Location, Organization, Person, Plan, PlanRate
from portal.models import Membership

_seq = itertools.count(1)


def organization(**kw) -> Organization:
    n = next(_seq)
    defaults = dict(
        account_number=f"T{n:06d}",
        name=f"Test Org {n}",
        country="DE",
        time_zone="Europe/Berlin",
        currency="EUR",
        locale="de-DE",
        tax_rate=Decimal("0.19"),
    )
    defaults.update(kw)
    return Organization.objects.create(**defaults)


def location(organization, **kw) -> Location:
    return Location.objects.create(organization=organization, **{"name": f"Site {next(_seq)}", **kw})


def person(organization, **kw) -> Person:
    return Person.objects.create(organization=organization, **{"name": f"Person {next(_seq)}", **kw})


def line(organization, number=None, person=None, location=None, since=None, **kw) -> Line:
    number = number or f"+4930{5550000 + next(_seq):07d}"
    since = since or datetime(2020, 1, 1, tzinfo=UTC)
    obj = Line.objects.create(organization=organization, number=number, activated_on=since.date(), **kw)
    if person or location:
        LineAssignment.objects.create(
            organization=organization, line=obj, person=person, location=location, valid_from=since
        )
    return obj


def plan(code=None, **kw) -> Plan:
    obj = Plan.objects.create(code=code or f"plan-{next(_seq)}", name=kw.pop("name", "Test plan"), **kw)
    PlanRate.objects.create(plan=obj, category="", price=Decimal("0.02"), valid_from=date(2020, 1, 1))
    return obj


def line_plan(line, plan, valid_from=date(2020, 1, 1), valid_to=None) -> LinePlan:
    return LinePlan.objects.create(
        organization=line.organization, line=line, plan=plan, valid_from=valid_from, valid_to=valid_to
    )


def user(username=None, password="correct horse battery staple", **kw):
    User = get_user_model()
    return User.objects.create_user(username or f"user{next(_seq)}", password=password, **kw)


def membership(user, organization, role="admin", **kw) -> Membership:
    return Membership.objects.create(user=user, organization=organization, role=role, **kw)
