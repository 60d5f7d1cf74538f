"""Usage over time: one series per value of a second dimension (its top N, then "others"), every bucket present.

A time series is a summary grouped by a time dimension (day, ISO week, month, or hour of day) and at most
one other dimension. The series are ranked by the chosen metric over the whole period; the values of the
groups after the top N are added into one "others" series from their totals (so an average or a longest
call of "others" is that of their usage together, not a sum of averages). Buckets without usage are zero,
so a chart's x axis is the period's calendar, not only the days that had calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils.translation import gettext

from billing.months import next_month
from billing.usage.scope import Scope
from billing.usage.selectors import Dimension, Metric, Period, Totals, UsageFilter, UsageQueryError, usage_summary

TIME_DIMENSIONS = (Dimension.DAY, Dimension.WEEK, Dimension.MONTH, Dimension.HOUR)
CALENDAR_DIMENSIONS = (Dimension.DAY, Dimension.WEEK, Dimension.MONTH)
# Metrics whose values add up: drawn stacked. The others (an average, a longest call) are drawn as lines.
ADDITIVE_METRICS = {
    Metric.RECORDS,
    Metric.CALLS,
    Metric.MESSAGES,
    Metric.DATA_SESSIONS,
    Metric.MINUTES,
    Metric.BILLABLE_MINUTES,
    Metric.DATA_MB,
    Metric.COST,
}
MAX_SERIES = 12


def buckets(period: Period, interval: Dimension) -> list:
    """Every bucket key of ``interval`` that overlaps ``period``, in order (as the summary's keys are)."""
    if interval == Dimension.HOUR:
        return list(range(24))
    if interval == Dimension.DAY:
        return [period.start + timedelta(days=i) for i in range(period.days)]
    if interval == Dimension.WEEK:
        first = period.start - timedelta(days=period.start.isoweekday() - 1)
        return [first + timedelta(weeks=i) for i in range((period.end - first).days // 7 + 1)]
    if interval == Dimension.MONTH:
        out, month = [], period.start.replace(day=1)
        while month <= period.end:
            out.append(month)
            month = next_month(month)
        return out
    raise UsageQueryError(f"{interval.value} is not a time dimension (day, week, month, hour)", field="interval")


@dataclass
class Series:
    key: object  # the second dimension's value (an id, code, ...); None for "others" or for the total
    label: str
    totals: list[Totals]  # one per bucket
    is_others: bool = False

    def values(self, metric: Metric) -> list:
        return [t.metric(metric) for t in self.totals]


@dataclass
class TimeSeries:
    period: Period
    interval: Dimension
    split_by: Dimension | None
    metric: Metric
    buckets: list  # dates (day, week's Monday, month's first day) or hours 0–23
    series: list[Series]
    totals: list[Totals]  # per bucket, every series together
    series_count: int  # values of split_by before the top-N cut

    @property
    def stacked(self) -> bool:
        return self.metric in ADDITIVE_METRICS


def usage_timeseries(
    *,
    scope: Scope,
    period: Period,
    interval: Dimension,
    split_by: Dimension | None = None,
    metric: Metric = Metric.COST,
    filters: UsageFilter | None = None,
    top: int = 8,
) -> TimeSeries:
    if interval not in TIME_DIMENSIONS:
        raise UsageQueryError(f"{interval.value} is not a time dimension (day, week, month, hour)", field="interval")
    if split_by is not None and split_by in TIME_DIMENSIONS:
        raise UsageQueryError("split the series by a dimension that is not time", field="splitBy")
    if not 1 <= top <= MAX_SERIES:
        raise UsageQueryError(f"top is 1–{MAX_SERIES} series", field="first")
    group_by = [interval] + ([split_by] if split_by else [])
    summary = usage_summary(scope=scope, period=period, group_by=group_by, filters=filters, order_by=None)
    keys = buckets(period, interval)
    index = {k: i for i, k in enumerate(keys)}
    by_series: dict[object, tuple[str, list[Totals]]] = {}
    overall = Totals()
    for row in summary.rows:
        bucket = row.keys[0].value
        if bucket not in index:  # cannot happen for a period's own buckets; never drop usage silently
            raise ValueError(f"bucket {bucket!r} outside the period {period}")
        key = row.keys[1] if split_by else None
        series_key = key.value if key else None
        label = key.label if key else gettext("All usage")
        _label, cells = by_series.setdefault(series_key, (label, [Totals() for _ in keys]))
        cells[index[bucket]].add(row.totals)
        overall.add(row.totals)
    ranked = sorted(
        by_series.items(),
        key=lambda item: (_sum(item[1][1]).metric(metric), str(item[0])),
        reverse=True,
    )
    series = [Series(k, label, cells) for k, (label, cells) in ranked[:top]]
    if len(ranked) > top:
        others = [Totals() for _ in keys]
        for _k, (_label, cells) in ranked[top:]:
            for total, cell in zip(others, cells, strict=True):
                total.add(cell)
        series.append(Series(None, gettext("Others"), others, is_others=True))
    per_bucket = [Totals() for _ in keys]
    for s in series:
        for total, cell in zip(per_bucket, s.totals, strict=True):
            total.add(cell)
    if not series:
        series = [Series(None, gettext("All usage"), [Totals() for _ in keys])]
    return TimeSeries(period, interval, split_by, metric, keys, series, per_bucket, len(ranked))


def _sum(cells: list[Totals]) -> Totals:
    total = Totals()
    for cell in cells:
        total.add(cell)
    return total
