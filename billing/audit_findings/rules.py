"""The four rules of the bill audit, each a read of one organization as of one local day.

Every rule returns ``Found`` rows with a money value per month, in the organization's currency, rounded once
half-up to its minor unit (``billing.money.money``) from exact amounts:

- ``idle_lines``: an active line whose plan has a monthly fee, active for the whole window, and with no usage
  record at all (calls either way, texts, data) in the last ``idle_days`` days. Value: the monthly fee.
- ``unassigned_lines``: an active line with a fee that was assigned to a person, whose assignment has
  ended, and that nobody holds now (a leaver's line). Value: the monthly fee.
- ``overage_lines``: a line that paid usage covered by its plan's allowance type beyond the allowance in
  each of the last ``months`` issued periods, where a public catalog plan with a larger allowance of that
  type costs less: the same usage re-rated under that plan by the statements' own pipeline
  (``billing.rating.pipeline``). Value: the average monthly saving of the cheapest such plan.
- ``rate_differs``: in the last issued period, usage of a line charged at rates other than those in force
  when the line's plan was contracted (``LinePlan.valid_from``): the line's usage re-rated at the contracted
  rates. Value: what its usage was charged above that (undercharges are not findings; "charged" and "at
  contracted rates" in the details are usage charges, without fees).

Pooled allowances are re-rated as the pipeline does (the pool moves with the plan), so a line's saving
under a plan change counts the pool's share it would use; per-line allowances are exact.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Max

from billing.models import LineAssignment, LinePlan, Organization, Plan, Statement, UsageRecord
from billing.money import money
from billing.periods import BillingPeriod
from billing.rating.pipeline import PeriodUsage, RatedPeriod, period_usage_load, period_usage_rate, plan_terms


@dataclass
class Found:
    kind: str
    line_id: int
    monthly_value: Decimal
    details: dict = field(default_factory=dict)
    person_id: int | None = None
    suggested_plan_id: int | None = None


def _current_plans(organization: Organization, as_of: date) -> dict[int, LinePlan]:
    """Line id -> its line plan on ``as_of``, for active lines whose plan charges a monthly fee."""
    plans = (
        LinePlan.objects.filter(organization=organization, valid_from__lte=as_of, plan__monthly_fee__gt=0)
        .exclude(valid_to__lte=as_of)
        .filter(line__activated_on__lte=as_of)
        .exclude(line__deactivated_on__lte=as_of)
        .select_related("line", "plan")
    )
    return {lp.line_id: lp for lp in plans}


def idle_lines(organization: Organization, as_of: date, idle_days: int) -> list[Found]:
    since = as_of - timedelta(days=idle_days - 1)  # the window: idle_days local days up to as_of
    plans = {lid: lp for lid, lp in _current_plans(organization, as_of).items() if lp.line.activated_on <= since}
    if not plans:
        return []
    used = set(
        UsageRecord.objects.filter(
            organization=organization, line_id__in=list(plans), local_date__range=(since, as_of)
        ).values_list("line_id", flat=True)
    )
    last = dict(
        UsageRecord.objects.filter(organization=organization, line_id__in=[lid for lid in plans if lid not in used])
        .order_by()
        .values_list("line_id")
        .annotate(last=Max("local_date"))
    )
    found = []
    for line_id, lp in sorted(plans.items()):
        if line_id in used:
            continue
        fee = money(lp.plan.monthly_fee, organization.currency)
        last_day = last.get(line_id)
        found.append(
            Found(
                "idle_line",
                line_id,
                fee,
                {
                    "idle_days": idle_days,
                    "last_usage": last_day.isoformat() if last_day else None,
                    "plan": lp.plan.code,
                },
            )
        )
    return found


def unassigned_lines(organization: Organization, as_of: date, now) -> list[Found]:
    plans = _current_plans(organization, as_of)
    if not plans:
        return []
    assignments = defaultdict(list)
    for a in LineAssignment.objects.filter(organization=organization, line_id__in=list(plans)).select_related("person"):
        assignments[a.line_id].append(a)
    found = []
    for line_id, lp in sorted(plans.items()):
        held = [
            a
            for a in assignments[line_id]
            if a.person_id and a.valid_from <= now and (a.valid_to is None or a.valid_to > now)
        ]
        ended = sorted(
            (a for a in assignments[line_id] if a.person_id and a.valid_to and a.valid_to <= now),
            key=lambda a: a.valid_to,
        )
        if held or not ended:
            continue
        last = ended[-1]
        found.append(
            Found(
                "unassigned",
                line_id,
                money(lp.plan.monthly_fee, organization.currency),
                {"person": last.person.name, "assigned_until": last.valid_to.date().isoformat(), "plan": lp.plan.code},
                person_id=last.person_id,
            )
        )
    return found


def _issued_periods(organization: Organization, as_of: date, count: int) -> list[BillingPeriod]:
    statements = (
        Statement.objects.filter(
            organization=organization,
            status__in=(Statement.Status.ISSUED, Statement.Status.PAID),
            period_end__lte=as_of,
        )
        .order_by("-period_start")
        .values_list("period_start", "period_end")[:count]
    )
    return [BillingPeriod(start, end) for start, end in reversed(list(statements))]


def _line_costs(rated: RatedPeriod) -> dict[int, Decimal]:
    """Exact cost per line of a rated period: its prorated fees plus its usage."""
    costs: dict[int, Decimal] = defaultdict(Decimal)
    for item in rated.recurring:
        costs[item.line.id] += item.exact
    for r in rated.result.rated:
        costs[r.usage.line_id] += r.amount
    return costs


def _line_usage(rated: RatedPeriod) -> dict[int, Decimal]:
    costs: dict[int, Decimal] = defaultdict(Decimal)
    for r in rated.result.rated:
        costs[r.usage.line_id] += r.amount
    return costs


def _overage(rated: RatedPeriod, loaded: PeriodUsage) -> dict[tuple[int, str], Decimal]:
    """(line, usage type) -> what the line paid for usage of a type its plan has an allowance of."""
    paid: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for r in rated.result.rated:
        terms = rated.plan_for(r.usage)
        if terms is None or not r.amount:
            continue
        if any(a.covers(r.usage) for a in terms.allowances):
            paid[(r.usage.line_id, r.usage.usage_type)] += r.amount
    return paid


def _allowance(terms, usage_type: str) -> Decimal:
    return sum((a.quantity for a in terms.allowances if a.usage_type == usage_type), Decimal(0))


def overage_lines(organization: Organization, as_of: date, months: int) -> list[Found]:
    periods = _issued_periods(organization, as_of, months)
    if len(periods) < months:
        return []
    loaded = [period_usage_load(organization=organization, period=p) for p in periods]
    rated = [period_usage_rate(item) for item in loaded]
    overage = [_overage(r, item) for r, item in zip(rated, loaded, strict=True)]
    every_month = set(overage[0])
    for paid in overage[1:]:
        every_month &= set(paid)
    if not every_month:
        return []
    current = _current_plans(organization, as_of)
    catalog = list(
        Plan.objects.filter(kind=Plan.Kind.PLAN, public=True, currency=organization.currency).prefetch_related(
            "rates", "allowances"
        )
    )
    found = []
    for line_id, usage_type in sorted(every_month):
        lp = current.get(line_id)
        if lp is None:
            continue
        terms = plan_terms(lp.plan)
        before = [_line_costs(r)[line_id] for r in rated]
        best = None
        for plan in catalog:
            candidate = plan_terms(plan)
            if plan.pk == lp.plan_id or _allowance(candidate, usage_type) <= _allowance(terms, usage_type):
                continue
            after = [
                _line_costs(
                    period_usage_rate(item, overlay=lambda t, c=candidate, code=terms.code: c if t.code == code else t)
                )[line_id]
                for item in loaded
            ]
            saving = (sum(before) - sum(after)) / months
            if saving > 0 and (best is None or saving > best[1]):
                best = (plan, saving)
        if best is None:
            continue
        plan, saving = best
        found.append(
            Found(
                "overage",
                line_id,
                money(saving, organization.currency),
                {
                    "months": months,
                    "usage_type": usage_type,
                    "overage_per_month": str(
                        money(sum(o[(line_id, usage_type)] for o in overage) / months, organization.currency)
                    ),
                    "plan": lp.plan.code,
                    "suggested_plan": plan.code,
                    "suggested_plan_name": plan.name,
                },
                suggested_plan_id=plan.pk,
            )
        )
    return found


def _contracted(terms, on: date):
    """The plan's terms with the rates in force on ``on`` held for good: what the contract promised. A kind
    of usage the plan had no rate for then keeps the rates it has now (nothing was promised for it)."""
    held = tuple(
        dataclasses.replace(r, valid_from=date(1970, 1, 1), valid_to=None) for r in terms.rates if r.valid_on(on)
    )
    promised = {(r.usage_type, r.category, r.zone) for r in held}
    later = tuple(r for r in terms.rates if (r.usage_type, r.category, r.zone) not in promised)
    return dataclasses.replace(terms, rates=held + later)


def rate_differs(organization: Organization, as_of: date) -> list[Found]:
    periods = _issued_periods(organization, as_of, 1)
    if not periods:
        return []
    period = periods[0]
    loaded = period_usage_load(organization=organization, period=period)
    actual = _line_usage(period_usage_rate(loaded))
    plans = (
        LinePlan.objects.filter(organization=organization, valid_from__lte=period.end)
        .exclude(valid_to__lte=period.start)
        .select_related("plan")
        .order_by("line_id", "-valid_from")
    )
    contract_of: dict[int, LinePlan] = {}
    for lp in plans:
        contract_of.setdefault(lp.line_id, lp)  # the plan the line was on at the period's end
    by_contract = defaultdict(list)
    for line_id, lp in contract_of.items():
        by_contract[(lp.plan.code, lp.valid_from)].append(line_id)
    found = []
    for (code, since), line_ids in sorted(by_contract.items()):
        terms = loaded.terms_by_code.get(code)
        if terms is None:
            continue
        promised = _contracted(terms, since)
        contracted = _line_usage(
            period_usage_rate(loaded, overlay=lambda t, p=promised, c=code: p if t.code == c else t)
        )
        for line_id in line_ids:
            over = actual.get(line_id, Decimal(0)) - contracted.get(line_id, Decimal(0))
            value = money(over, organization.currency)
            if value > 0:
                found.append(
                    Found(
                        "rate_differs",
                        line_id,
                        value,
                        {
                            "plan": code,
                            "contracted_on": since.isoformat(),
                            "period_start": period.start.isoformat(),
                            "period_end": period.end.isoformat(),
                            "charged": str(money(actual.get(line_id, Decimal(0)), organization.currency)),
                            "at_contracted_rates": str(
                                money(contracted.get(line_id, Decimal(0)), organization.currency)
                            ),
                        },
                    )
                )
    return found
