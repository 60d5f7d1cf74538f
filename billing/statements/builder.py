"""The statement builder: from a rated period to the lines, breakdowns, frozen details and totals of its
statement. Pure: no database access (the transactional shell, ``services.statement_issue``, loads what
it needs and saves what it returns); labels are written in the active language.

Money: each line is rounded once, half-up, to the currency's minor unit (``billing.money.money``) and
keeps its exact 6-decimal amount beside it; the subtotal is the sum of the rounded lines; tax is the
subtotal times the rate, rounded once, half-up; the total is subtotal + tax, exactly. Breakdown rows
are informative and each is rounded once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from billing.models import Statement, StatementBreakdown, StatementLine
from billing.models.choices import Category, DurationBand
from billing.money import exact as exact_amount
from billing.money import money
from billing.periods import BillingPeriod
from billing.rating.pipeline import LateUsage, RatedPeriod

UNITS = {"voice": "min", "sms": "msg", "data": "MB"}
LONGEST_CALLS = 10


@dataclass(frozen=True)
class Directory:
    """Names and numbers the builder shows: location and person names, the masked other party and the
    line number of each of the longest calls."""

    locations: dict[int, str]
    persons: dict[int, str]
    masked: dict[int, str]
    numbers: dict[int, str]


@dataclass
class Built:
    lines: list[StatementLine]
    breakdowns: list[StatementBreakdown]


def longest_calls(rated, extra) -> list:
    """The period's longest answered calls, longest first (ties by record id)."""
    return sorted(
        (r for r in rated if r.usage.usage_type == "voice" and r.usage.answered),
        key=lambda r: (-extra[r.usage.id][3], r.usage.id),
    )[:LONGEST_CALLS]


def statement_build(
    *,
    statement: Statement,
    period: BillingPeriod,
    rated: RatedPeriod,
    late: list[LateUsage],
    adjustments: list,
    charged: list,
    longest: list,
    extra: dict,
    directory: Directory,
    tz,
    tax_rate: Decimal,
    vat_category: str,
) -> Built:
    """Fill in ``statement``'s details and totals (not its number or status) and return its unsaved lines
    and breakdowns."""
    currency = statement.currency
    lines = _lines(statement, rated, late, adjustments, currency)
    for line in lines:  # EN 16931 BT-151: every line under the organization's VAT category (one per statement)
        line.vat_category = vat_category
    breakdowns = _breakdowns(statement, charged, directory, currency)
    statement.details = _details(period, rated, longest, extra, directory, tz, currency)

    def total_of(kind):
        return sum((line.amount for line in lines if line.kind == kind), Decimal(0))

    statement.recurring_total = total_of(StatementLine.Kind.RECURRING)
    statement.usage_total = total_of(StatementLine.Kind.USAGE)
    statement.adjustments_total = total_of(StatementLine.Kind.ADJUSTMENT)
    statement.subtotal = sum((line.amount for line in lines), Decimal(0))
    statement.tax_amount = money(statement.subtotal * tax_rate, currency)
    statement.total = statement.subtotal + statement.tax_amount
    return Built(lines, breakdowns)


def _lines(statement, rated: RatedPeriod, late: list[LateUsage], adjustments, currency: str) -> list[StatementLine]:
    lines: list[StatementLine] = []

    def add(kind, description, exact, **kw):
        lines.append(
            StatementLine(
                statement=statement,
                position=len(lines) + 1,
                kind=kind,
                description=description[:300],
                exact_amount=exact_amount(exact),
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
    for use in rated.result.allowances:
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
    for adj in adjustments:
        ref = f" (corrects {adj.corrects.number})" if adj.corrects_id else ""
        add(
            StatementLine.Kind.ADJUSTMENT,
            f"{'Credit' if adj.amount < 0 else 'Adjustment'}: {adj.reason}{ref}",
            adj.amount,
        )
    return lines


def _breakdowns(statement, charged, directory: Directory, currency: str) -> list[StatementBreakdown]:
    """Calls charged on the statement (its period's and late ones) by location, person and duration band."""
    by: dict[str, dict] = {
        "location": defaultdict(lambda: [0, 0, Decimal(0)]),
        "person": defaultdict(lambda: [0, 0, Decimal(0)]),
        "duration_band": defaultdict(lambda: [0, 0, Decimal(0)]),
    }
    for r, extra_of in charged:
        if r.usage.usage_type != "voice":
            continue
        location_id, person_id, band, seconds = extra_of[r.usage.id]
        for dim, key in (("location", location_id), ("person", person_id), ("duration_band", band)):
            row = by[dim][key]
            row[0] += 1
            row[1] += seconds
            row[2] += r.amount
    names = {"location": directory.locations, "person": directory.persons}
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
    return breakdowns


def _details(period, rated: RatedPeriod, longest, extra, directory: Directory, tz, currency: str) -> dict:
    """Details frozen with the statement: the PDF re-renders from these, never from live data."""
    daily: dict[date, Decimal] = defaultdict(Decimal)
    for r in rated.result.rated:
        daily[r.usage.local_date] += r.amount
    day = period.start
    daily_rows = []
    while day <= period.end:
        daily_rows.append([day.isoformat(), str(money(daily.get(day, Decimal(0)), currency))])
        day += timedelta(days=1)
    return {
        "daily_cost": daily_rows,
        "longest_calls": [
            {
                "started": r.usage.started_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                "line": directory.numbers.get(r.usage.line_id, ""),
                "person": directory.persons.get(extra[r.usage.id][1], ""),
                "location": directory.locations.get(extra[r.usage.id][0], ""),
                "other_party": directory.masked.get(r.usage.id, ""),
                "seconds": extra[r.usage.id][3],
                "amount": str(money(r.amount, currency)),
            }
            for r in longest
        ],
    }
