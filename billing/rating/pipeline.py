"""The period pipeline: load an organization's usage and line plans for one billing period, and rate it.

Statements rate a period as it is; offers re-rate the very same loaded data under a candidate plan or
bundle (``period_usage_rate(..., overlay=...)``), so an offer's price is computed exactly like a
statement. Loading reads the database; rating is pure (``billing.rating.engine``). Storing the rated
costs is ``billing.rating.store``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.utils.translation import gettext as _

from billing.models import LinePlan, Organization, Plan, Statement, UsageRecord
from billing.models.choices import UsageType
from billing.money import money
from billing.periods import BillingPeriod, period_containing
from billing.rating.engine import Allowance, PeriodRating, PlanTerms, Rate, Usage, rate_period


def plan_terms(plan: Plan) -> PlanTerms:
    return PlanTerms(
        code=plan.code,
        currency=plan.currency,
        monthly_fee=plan.monthly_fee,
        call_setup_fee=plan.call_setup_fee,
        rates=tuple(
            Rate(
                r.usage_type,
                r.category,
                r.zone,
                r.price,
                r.first_increment,
                r.next_increment,
                r.minimum_charge,
                r.valid_from,
                r.valid_to,
            )
            for r in plan.rates.all()
        ),
        allowances=tuple(
            Allowance(a.usage_type, a.quantity, tuple(a.categories), tuple(a.zones), a.pooled)
            for a in plan.allowances.all()
        ),
    )


def _overlap_days(start: date, end_exclusive: date | None, period: BillingPeriod) -> int:
    lo = max(start, period.start)
    hi = min(end_exclusive or date.max, period.end + timedelta(days=1))
    return max((hi - lo).days, 0)


@dataclass(frozen=True)
class RecurringCharge:
    label: str
    line: object  # billing.models.Line
    days: Decimal
    share: Decimal  # part of the period the line was on the plan (proration)
    plan_code: str


@dataclass
class PeriodUsage:
    """An organization's usage and line plans for one billing period, loaded into the rating dataclasses.

    Statements rate it as it is; offers re-rate the very same data under a candidate plan or bundle
    (``period_usage_rate(..., overlay=...)``), so an offer's price is computed exactly like a statement.
    """

    period: BillingPeriod
    terms_by_code: dict[str, PlanTerms]
    plans_by_code: dict[str, Plan]
    segments: dict[int, list[tuple[date, date | None, str]]]
    lines_on_plan: dict[str, list[int]]
    line_share: dict[int, Decimal]
    plan_share: dict[tuple[int, str], Decimal]  # (line, plan code) -> share of the period on that plan
    recurring: list[RecurringCharge]
    usages: list[Usage]
    extra: dict[int, tuple]  # usage id -> (location_id, person_id, duration_band, duration_seconds)
    countries: dict[int, str]  # usage id -> called country (ISO), for explanations
    unbilled: frozenset[int] = frozenset()  # ids of records no statement has charged yet


@dataclass
class RatedPeriod:
    result: PeriodRating
    plan_for: Callable[[Usage], PlanTerms | None]
    recurring: list[RecurringExact]
    # ((usage_type, category, zone), (quantity, exact amount, records)), in statement order
    usage_groups: list[tuple[tuple[str, str, str], tuple[Decimal, Decimal, int]]]

    def charge_lines(self, currency: str) -> dict[tuple, Decimal]:
        """The recurring and usage lines a statement of this rating would carry, each rounded once
        (half-up, to the currency's minor unit), keyed by what they charge for."""
        lines: dict[tuple, Decimal] = defaultdict(Decimal)
        for item in self.recurring:
            lines[("recurring", item.line.id, item.plan_code)] += money(item.exact, currency)
        for key, (_quantity, exact, _count) in self.usage_groups:
            lines[("usage", *key)] += money(exact, currency)
        return dict(lines)


@dataclass(frozen=True)
class RecurringExact:
    label: str
    line: object
    days: Decimal
    exact: Decimal
    plan_code: str


@dataclass
class LateUsage:
    """Records of an earlier, already issued period that arrived after its statement: rated under that
    period's plans, after the records its statement charged (whose allowance stays used)."""

    period: BillingPeriod
    loaded: PeriodUsage
    rated: RatedPeriod
    records: list  # the late records' Rated
    usage_groups: list[tuple[tuple[str, str, str], tuple[Decimal, Decimal, int]]]


def late_usage_load(*, organization: Organization, before: date) -> list[LateUsage]:
    """Unbilled records of issued periods before ``before``, per period, oldest first, rated.

    Periods before the organization's first statement were never billed and are not "late"; every
    period from the first statement on has one (statements follow their periods without gaps)."""
    first = (
        Statement.objects.filter(organization=organization, status__in=(Statement.Status.ISSUED, Statement.Status.PAID))
        .order_by("period_start")
        .values_list("period_start", flat=True)
        .first()
    )
    if first is None or first >= before:
        return []
    days = (
        UsageRecord.objects.filter(
            organization=organization, billed_on__isnull=True, local_date__gte=first, local_date__lt=before
        )
        .values_list("local_date", flat=True)
        .distinct()
    )
    periods = sorted({period_containing(organization, day) for day in days}, key=lambda p: p.start)
    late = []
    for period in periods:
        loaded = period_usage_load(organization=organization, period=period)
        rated = period_usage_rate(loaded, late=loaded.unbilled)
        records = [r for r in rated.result.rated if r.usage.id in loaded.unbilled]
        if records:
            late.append(LateUsage(period, loaded, rated, records, _usage_groups(records)))
    return late


def period_usage_load(*, organization: Organization, period: BillingPeriod) -> PeriodUsage:
    """Read the period's line plans and usage records (read only; labels in the active language)."""
    period_end_excl = period.end + timedelta(days=1)
    line_plans = list(
        LinePlan.objects.filter(organization=organization, valid_from__lt=period_end_excl)
        .exclude(valid_to__lte=period.start)
        .select_related("line", "plan")
        .prefetch_related("plan__rates", "plan__allowances")
        .order_by("line__number", "valid_from")
    )
    terms_by_code: dict[str, PlanTerms] = {}
    plans_by_code: dict[str, Plan] = {}
    segments: dict[int, list[tuple[date, date | None, str]]] = defaultdict(list)
    lines_on_plan: dict[str, list[int]] = defaultdict(list)
    line_share: dict[int, Decimal] = {}
    plan_share: dict[tuple[int, str], Decimal] = {}
    recurring = []
    for lp in line_plans:
        plans_by_code[lp.plan.code] = lp.plan
        terms_by_code.setdefault(lp.plan.code, plan_terms(lp.plan))
        line = lp.line
        active_from = max(lp.valid_from, line.activated_on)
        active_to = min(lp.valid_to or date.max, line.deactivated_on or date.max)
        days = _overlap_days(active_from, None if active_to == date.max else active_to, period)
        segments[line.id].append((lp.valid_from, lp.valid_to, lp.plan.code))
        if days <= 0:
            continue
        if line.id not in lines_on_plan[lp.plan.code]:
            lines_on_plan[lp.plan.code].append(line.id)
        share = Decimal(days) / Decimal(period.days)
        line_share[line.id] = min(line_share.get(line.id, Decimal(0)) + share, Decimal(1))
        key = (line.id, lp.plan.code)
        plan_share[key] = min(plan_share.get(key, Decimal(0)) + share, Decimal(1))
        label = f"{lp.plan.name} — {line.number}"
        if days < period.days:
            label += (
                " (" + _("%(days)s of %(days_in_period)s days") % {"days": days, "days_in_period": period.days} + ")"
            )
        recurring.append(RecurringCharge(label, line, Decimal(days), share, lp.plan.code))

    records = list(
        UsageRecord.objects.filter(organization=organization, local_date__range=(period.start, period.end)).values_list(
            "id",
            "line_id",
            "usage_type",
            "started_at",
            "local_date",
            "direction",
            "answered",
            "billable_seconds",
            "category",
            "zone",
            "data_bytes",
            "location_id",
            "person_id",
            "duration_band",
            "duration_seconds",
            "country",
            "billed_on_id",
        )
    )
    return PeriodUsage(
        period=period,
        terms_by_code=terms_by_code,
        plans_by_code=plans_by_code,
        segments=dict(segments),
        lines_on_plan=dict(lines_on_plan),
        line_share=line_share,
        plan_share=plan_share,
        recurring=recurring,
        usages=[Usage(*row[:11]) for row in records],
        extra={row[0]: row[11:15] for row in records},
        countries={row[0]: row[15] for row in records},
        unbilled=frozenset(row[0] for row in records if row[16] is None),
    )


def period_usage_rate(
    loaded: PeriodUsage,
    *,
    overlay: Callable[[PlanTerms], PlanTerms] | None = None,
    late: frozenset[int] = frozenset(),
) -> RatedPeriod:
    """Rate a loaded period (pure: no database). ``overlay`` maps each line's plan terms to the terms
    to rate under instead (an offer's plan change or bundle); statements pass none. ``late``: records
    that arrived after the period was billed, rated after all the others."""
    terms = {code: overlay(t) if overlay else t for code, t in loaded.terms_by_code.items()}
    lines_on_plan: dict[str, list[int]] = defaultdict(list)
    for code, line_ids in loaded.lines_on_plan.items():
        target = lines_on_plan[terms[code].code]  # a plan change may pool lines of several plans
        target.extend(lid for lid in line_ids if lid not in target)

    # Allowances are prorated like fees: by the share of the period each line spent on each plan (under
    # an overlay, on the plan it is re-rated as; shares landing on the same plan add up, at most 1).
    plan_share: dict[tuple[int, str], Decimal] = {}
    for (line_id, code), share in loaded.plan_share.items():
        key = (line_id, terms[code].code)
        plan_share[key] = min(plan_share.get(key, Decimal(0)) + share, Decimal(1))

    def plan_for(usage: Usage) -> PlanTerms | None:
        for start, end, code in loaded.segments.get(usage.line_id, ()):
            if start <= usage.local_date and (end is None or usage.local_date < end):
                return terms[code]
        return None

    result = rate_period(
        loaded.usages,
        plan_for,
        lines_on_plan=lines_on_plan,
        line_share=loaded.line_share,
        plan_share=plan_share,
        arrived_late=late,
    )
    recurring = [
        RecurringExact(item.label, item.line, item.days, terms[item.plan_code].monthly_fee * item.share, item.plan_code)
        for item in loaded.recurring
        if terms[item.plan_code].monthly_fee
    ]
    return RatedPeriod(result=result, plan_for=plan_for, recurring=recurring, usage_groups=_usage_groups(result.rated))


def _usage_groups(rated) -> list[tuple[tuple[str, str, str], tuple[Decimal, Decimal, int]]]:
    """Chargeable records summed per (usage type, category, zone), in statement order."""
    groups: dict[tuple, list] = defaultdict(lambda: [Decimal(0), Decimal(0), 0])
    for r in rated:
        if not r.chargeable:
            continue
        key = (r.usage.usage_type, r.usage.category, r.usage.zone)
        groups[key][0] += r.quantity - r.covered
        groups[key][1] += r.amount
        groups[key][2] += 1
    type_order = {t: i for i, t in enumerate(UsageType.values)}
    return [
        (key, tuple(value))
        for key, value in sorted(
            groups.items(), key=lambda item: (type_order.get(item[0][0], 9), item[0][1], item[0][2])
        )
    ]
