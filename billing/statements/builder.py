"""The statement builder: from a rated period to the lines, breakdowns, frozen details and totals of its
statement. Pure: no database access (the transactional shell, ``services.statement_issue``, loads what
it needs and saves what it returns); labels are written in the active language.

Money: each line is rounded once, half-up, to the currency's minor unit (``billing.money.money``) and
keeps its exact 6-decimal amount beside it; the subtotal is the sum of the rounded lines; tax is the
subtotal times the rate, rounded once, half-up; the total is subtotal + tax, exactly.

Breakdowns add up: the rows by location and by person count every usage type (calls, texts, data) and
their amounts share out the statement's usage total exactly; the rows by call duration count calls
only (a text or a data session has no duration) and share out the call lines' total. The rule is the
largest remainder (Hamilton) method: each row's exact share of the total, in minor units, is rounded
down, and the units left over go one each to the rows with the largest remainders (ties: the row
first in order). Minutes and megabytes are shared out the same way, to 0.01.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from billing.formatting import Formatter
from billing.models import Statement, StatementBreakdown, StatementLine
from billing.models.choices import Category, DurationBand
from billing.money import exact as exact_amount
from billing.money import minor_unit, money
from billing.people import person_labels
from billing.periods import BillingPeriod
from billing.rating.pipeline import LateUsage, RatedPeriod

UNITS = {"voice": "min", "sms": "msg", "data": "MB"}
LONGEST_CALLS = 10
HUNDREDTH = Decimal("0.01")


def unit_label(unit: str) -> str:
    """A line's unit as the customer reads it, in the active language (stored as the code)."""
    labels = {
        "min": pgettext("unit", "min"),
        "msg": pgettext("unit", "msg"),
        "MB": pgettext("unit", "MB"),
        "days": pgettext("unit", "days"),
    }
    return labels.get(unit, unit)


def largest_remainder(weights: list[Decimal], total: Decimal, unit: Decimal) -> list[Decimal]:
    """Share ``total`` (a multiple of ``unit``) out over rows in proportion to ``weights``, so the
    shares are multiples of ``unit`` and sum to ``total`` exactly: each row gets its exact quota rounded
    down, and the units left over go one each to the largest remainders (ties: the earlier row)."""
    units = int(total / unit)
    weight_sum = sum(weights, Decimal(0))
    if not weights:
        return []
    if weight_sum == 0:
        return [Decimal(0) * unit for _w in weights] if units == 0 else _even(len(weights), units, unit)
    quotas = [w * units / weight_sum for w in weights]
    floors = [math.floor(q) for q in quotas]
    left = units - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [Decimal(f) * unit for f in floors]


def _even(rows: int, units: int, unit: Decimal) -> list[Decimal]:
    base, extra = divmod(units, rows)
    return [Decimal(base + (1 if i < extra else 0)) * unit for i in range(rows)]


@dataclass(frozen=True)
class Directory:
    """Names and numbers the builder shows: location and person names, the masked other party and the
    line number of each of the longest calls."""

    locations: dict[int, str]
    persons: dict[int, str]
    masked: dict[int, str]
    numbers: dict[int, str]  # line id -> number (every line of the organization)
    employee_numbers: dict[int, str] = field(default_factory=dict)
    plans: dict[str, str] = field(default_factory=dict)  # plan code -> catalog name


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
    formatter: Formatter,
    vat_category: str,
) -> Built:
    """Fill in ``statement``'s details and totals (not its number or status) and return its unsaved lines
    and breakdowns. ``formatter`` writes the numbers inside descriptions (the statement's language)."""
    currency = statement.currency
    lines_of: dict[int, set] = defaultdict(set)
    for r, extra_of in charged:
        person_id = extra_of[r.usage.id][1]
        if person_id is not None and r.usage.line_id in directory.numbers:
            lines_of[person_id].add(directory.numbers[r.usage.line_id])
    directory = Directory(
        locations=directory.locations,
        persons=person_labels(
            directory.persons, directory.employee_numbers, {k: sorted(v) for k, v in lines_of.items()}
        ),
        masked=directory.masked,
        numbers=directory.numbers,
        employee_numbers=directory.employee_numbers,
        plans=directory.plans,
    )
    lines = _lines(statement, rated, late, adjustments, currency, directory, formatter)
    for line in lines:  # EN 16931 BT-151: every line under the organization's VAT category (one per statement)
        line.vat_category = vat_category

    def total_of(kind, usage_type=None):
        return sum(
            (
                line.amount
                for line in lines
                if line.kind == kind and (usage_type is None or line.usage_type == usage_type)
            ),
            Decimal(0),
        )

    breakdowns = _breakdowns(
        statement,
        charged,
        directory,
        currency,
        usage_total=total_of(StatementLine.Kind.USAGE),
        calls_total=total_of(StatementLine.Kind.USAGE, "voice"),
    )
    statement.details = _details(period, rated, longest, extra, directory, tz, currency)
    statement.recurring_total = total_of(StatementLine.Kind.RECURRING)
    statement.usage_total = total_of(StatementLine.Kind.USAGE)
    statement.adjustments_total = total_of(StatementLine.Kind.ADJUSTMENT)
    statement.subtotal = sum((line.amount for line in lines), Decimal(0))
    statement.tax_amount = money(statement.subtotal * tax_rate, currency)
    statement.total = statement.subtotal + statement.tax_amount
    return Built(lines, breakdowns)


def _lines(
    statement, rated: RatedPeriod, late: list[LateUsage], adjustments, currency: str, directory, fmt: Formatter
) -> list[StatementLine]:
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
            unit = UNITS[use.allowance.usage_type]
            scope = _("shared") if use.allowance.pooled else _("per line")
            # Rounded once, half-up, to 0.01: the description and the quantity show the same number.
            used = use.used.quantize(HUNDREDTH, ROUND_HALF_UP)
            add(
                StatementLine.Kind.ALLOWANCE,
                _("Included in %(plan)s (%(scope)s): %(used)s of %(granted)s %(unit)s used")
                % {
                    "plan": directory.plans.get(use.plan_code, use.plan_code),
                    "scope": scope,
                    "used": fmt.number(used, 2),
                    "granted": fmt.number(use.granted.quantize(HUNDREDTH, ROUND_HALF_UP), 2),
                    "unit": unit_label(unit),
                },
                Decimal(0),
                usage_type=use.allowance.usage_type,
                quantity=used,
                unit=unit,
            )
    for adj in adjustments:
        text = (_("Credit: %(reason)s") if adj.amount < 0 else _("Adjustment: %(reason)s")) % {"reason": adj.reason}
        if adj.corrects_id:
            text += " " + _("(corrects %(number)s)") % {"number": adj.corrects.number}
        add(StatementLine.Kind.ADJUSTMENT, text, adj.amount)
    return lines


def _breakdowns(
    statement, charged, directory: Directory, currency: str, *, usage_total: Decimal, calls_total: Decimal
) -> list[StatementBreakdown]:
    """Usage charged on the statement (its period's and late) by location and person (every usage type)
    and by call duration band (calls only); each dimension's rows add up to its total (module doc)."""
    by: dict[str, dict] = {"location": {}, "person": {}, "duration_band": {}}
    for r, extra_of in charged:
        kind = r.usage.usage_type
        location_id, person_id, band, seconds = extra_of[r.usage.id]
        keys = [("location", location_id), ("person", person_id)]
        if kind == "voice":
            keys.append(("duration_band", band))
        for dim, key in keys:
            row = by[dim].setdefault(key, {"calls": 0, "seconds": 0, "messages": 0, "bytes": 0, "exact": Decimal(0)})
            if kind == "voice":
                row["calls"] += 1
                row["seconds"] += seconds
            elif kind == "sms":
                row["messages"] += 1
            else:
                row["bytes"] += r.usage.data_bytes
            row["exact"] += r.amount
    names = {"location": directory.locations, "person": directory.persons}
    unit = minor_unit(currency)
    breakdowns = []
    for dim, rows in by.items():
        keys = sorted(rows, key=lambda k: (k is None, k))
        values = [rows[k] for k in keys]
        total = calls_total if dim == "duration_band" else usage_total
        amounts = largest_remainder([v["exact"] for v in values], total, unit)
        minutes = _shared([Decimal(v["seconds"]) / 60 for v in values])
        megabytes = _shared([Decimal(v["bytes"]) / 1_000_000 for v in values])
        for key, value, amount, mins, mbs in zip(keys, values, amounts, minutes, megabytes, strict=True):
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
                    label=label[:200],
                    calls=value["calls"],
                    minutes=mins,
                    messages=value["messages"],
                    megabytes=mbs,
                    amount=amount,
                )
            )
    return breakdowns


def _shared(exact: list[Decimal]) -> list[Decimal]:
    """Quantities to 0.01 that add up to their total rounded half-up (largest remainder)."""
    total = sum(exact, Decimal(0)).quantize(HUNDREDTH, ROUND_HALF_UP)
    return largest_remainder(exact, total, HUNDREDTH)


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
