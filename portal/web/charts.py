"""The explorer's chart over time: with a day, week, month or hour dimension, a server-drawn SVG time series
stacked by the first other dimension (``billing.charts.timeseries``), in the organization's locale."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext

from billing.charts.timeseries import ChartSeries, bucket_label, timeseries_svg
from billing.formatting import locale_of
from billing.usage.selectors import Metric
from billing.usage.timeseries import TIME_DIMENSIONS, TimeSeries, usage_timeseries
from portal.web.analysis_forms import DIMENSION_NAMES, METRIC_NAMES
from portal.web.usage_forms import UsageQuery

CHART_SERIES = 8


def series_chart(ts: TimeSeries, organization, title: str) -> str:
    locale = locale_of(organization)
    return timeseries_svg(
        labels=[bucket_label(b, ts.interval.value, locale) for b in ts.buckets],
        series=[ChartSeries(s.label, [Decimal(v) for v in s.values(ts.metric)], s.is_others) for s in ts.series],
        stacked=ts.stacked,
        locale=locale,
        currency=organization.currency if ts.metric == Metric.COST else None,
        title=title,
    )


def time_chart(scope, query: UsageQuery, metric: Metric) -> tuple[TimeSeries, str] | None:
    """The explorer's chart when it groups by a time dimension: over time, stacked by the first other
    dimension (its top ``CHART_SERIES`` values plus "others"). None without a time dimension."""
    times = [d for d in query.group_by if d in TIME_DIMENSIONS]
    if not times:
        return None
    others = [d for d in query.group_by if d not in TIME_DIMENSIONS]
    ts = usage_timeseries(
        scope=scope,
        period=query.period,
        interval=times[0],
        split_by=others[0] if others else None,
        metric=metric,
        filters=query.filters,
        top=CHART_SERIES,
    )
    title = gettext("%(metric)s per %(interval)s") % {
        "metric": METRIC_NAMES.get(metric, metric.value),
        "interval": str(DIMENSION_NAMES[times[0]]).lower(),
    }
    if others:
        title += " · " + gettext("by %(dimension)s") % {"dimension": str(DIMENSION_NAMES[others[0]]).lower()}
    return ts, series_chart(ts, scope.organization, title)
