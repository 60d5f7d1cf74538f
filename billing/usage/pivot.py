"""Pivot tables: rows by one dimension, columns by day, week or month, totals both ways.

Every cell, row total, column total and the grand total is computed from the usage it covers (``Totals``
added together), never from the cells' displayed values: for an additive metric (cost, minutes, calls)
the row totals and the column totals both add up exactly to the grand total; for an average or a longest
call each total is that of its usage. Columns are every day/week/month of the period, with or without
usage. Rows are sorted by the metric's row total, largest first; after ``first`` rows one "others" row
holds the rest, so the totals still cover everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext

from billing.usage.scope import Scope
from billing.usage.selectors import (
    Dimension,
    GroupKey,
    Metric,
    Period,
    Totals,
    UsageFilter,
    UsageQueryError,
    usage_summary,
)
from billing.usage.timeseries import CALENDAR_DIMENSIONS, TIME_DIMENSIONS, buckets

MAX_PIVOT_ROWS = 1000


@dataclass
class PivotRow:
    key: GroupKey | None  # None for "others"
    label: str
    cells: list[Totals]
    total: Totals
    is_others: bool = False

    def values(self, metric: Metric) -> list:
        return [c.metric(metric) for c in self.cells]


@dataclass
class Pivot:
    period: Period
    rows_by: Dimension
    columns_by: Dimension
    metric: Metric
    columns: list  # dates: each day, week's Monday or month's first day
    rows: list[PivotRow]
    column_totals: list[Totals]
    total: Totals
    row_count: int  # rows before the top-N cut


def usage_pivot(
    *,
    scope: Scope,
    period: Period,
    rows: Dimension,
    columns: Dimension,
    metric: Metric = Metric.COST,
    filters: UsageFilter | None = None,
    first: int | None = None,
) -> Pivot:
    if columns not in CALENDAR_DIMENSIONS:
        raise UsageQueryError("pivot columns are day, week or month", field="columns")
    if rows in TIME_DIMENSIONS:
        raise UsageQueryError("pivot rows are a dimension that is not time (location, person, ...)", field="rows")
    if first is not None and not 1 <= first <= MAX_PIVOT_ROWS:
        raise UsageQueryError(f"first must be between 1 and {MAX_PIVOT_ROWS}", field="first")
    summary = usage_summary(scope=scope, period=period, group_by=[rows, columns], filters=filters, order_by=None)
    keys = buckets(period, columns)
    index = {k: i for i, k in enumerate(keys)}
    by_row: dict[object, PivotRow] = {}
    for summary_row in summary.rows:
        row_key, column_key = summary_row.keys
        row = by_row.get(row_key.value)
        if row is None:
            row = by_row[row_key.value] = PivotRow(row_key, row_key.label, [Totals() for _ in keys], Totals())
        row.cells[index[column_key.value]].add(summary_row.totals)
        row.total.add(summary_row.totals)
    ordered = sorted(by_row.values(), key=lambda r: (r.total.metric(metric), r.label), reverse=True)
    if first is not None and len(ordered) > first:
        others = PivotRow(None, gettext("All others"), [Totals() for _ in keys], Totals(), is_others=True)
        for row in ordered[first:]:
            for cell, add in zip(others.cells, row.cells, strict=True):
                cell.add(add)
            others.total.add(row.total)
        shown = ordered[:first] + [others]
    else:
        shown = ordered
    column_totals = [Totals() for _ in keys]
    total = Totals()
    for row in shown:
        for cell, add in zip(column_totals, row.cells, strict=True):
            cell.add(add)
        total.add(row.total)
    return Pivot(period, rows, columns, metric, keys, shown, column_totals, total, len(ordered))
