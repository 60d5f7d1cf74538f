"""Usage compared with the period before: the explorer's table, the dashboard, its exports read it here
(the API's ``comparePrevious`` uses the same period rule, ``billing.periods.comparison_period``).

The groups of a summary (top N and "others") each beside the same group in the period compared with:
the previous billing period (or the same days of it for a period so far; as many days just before for
free dates), with the change and the change in percent of the chosen metric. Calendar
groups (a day, a week, a month) never recur in the previous period: then only the totals are compared.
Percentages are rounded once, half-up, to one decimal; none when the previous value is zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from billing.periods import Basis
from billing.usage.scope import Scope
from billing.usage.selectors import (
    Dimension,
    Metric,
    Period,
    Totals,
    UsageFilter,
    UsageSummary,
    previous_of,
    usage_summary,
)

TIME_DIMENSIONS = {Dimension.DAY, Dimension.WEEK, Dimension.MONTH}
_ADDITIVE = ("records", "calls", "messages", "data_sessions", "duration", "billable", "data_bytes", "cost")


def change(current, previous) -> tuple[Decimal | None, Decimal | None]:
    """(difference, percent) of ``current`` against ``previous``; percent None when previous is 0."""
    if previous is None:
        return None, None
    delta = Decimal(current) - Decimal(previous)
    pct = (delta * 100 / Decimal(previous)).quantize(Decimal("0.1"), ROUND_HALF_UP) if previous else None
    return delta, pct


@dataclass
class ComparedRow:
    row: object  # the summary's SummaryRow
    previous: Totals | None
    delta: Decimal | None
    pct: Decimal | None


@dataclass
class Comparison:
    summary: UsageSummary
    metric: Metric
    previous_period: Period
    basis: Basis
    rows: list[ComparedRow]
    previous_totals: Totals
    total_delta: Decimal | None
    total_pct: Decimal | None


def usage_comparison(
    *,
    scope: Scope,
    period: Period,
    group_by: list,
    filters: UsageFilter,
    order_by: Metric | None = None,
    descending: bool = True,
    first: int | None = None,
) -> Comparison:
    summary = usage_summary(
        scope=scope,
        period=period,
        group_by=group_by,
        filters=filters,
        order_by=order_by,
        descending=descending,
        first=first,
    )
    metric = order_by or Metric.COST
    by_group = not (set(group_by) & TIME_DIMENSIONS)
    previous_period, basis = previous_of(scope, period)
    previous = usage_summary(
        scope=scope, period=previous_period, group_by=group_by if by_group else [], filters=filters, order_by=None
    )
    previous_by_key = {tuple(k.value for k in r.keys): r.totals for r in previous.rows} if by_group else {}
    rows = []
    shown_previous = Totals()
    for row in summary.rows:
        prev = None
        if by_group and not row.is_others:
            prev = previous_by_key.get(tuple(k.value for k in row.keys), Totals())
            shown_previous.add(prev)
        elif by_group and row.is_others:
            prev = Totals()
            for totals in previous_by_key.values():
                prev.add(totals)
            for name in _ADDITIVE:
                setattr(prev, name, getattr(prev, name) - getattr(shown_previous, name))
        delta, pct = change(row.totals.metric(metric), prev.metric(metric)) if prev is not None else (None, None)
        rows.append(ComparedRow(row, prev, delta, pct))
    total_delta, total_pct = change(summary.totals.metric(metric), previous.totals.metric(metric))
    return Comparison(summary, metric, previous_period, basis, rows, previous.totals, total_delta, total_pct)
