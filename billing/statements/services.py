"""The billing run: rate a closed period's usage and issue exactly one statement for it.

``statement_issue`` runs in one transaction under a per-(organization, period) advisory lock. A worker
killed in the middle leaves nothing behind (the transaction rolls back) and the next run does the
whole job; a second or concurrent run finds the issued statement and returns it. The unique
(organization, period_start) constraint backs this up in the database.

Money: rated amounts keep 6 decimals; each statement line is rounded once, half-up, to the currency's
minor unit; the subtotal is the sum of the rounded lines; tax is the subtotal times the rate, rounded
once, half-up; the total is subtotal + tax, exactly.
"""

from __future__ import annotations

import calendar
import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from billing.models import (
    Adjustment,
    LinePlan,
    Organization,
    Plan,
    Statement,
    StatementBreakdown,
    StatementLine,
    StatementNumberSequence,
    UsageRecord,
)
from billing.models.choices import Category, DurationBand, UsageType
from billing.rating.engine import Allowance, PeriodRating, PlanTerms, Rate, Usage, rate_period
from billing.statements.pdf import CURRENT_TEMPLATE_VERSION
from billing.usage.rollups import rollups_rebuild
from billing.webhooks import webhook_emit

MINOR_UNITS = {"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3}
UNITS = {"voice": "min", "sms": "msg", "data": "MB"}


class BillingError(Exception):
    pass


def money(amount: Decimal, currency: str) -> Decimal:
    """Round once, half-up, to the currency's minor unit."""
    places = MINOR_UNITS.get(currency, 2)
    return amount.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


@dataclass(frozen=True)
class BillingPeriod:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _add_month(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def billing_period(organization: Organization, year: int, month: int) -> BillingPeriod:
    """The period that starts on the organization's billing day in ``year``-``month``."""
    start = date(year, month, organization.billing_day)
    return BillingPeriod(start, _add_month(start, 1) - timedelta(days=1))


def period_containing(organization: Organization, day: date) -> BillingPeriod:
    start = date(day.year, day.month, organization.billing_day)
    if day < start:
        start = _add_month(start, -1)
    return billing_period(organization, start.year, start.month)


def last_closed_period(organization: Organization, now: datetime | None = None) -> BillingPeriod:
    today = (now or timezone.now()).astimezone(organization.tz).date()
    current = period_containing(organization, today)
    return period_containing(organization, current.start - timedelta(days=1))


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


def _next_number(year: int) -> str:
    StatementNumberSequence.objects.get_or_create(year=year)
    seq = StatementNumberSequence.objects.select_for_update().get(year=year)
    seq.last_number += 1
    seq.save(update_fields=["last_number"])
    return f"{year}-{seq.last_number:06d}"


def _write_costs(
    rated, plan_code_of: dict[int, str], plans_by_code: dict[str, Plan], statement_id: int | None = None
) -> None:
    """Store each record's rated cost, and with ``statement_id`` the statement that charges it (the
    append-only trigger allows exactly these columns; a record's statement is set once). Only the records
    given are marked: one that arrives while a statement is issued stays unbilled for the next one."""
    buffer = io.StringIO()
    for r in rated:
        plan_code = plan_code_of.get(r.usage.id)
        plan_id = plans_by_code[plan_code].id if plan_code else ""
        buffer.write(f"{r.usage.id}\t{r.amount}\t{plan_id or chr(92) + 'N'}\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS rated_incoming (id bigint, cost numeric, plan_id bigint)")
        cursor.execute("TRUNCATE rated_incoming")
        cursor.copy_expert("COPY rated_incoming FROM STDIN", buffer)
        cursor.execute(
            """UPDATE billing_usagerecord u SET cost = r.cost, rated_plan_id = r.plan_id, rated_at = now(),
                      billed_on_id = COALESCE(u.billed_on_id, %s)
               FROM rated_incoming r WHERE u.id = r.id
               AND (u.cost IS DISTINCT FROM r.cost OR u.rated_plan_id IS DISTINCT FROM r.plan_id
                    OR (u.billed_on_id IS NULL AND %s IS NOT NULL))""",
            [statement_id, statement_id],
        )
        cursor.execute("TRUNCATE rated_incoming")


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


def _period_rate_and_store(
    organization: Organization, loaded: PeriodUsage, statement_id: int | None = None
) -> RatedPeriod:
    """Rate a loaded period, store each record's cost and plan (and the statement charging it), and
    rebuild the rollups it touched."""
    rated = period_usage_rate(loaded)
    _store_rated(organization, rated, rated.result.rated, loaded, statement_id)
    return rated


def _store_rated(organization, rated: RatedPeriod, records, loaded: PeriodUsage, statement_id: int | None) -> None:
    plan_code_of = {}
    for r in records:
        plan = rated.plan_for(r.usage)
        if plan is not None:
            plan_code_of[r.usage.id] = plan.code
    _write_costs(records, plan_code_of, loaded.plans_by_code, statement_id)
    if records:
        rollups_rebuild(slices={(organization.id, r.usage.local_date) for r in records})


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

    def plan_for(usage: Usage) -> PlanTerms | None:
        for start, end, code in loaded.segments.get(usage.line_id, ()):
            if start <= usage.local_date and (end is None or usage.local_date < end):
                return terms[code]
        return None

    result = rate_period(
        loaded.usages, plan_for, lines_on_plan=lines_on_plan, line_share=loaded.line_share, arrived_late=late
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


def statement_issue(*, organization: Organization, period: BillingPeriod, now: datetime | None = None) -> Statement:
    """Rate the period's usage and issue its statement; returns the existing one if already issued.

    Line descriptions are written in the organization's language (they are part of what is issued).
    Once an organization's billing has started, a period between its latest statement and this one that
    has no statement yet is issued first, oldest first, in the same transaction: numbers follow the
    periods and each previous balance counts every earlier statement (a missed month is caught up, never
    skipped). A period before an issued one is refused (see _statement_issue).
    """
    latest = (
        Statement.objects.filter(organization=organization, period_start__lt=period.start)
        .exclude(status=Statement.Status.DRAFT)
        .order_by("-period_start")
        .first()
    )
    with transaction.atomic(), translation.override(statement_language(organization)):
        if latest is not None:
            missed = period_containing(organization, latest.period_end + timedelta(days=1))
            while missed.start < period.start:
                _statement_issue(organization=organization, period=missed, now=now)
                missed = period_containing(organization, missed.end + timedelta(days=1))
        return _statement_issue(organization=organization, period=period, now=now)


def statement_language(organization: Organization) -> str:
    language = (organization.locale or "en").split("-")[0].lower()
    return language if language in {code for code, _name in settings.LANGUAGES} else "en"


@transaction.atomic
def _statement_issue(*, organization: Organization, period: BillingPeriod, now: datetime | None) -> Statement:
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext('billing.statement'), hashtext(%s))",
            [f"{organization.id}:{period.start.isoformat()}"],
        )
    existing = Statement.objects.filter(organization=organization, period_start=period.start).first()
    if existing is not None and existing.status != Statement.Status.DRAFT:
        return existing
    if now.astimezone(organization.tz).date() <= period.end:
        raise BillingError(f"period {period.start}–{period.end} of {organization.account_number} is not closed yet")
    later = (
        Statement.objects.filter(organization=organization, period_start__gt=period.start)
        .exclude(status=Statement.Status.DRAFT)
        .order_by("period_start")
        .first()
    )
    if later is not None:
        raise BillingError(
            f"period {period.start}–{period.end} of {organization.account_number} comes before statement "
            f"{later.number} ({later.period_start}–{later.period_end}), which is issued: its balance would be "
            "missing there"
        )
    if existing is not None:  # a draft left by an older version or a manual run: rebuild it
        existing.delete()

    currency = organization.currency
    statement = Statement.objects.create(
        organization=organization,
        period_start=period.start,
        period_end=period.end,
        currency=currency,
        language=statement_language(organization),
        tax_rate=organization.tax_rate,
        template_version=CURRENT_TEMPLATE_VERSION,
    )
    loaded = period_usage_load(organization=organization, period=period)
    rated = _period_rate_and_store(organization, loaded, statement.id)
    result, extra = rated.result, loaded.extra
    late = late_usage_load(organization=organization, before=period.start)
    for item in late:
        _store_rated(organization, item.rated, item.records, item.loaded, statement.id)

    # --- Statement lines --------------------------------------------------------------------------
    lines: list[StatementLine] = []

    def add(kind, description, exact, **kw):
        lines.append(
            StatementLine(
                statement=statement,
                position=len(lines) + 1,
                kind=kind,
                description=description[:300],
                exact_amount=exact.quantize(Decimal("0.000001"), ROUND_HALF_UP),
                amount=money(exact, currency),
                **kw,
            )
        )

    for item in rated.recurring:
        add(StatementLine.Kind.RECURRING, item.label, item.exact, line=item.line, quantity=item.days, unit="days")

    def add_usage(usage_groups, earlier: BillingPeriod | None = None):
        for (usage_type, category, zone), (quantity, exact, count) in usage_groups:
            category_label = str(Category(category).label) if category else _("Other")
            if usage_type == "voice":
                label = _("Calls: %(category)s") % {"category": category_label} + (f" ({zone})" if zone else "")
            elif usage_type == "sms":
                label = _("Text messages: %(category)s") % {"category": category_label}
            else:
                label = _("Data")
            if earlier is not None:
                label = _("%(start)s–%(end)s: %(what)s") % {
                    "start": date_format(earlier.start, "SHORT_DATE_FORMAT"),
                    "end": date_format(earlier.end, "SHORT_DATE_FORMAT"),
                    "what": label,
                }
            add(
                StatementLine.Kind.USAGE,
                f"{label} — " + ngettext("%(count)s record", "%(count)s records", count) % {"count": count},
                exact,
                usage_type=usage_type,
                category=category,
                zone=zone,
                quantity=quantity.quantize(Decimal("0.001"), ROUND_HALF_UP),
                unit=UNITS[usage_type],
                usage_period_start=earlier.start if earlier else None,
                usage_period_end=earlier.end if earlier else None,
            )

    add_usage(rated.usage_groups)
    for item in late:  # usage from earlier periods, each line naming its period
        add_usage(item.usage_groups, item.period)
    for use in result.allowances:
        if use.used:
            what = UNITS[use.allowance.usage_type]
            scope = _("shared") if use.allowance.pooled else _("per line")
            add(
                StatementLine.Kind.ALLOWANCE,
                _("Included in %(plan)s (%(scope)s): %(used)s of %(granted)s %(unit)s used")
                % {
                    "plan": use.plan_code,
                    "scope": scope,
                    "used": f"{use.used:.2f}",
                    "granted": f"{use.granted:.2f}",
                    "unit": what,
                },
                Decimal(0),
                usage_type=use.allowance.usage_type,
                quantity=use.used.quantize(Decimal("0.001")),
                unit=what,
            )
    adjustments = list(
        Adjustment.objects.select_for_update().filter(organization=organization, applied_to__isnull=True)
    )
    for adj in adjustments:
        ref = f" (corrects {adj.corrects.number})" if adj.corrects_id else ""
        add(
            StatementLine.Kind.ADJUSTMENT,
            f"{'Credit' if adj.amount < 0 else 'Adjustment'}: {adj.reason}{ref}",
            adj.amount,
        )
    StatementLine.objects.bulk_create(lines)
    Adjustment.objects.filter(pk__in=[a.pk for a in adjustments]).update(applied_to=statement)

    # --- Breakdowns (informative; each row rounded once) ------------------------------------------
    by: dict[str, dict] = {
        "location": defaultdict(lambda: [0, 0, Decimal(0)]),
        "person": defaultdict(lambda: [0, 0, Decimal(0)]),
        "duration_band": defaultdict(lambda: [0, 0, Decimal(0)]),
    }
    charged = [(r, extra) for r in result.rated] + [(r, item.loaded.extra) for item in late for r in item.records]
    for r, extra_of in charged:
        if r.usage.usage_type != "voice":
            continue
        location_id, person_id, band, seconds = extra_of[r.usage.id]
        for dim, key in (("location", location_id), ("person", person_id), ("duration_band", band)):
            row = by[dim][key]
            row[0] += 1
            row[1] += seconds
            row[2] += r.amount
    names = {
        "location": dict(organization.locations.values_list("id", "name")),
        "person": dict(organization.persons.values_list("id", "name")),
    }
    breakdowns = []
    for dim, rows in by.items():
        for key, (calls, seconds, exact) in rows.items():
            if dim == "duration_band":
                label = str(DurationBand(key).label)
            else:
                label = names[dim].get(key, _("No location") if dim == "location" else _("Unassigned"))
            breakdowns.append(
                StatementBreakdown(
                    statement=statement,
                    dimension=dim,
                    location_id=key if dim == "location" else None,
                    person_id=key if dim == "person" else None,
                    duration_band=key if dim == "duration_band" else None,
                    label=label,
                    calls=calls,
                    minutes=(Decimal(seconds) / 60).quantize(Decimal("0.01"), ROUND_HALF_UP),
                    amount=money(exact, currency),
                )
            )
    StatementBreakdown.objects.bulk_create(breakdowns)

    # --- Details frozen with the statement (the PDF re-renders from these, never from live data) ----
    daily: dict[date, Decimal] = defaultdict(Decimal)
    for r in result.rated:
        daily[r.usage.local_date] += r.amount
    day = period.start
    daily_rows = []
    while day <= period.end:
        daily_rows.append([day.isoformat(), str(money(daily.get(day, Decimal(0)), currency))])
        day += timedelta(days=1)
    longest = sorted(
        (r for r in result.rated if r.usage.usage_type == "voice" and r.usage.answered),
        key=lambda r: (-extra[r.usage.id][3], r.usage.id),
    )[:10]
    masked = dict(
        UsageRecord.objects.filter(id__in=[r.usage.id for r in longest]).values_list("id", "destination_masked")
    )
    numbers = dict(organization.lines.filter(id__in={r.usage.line_id for r in longest}).values_list("id", "number"))
    statement.details = {
        "daily_cost": daily_rows,
        "longest_calls": [
            {
                "started": r.usage.started_at.astimezone(organization.tz).strftime("%Y-%m-%d %H:%M"),
                "line": numbers.get(r.usage.line_id, ""),
                "person": names["person"].get(extra[r.usage.id][1], ""),
                "location": names["location"].get(extra[r.usage.id][0], ""),
                "other_party": masked.get(r.usage.id, ""),
                "seconds": extra[r.usage.id][3],
                "amount": str(money(r.amount, currency)),
            }
            for r in longest
        ],
    }

    # --- Totals and issue -------------------------------------------------------------------------
    def total_of(kind):
        return sum((line.amount for line in lines if line.kind == kind), Decimal(0))

    statement.recurring_total = total_of(StatementLine.Kind.RECURRING)
    statement.usage_total = total_of(StatementLine.Kind.USAGE)
    statement.adjustments_total = total_of(StatementLine.Kind.ADJUSTMENT)
    statement.subtotal = sum((line.amount for line in lines), Decimal(0))
    statement.tax_amount = money(statement.subtotal * organization.tax_rate, currency)
    statement.total = statement.subtotal + statement.tax_amount
    statement.previous_balance = sum(
        Statement.objects.filter(
            organization=organization, status=Statement.Status.ISSUED, period_start__lt=period.start
        ).values_list("total", flat=True),
        Decimal(0),
    )
    statement.number = _next_number(now.year)
    statement.status = Statement.Status.ISSUED
    statement.issued_at = now
    statement.due_date = now.astimezone(organization.tz).date() + timedelta(days=organization.payment_terms_days)
    statement.save()
    webhook_emit(
        organization=organization,
        event="statement.issued",
        event_id=f"statement.issued:{statement.number}",
        payload={
            "number": statement.number,
            "account_number": organization.account_number,
            "period_start": statement.period_start.isoformat(),
            "period_end": statement.period_end.isoformat(),
            "currency": statement.currency,
            "subtotal": str(statement.subtotal),
            "tax": str(statement.tax_amount),
            "total": str(statement.total),
            "due_date": statement.due_date.isoformat(),
        },
    )
    return statement


def adjustment_create(*, organization: Organization, amount: Decimal, reason: str, created_by=None, corrects=None):
    """A correction or credit for the next statement (issued statements never change)."""
    if not reason.strip():
        raise BillingError("an adjustment needs a reason")
    return Adjustment.objects.create(
        organization=organization, amount=amount, reason=reason.strip(), created_by=created_by, corrects=corrects
    )


def usage_rate_open_period(*, organization: Organization, now: datetime | None = None) -> int:
    """Price the usage of the organization's open billing period so far, so that the dashboard's
    "charges so far", the projection and budget alerts show money before the period is billed.

    Rated exactly as the statement will rate it (same load and rating functions); allowances are
    consumed in time order, so the calls made so far get the cost they will have on the statement.
    Idempotent; the statement's own rating at issue overwrites these columns. Returns records rated."""
    today = (now or timezone.now()).astimezone(organization.tz).date()
    period = period_containing(organization, today)
    with transaction.atomic():
        loaded = period_usage_load(organization=organization, period=period)
        if not loaded.usages:
            return 0
        return len(_period_rate_and_store(organization, loaded).result.rated)
