"""Offer test helpers: a demo-like organization with three billed periods, and an independent check that
re-issues its statements with an offer applied (inside a savepoint that is rolled back)."""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.db import connection, transaction

from billing.models import LinePlan, Offer, OfferRun, Plan, PlanAllowance, PlanRate, Statement
from billing.periods import billing_period
from billing.statements.services import statement_issue
from billing.usage.writer import usage_records_write
from devtools.demo.catalog import ensure_catalog
from devtools.demo.offers import ensure_offer_catalog
from tests.fixtures_billing import usage

ISSUED_AT = datetime(2026, 11, 20, 12, tzinfo=UTC)
PERIODS = [(2026, 8), (2026, 9), (2026, 10)]  # billing day 5: Aug 5 – Nov 4


@pytest.fixture(autouse=True)
def no_holdout(settings):
    settings.OFFERS_HOLDOUT_SHARE = 0.0
    # The pricing tests look at every offer a run recommends, in the order of expected value: no
    # exploration draw and no contact cap there (tests/offers/test_learning.py and test_contact_policy.py
    # switch them on).
    settings.OFFERS_EXPLORATION = 0.0
    settings.OFFERS_CONTACT_CAP = None


@pytest.fixture
def catalog(db):
    plans = ensure_catalog({"EUR", "USD"}, rate_change_on=date(2026, 9, 1))
    offers = {o.code: o for o in ensure_offer_catalog({"EUR", "USD"}, valid_from=date(2026, 1, 1))}
    return plans, offers


class _Rollback(Exception):
    pass


def consultancy(make, catalog, *, consent=True, eu_calls_per_day=3, seed=1, name="Meridian-like B.V.", add_line=True):
    """Like MER-400117: Amsterdam, EUR, billing day 5, mobile plan, heavy calling to Europe, a line
    switched off mid-period and one added, inbound and unanswered calls, texts and data."""
    plans, _offers = catalog
    org = make.organization(
        name=name,
        country="NL",
        time_zone="Europe/Amsterdam",
        currency="EUR",
        locale="nl-NL",
        billing_day=5,
        tax_rate=D("0.21"),
        personalization_consent=consent,
    )
    hq, rdam = make.location(org, name="Amsterdam HQ"), make.location(org, name="Rotterdam")
    people = [make.person(org, name=n) for n in ("Anouk", "Bram", "Cas", "Daan")]
    mobile = plans["mobile-eur"]
    since = datetime(2026, 1, 1, tzinfo=UTC)
    lines = []
    for i, person in enumerate(people):
        line = make.line(
            org, f"+312055{seed:02d}{100 + i:03d}", person=person, location=hq if i < 3 else rdam, since=since
        )
        make.line_plan(line, mobile, valid_from=date(2026, 1, 1))
        lines.append(line)
    lines[3].deactivated_on = date(2026, 9, 20)  # switched off mid-period: prorated
    lines[3].save()
    late = None
    if add_line:
        late = make.line(
            org, f"+312055{seed:02d}199", person=people[0], location=hq, since=datetime(2026, 9, 12, tzinfo=UTC)
        )
        make.line_plan(late, mobile, valid_from=date(2026, 9, 12))
    rnd = random.Random(seed)
    eu = ["+4930123456{:02d}", "+33142685{:03d}", "+3226401{:03d}", "+4319876{:03d}"]
    records = []
    day = date(2026, 8, 5)
    while day <= date(2026, 11, 4):
        if day.weekday() < 5:
            active = [ln for ln in lines if ln.deactivated_on is None or day < ln.deactivated_on]
            if late and day >= date(2026, 9, 12):
                active.append(late)
            for line in active:
                where = dict(location=hq, person=people[0])
                for n in range(eu_calls_per_day):
                    at = datetime(day.year, day.month, day.day, 8 + n, rnd.randrange(60), tzinfo=UTC)
                    dest = rnd.choice(eu).format(rnd.randrange(100))
                    seconds = int(rnd.lognormvariate(5.6, 1.0))
                    records.append(usage(org, line, at, seconds=seconds, dest=dest, **where))
                at = datetime(day.year, day.month, day.day, 14, rnd.randrange(60), tzinfo=UTC)
                records.append(usage(org, line, at, seconds=rnd.randrange(20, 900), dest="+31104567890", **where))
                records.append(
                    usage(
                        org,
                        line,
                        at + timedelta(minutes=30),
                        seconds=200,
                        dest="+31201234567",
                        direction="inbound",
                        **where,
                    )
                )
                records.append(
                    usage(org, line, at + timedelta(minutes=45), seconds=0, dest="+4930123456", answered=False, **where)
                )
                records.append(usage(org, line, at + timedelta(minutes=50), kind="sms", dest="+31612345678", **where))
        day += timedelta(days=1)
    usage_records_write(records=records)
    org.lines_list = [*lines, late] if late else lines
    return org


def issue_periods(org):
    return [statement_issue(organization=org, period=billing_period(org, y, m), now=ISSUED_AT) for y, m in PERIODS]


@pytest.fixture
def meridian(make, catalog):
    """The consultancy with its periods issued (``org.issued``). A test module that needs it unissued
    defines its own ``meridian``."""
    org = consultancy(make, catalog)
    org.issued = issue_periods(org)
    return org


def charges(statements) -> D:
    return sum((s.recurring_total + s.usage_total for s in statements), D(0))


def materialize(offer: Offer, base: Plan) -> Plan:
    """The offer applied to a line on ``base``, as an ordinary catalog plan (written independently of the
    engine's overlay: bundle rates replace the plan's rates for the same destination, its allowances are
    added, its fee is added)."""
    if not offer.overlay:
        return offer.plan
    pack = offer.plan
    plan = Plan.objects.create(
        code=f"{base.code}--{pack.code}",
        name=f"{base.name} + {pack.name}",
        currency=base.currency,
        monthly_fee=base.monthly_fee + pack.monthly_fee,
        call_setup_fee=base.call_setup_fee,
    )
    pack_keys = {(r.usage_type, r.category, r.zone) for r in pack.rates.all() if r.category}
    for rate in [*[r for r in pack.rates.all() if r.category], *base.rates.all()]:
        if rate.plan_id == base.id and (rate.usage_type, rate.category, rate.zone) in pack_keys:
            continue
        PlanRate.objects.create(
            plan=plan,
            usage_type=rate.usage_type,
            category=rate.category,
            zone=rate.zone,
            price=rate.price,
            first_increment=rate.first_increment,
            next_increment=rate.next_increment,
            minimum_charge=rate.minimum_charge,
            valid_from=rate.valid_from,
            valid_to=rate.valid_to,
        )
    for allowance in [*pack.allowances.all(), *base.allowances.all()]:
        PlanAllowance.objects.create(
            plan=plan,
            usage_type=allowance.usage_type,
            categories=allowance.categories,
            zones=allowance.zones,
            quantity=allowance.quantity,
            pooled=allowance.pooled,
        )
    return plan


def reissued_with(org, offer: Offer, statements) -> D:
    """Re-issue the organization's statements with every line moved to the offer (a plan change) or
    given the offer (a bundle) and return their recurring + usage charges; then undo everything."""
    return reissued_totals(org, offer, statements)[0]


def reissued_totals(org, offer: Offer, statements) -> tuple[D, D]:
    """The same, returning (recurring + usage charges, totals with tax) of the re-issued statements (only
    the periods of ``statements`` are re-issued)."""
    result = {}
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL billing.allow_statement_delete = 'on'")
            ids = [s.pk for s in statements]
            OfferRun.objects.filter(statement_id__in=ids).delete()
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM billing_statementline WHERE statement_id = ANY(%s)", [ids])
                cursor.execute("DELETE FROM billing_statementbreakdown WHERE statement_id = ANY(%s)", [ids])
                cursor.execute("DELETE FROM billing_statement WHERE id = ANY(%s)", [ids])
            made = {}
            for lp in LinePlan.objects.filter(organization=org).select_related("plan"):
                if lp.plan_id not in made:
                    made[lp.plan_id] = materialize(offer, lp.plan)
                lp.plan = made[lp.plan_id]
                lp.save(update_fields=["plan"])
            again = [
                statement_issue(
                    organization=org,
                    period=billing_period(org, s.period_start.year, s.period_start.month),
                    now=ISSUED_AT,
                )
                for s in statements
            ]
            result["charges"] = (charges(again), sum((s.total for s in again), D(0)))
            assert Statement.objects.filter(organization=org).count() == len(statements)
            raise _Rollback
    except _Rollback:
        pass
    return result["charges"]
