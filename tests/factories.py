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


def offer_recommendation(organization, *, offer_code=None, **kw):
    """A generic (not personalized) offer recommended to ``organization`` by a run of its own."""
    from billing.models import Offer, OfferRecommendation, OfferRun

    n = next(_seq)
    offer = Offer.objects.create(
        code=offer_code or f"offer-{n}",
        kind=Offer.Kind.ADDON,
        title=f"Test add-on {n}",
        customer_copy="Calls abroad for less.",
        plan=plan(currency=organization.currency),
        overlay=True,
        generic=True,
        valid_from=date(2020, 1, 1),
    )
    at = datetime(2026, 11, 3, tzinfo=UTC)
    run = OfferRun.objects.create(
        organization=organization,
        trigger="staff",
        computed_at=at,
        months=0,
        personalized=False,
        consent=False,
        holdout=False,
    )
    defaults = dict(
        rank=1, title=offer.title, personalized=False, currency=organization.currency, reason="", created_at=at
    )
    defaults.update(kw)
    return OfferRecommendation.objects.create(organization=organization, run=run, offer=offer, **defaults)


ISSUED_AT = datetime(2026, 11, 3, tzinfo=UTC)  # after October 2026 closed for billing day 1 (pinned clock)


def issued_statement(organization, year: int = 2026, month: int = 10, *, now=ISSUED_AT, render: bool = False):
    """The organization's statement of ``year``/``month``, issued at ``now``; with ``render``, its PDF too
    (set ``settings.MEDIA_ROOT`` first)."""
    from billing.periods import billing_period
    from billing.statements.pdf import statement_render
    from billing.statements.services import statement_issue

    statement = statement_issue(organization=organization, period=billing_period(organization, year, month), now=now)
    if render:
        statement_render(statement=statement)
        statement.refresh_from_db()
    return statement


_source_ids = itertools.count(1)


def usage_record(
    organization,
    line,
    started,
    *,
    seconds=0,
    dest="",
    kind="voice",
    direction="outbound",
    answered=True,
    location=None,
    person=None,
    data_bytes=0,
    source_id=None,
):
    """One usage record to write with ``usage_records_write``: the other party classified as the importer
    does (``billing.numbers.classify`` in the organization's country), local date and hour in its zone."""
    from billing.models.choices import duration_band
    from billing.numbers import classify
    from billing.usage.writer import NewUsageRecord

    d = classify(dest, line.number, organization.country) if dest else None
    local = started.astimezone(organization.tz)
    return NewUsageRecord(
        organization_id=organization.id,
        line_id=line.id,
        person_id=person.id if person else None,
        location_id=location.id if location else None,
        usage_type=kind,
        started_at=started,
        local_date=local.date(),
        local_hour=local.hour,
        duration_seconds=seconds,
        billable_seconds=seconds if answered else 0,
        duration_band=duration_band(seconds),
        direction=direction,
        answered=answered,
        destination=d.number if d else "",
        destination_masked=d.masked if d else "",
        category=d.category if d else "other",
        country=d.country if d else "",
        zone=d.zone if d else "",
        data_bytes=data_bytes,
        source="test",
        source_id=source_id or f"s{next(_source_ids)}",
        import_batch_id=None,
    )
