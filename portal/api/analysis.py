"""Usage analysis over GraphQL: time series, pivots, the cost forecast and unusual usage (billing.usage).

Each root field parses its arguments, calls one selector with the caller's scope and shapes the answer; money
and minutes are decimal strings. Cost hints for the API's cost model are declared at the end of the module.
"""

from __future__ import annotations

from datetime import timedelta

import graphene
from django.utils import timezone

from billing.usage import anomalies as anomaly_rules
from billing.usage import forecast as forecast_rules
from billing.usage.anomalies import usage_anomalies
from billing.usage.forecast import usage_forecast
from billing.usage.pivot import usage_pivot
from billing.usage.selectors import Dimension, GroupKey, Metric, Period
from billing.usage.timeseries import usage_timeseries
from portal.api.accounts import require_usage
from portal.api.analysis_types import (
    UsageAnomalies,
    UsageAnomaly,
    UsageForecast,
    UsageForecastGroup,
    UsagePivot,
    UsagePivotRow,
    UsageProjection,
    UsageSeries,
    UsageTimeSeries,
)
from portal.api.core.nodes import caller
from portal.api.permissions import Permission
from portal.api.usage import (
    DimensionEnum,
    MetricEnum,
    PeriodInput,
    PeriodType,
    UsageFilterInput,
    _key,
    _wrap,
    to_filter,
    to_period,
)


def _dimension(value) -> Dimension | None:
    return None if value is None else Dimension(getattr(value, "value", value))


def _metric(value) -> Metric:
    return Metric(getattr(value, "value", value) or Metric.COST.value)


def _iso(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _group(g) -> UsageForecastGroup:
    def projection(p):
        return UsageProjection(
            period=PeriodType.of(p.period),
            actual=p.actual,
            forecast=p.forecast,
            projected=p.projected,
            low=p.low,
            high=p.high,
            backtests=p.backtests,
        )

    return UsageForecastGroup(
        key=_key(g.key) if g.key else None,
        label=g.label,
        is_others=g.is_others,
        current=projection(g.current),
        next_periods=[projection(p) for p in g.next_periods],
    )


PERMISSIONS = {
    "usageTimeSeries": Permission.USAGE,
    "usagePivot": Permission.USAGE,
    "usageForecast": Permission.USAGE,
    "usageAnomalies": Permission.USAGE,
}


class Query(graphene.ObjectType):
    usage_time_series = graphene.Field(
        UsageTimeSeries,
        required=True,
        description="A metric per day, week, month or hour of day, split by a second dimension (top N + others).",
        period=graphene.Argument(PeriodInput, required=True, description="Local dates, at most 732 days."),
        interval=graphene.Argument(DimensionEnum, required=True, description="DAY, WEEK, MONTH or HOUR."),
        split_by=graphene.Argument(DimensionEnum, description="A dimension that is not time; none: one series."),
        metric=graphene.Argument(MetricEnum, default_value=Metric.COST.value, description="The measure."),
        filter=graphene.Argument(UsageFilterInput, description="Limits on the usage counted."),
        first=graphene.Int(default_value=8, description="Series shown (1–12) before 'others'."),
    )
    usage_pivot = graphene.Field(
        UsagePivot,
        required=True,
        description="Rows by one dimension, columns by DAY, WEEK or MONTH, with row and column totals.",
        period=graphene.Argument(PeriodInput, required=True, description="Local dates, at most 732 days."),
        rows=graphene.Argument(DimensionEnum, required=True, description="A dimension that is not time."),
        columns=graphene.Argument(DimensionEnum, required=True, description="DAY, WEEK or MONTH."),
        metric=graphene.Argument(MetricEnum, default_value=Metric.COST.value, description="The measure."),
        filter=graphene.Argument(UsageFilterInput, description="Limits on the usage counted."),
        first=graphene.Int(description="Rows shown (1–1000) before 'all others'; none: every row."),
    )
    usage_forecast = graphene.Field(
        UsageForecast,
        required=True,
        description="Projected cost to the period end and for the next three periods (weekday-seasonal run rate "
        "with a back-tested band).",
        as_of=graphene.Date(description="The forecast's day; default today in the organization's time zone."),
        group_by=graphene.Argument(DimensionEnum, description="Forecast per location, person, ...; none: total."),
        filter=graphene.Argument(UsageFilterInput, description="Limits on the usage counted."),
        first=graphene.Int(default_value=10, description="Groups shown (1–50) before 'all others'."),
    )
    usage_anomalies = graphene.Field(
        UsageAnomalies,
        required=True,
        description="Days of the period on which a location, person or line cost unusually much (robust z-score "
        "against the same weekdays of the last 8 weeks).",
        period=graphene.Argument(PeriodInput, required=True, description="The days to look at, at most 92."),
        dimensions=graphene.List(
            graphene.NonNull(DimensionEnum), description="Among LOCATION, PERSON and LINE; default all three."
        ),
        filter=graphene.Argument(UsageFilterInput, description="Limits on the usage counted."),
        min_excess=graphene.Decimal(description="Only days at least this much above usual; default 5."),
        first=graphene.Int(description="At most this many anomalies."),
    )

    def resolve_usage_time_series(root, info, period, interval, metric=Metric.COST.value, **kwargs):
        require_usage(info)
        ts = _wrap(
            lambda: usage_timeseries(
                scope=caller(info).scope,
                period=to_period(period),
                interval=_dimension(interval),
                split_by=_dimension(kwargs.get("split_by")),
                metric=_metric(metric),
                filters=to_filter(kwargs.get("filter")),
                top=kwargs.get("first", 8),
            )
        )
        return UsageTimeSeries(
            period=PeriodType.of(ts.period),
            interval=ts.interval,
            split_by=ts.split_by,
            metric=ts.metric,
            stacked=ts.stacked,
            buckets=[_iso(b) for b in ts.buckets],
            series=[
                UsageSeries(
                    key=_key_of(ts.split_by, s),
                    label=s.label,
                    is_others=s.is_others,
                    values=s.values(ts.metric),
                )
                for s in ts.series
            ],
            totals=[t.metric(ts.metric) for t in ts.totals],
            series_count=ts.series_count,
        )

    def resolve_usage_pivot(root, info, period, rows, columns, metric=Metric.COST.value, **kwargs):
        require_usage(info)
        pivot = _wrap(
            lambda: usage_pivot(
                scope=caller(info).scope,
                period=to_period(period),
                rows=_dimension(rows),
                columns=_dimension(columns),
                metric=_metric(metric),
                filters=to_filter(kwargs.get("filter")),
                first=kwargs.get("first"),
            )
        )
        return UsagePivot(
            period=PeriodType.of(pivot.period),
            rows_by=pivot.rows_by,
            columns_by=pivot.columns_by,
            metric=pivot.metric,
            columns=pivot.columns,
            rows=[
                UsagePivotRow(
                    key=_key(r.key) if r.key else None,
                    label=r.label,
                    is_others=r.is_others,
                    cells=r.values(pivot.metric),
                    total=r.total.metric(pivot.metric),
                )
                for r in pivot.rows
            ],
            column_totals=[c.metric(pivot.metric) for c in pivot.column_totals],
            total=pivot.total.metric(pivot.metric),
            row_count=pivot.row_count,
        )

    def resolve_usage_forecast(root, info, **kwargs):
        require_usage(info)
        scope = caller(info).scope
        as_of = kwargs.get("as_of") or timezone.now().astimezone(scope.organization.tz).date()
        result = _wrap(
            lambda: usage_forecast(
                scope=scope,
                as_of=as_of,
                group_by=_dimension(kwargs.get("group_by")),
                filters=to_filter(kwargs.get("filter")),
                first=kwargs.get("first", 10),
            )
        )
        return UsageForecast(
            method=result.method,
            method_description=forecast_rules.method_description(),
            as_of=result.as_of,
            period=PeriodType.of(result.period),
            history=PeriodType.of(result.history),
            group_by=result.group_by,
            total=_group(result.total),
            groups=[_group(g) for g in result.groups],
            group_count=result.group_count,
        )

    def resolve_usage_anomalies(root, info, period, **kwargs):
        require_usage(info)
        dimensions = tuple(_dimension(d) for d in kwargs.get("dimensions") or ()) or anomaly_rules.DIMENSIONS
        min_excess = kwargs.get("min_excess")
        report = _wrap(
            lambda: usage_anomalies(
                scope=caller(info).scope,
                period=to_period(period),
                dimensions=dimensions,
                filters=to_filter(kwargs.get("filter")),
                min_excess=anomaly_rules.DEFAULT_MIN_EXCESS if min_excess is None else min_excess,
                first=kwargs.get("first"),
            )
        )
        return UsageAnomalies(
            period=PeriodType.of(report.period),
            method=report.method,
            method_description=anomaly_rules.method_description(),
            min_excess=report.min_excess,
            total_excess=report.total_excess,
            anomalies=[
                UsageAnomaly(
                    dimension=a.dimension,
                    key=_key(a.key),
                    day=a.day,
                    cost=a.cost,
                    usual=a.usual,
                    excess=a.excess,
                    score=a.score,
                )
                for a in report.anomalies
            ],
        )


def _key_of(dimension, series):
    if series.key is None or dimension is None:
        return None
    return _key(GroupKey(dimension, series.key, series.label))


# --- Cost hints ------------------------------------------------------------------------------------
# Each field reads the rollups like one or more summaries; its cost is theirs (billing.usage.estimate, the
# API cost model of portal.api.core.costs). Registered only where that model is installed, so this module
# also works on a tree without it (then the static per-field cost of portal.api.core.limits applies).
try:
    from billing.usage import estimate
    from portal.api.core import costs
except ImportError:  # pragma: no cover - the cost model is not merged on this tree
    costs = None

if costs is not None:

    def _summary_points(context, period, group_by, filters):
        read = estimate.summary_estimate(
            context.usage_statistics(), period=period, group_by=group_by, filters=filters, first=None
        )
        per_row = costs.POINTS_PER_RECORD_READ if read.source == "raw" else costs.POINTS_PER_ROW_READ
        return read.rows_read * per_row + read.groups * costs.POINTS_PER_GROUP, read

    @costs.cost_hint("Query", "usageTimeSeries")
    def _time_series_cost(context, args):
        dims = [_dimension(args["interval"]), *([_dimension(args["split_by"])] if args.get("split_by") else [])]
        points, read = _summary_points(context, to_period(args["period"]), dims, to_filter(args.get("filter")))
        series = (args.get("first") or 8) + 1
        return costs.FieldCost(points=points, sizes={"series": series, "series.values": read.groups})

    @costs.cost_hint("Query", "usagePivot")
    def _pivot_cost(context, args):
        dims = [_dimension(args["rows"]), _dimension(args["columns"])]
        points, read = _summary_points(context, to_period(args["period"]), dims, to_filter(args.get("filter")))
        return costs.FieldCost(points=points, sizes={"rows": min(read.groups, args.get("first") or read.groups)})

    @costs.cost_hint("Query", "usageForecast")
    def _forecast_cost(context, args):
        end = args.get("as_of") or timezone.now().date()
        history = Period(end - timedelta(days=forecast_rules.history_days()), end)
        dims = [Dimension.DAY, *([_dimension(args["group_by"])] if args.get("group_by") else [])]
        points, _read = _summary_points(context, history, dims, to_filter(args.get("filter")))
        return costs.FieldCost(points=points, sizes={"groups": (args.get("first") or 10) + 1})

    @costs.cost_hint("Query", "usageAnomalies")
    def _anomalies_cost(context, args):
        period = to_period(args["period"])
        history = Period(period.start - timedelta(weeks=anomaly_rules.WEEKS), period.end)
        dims = [_dimension(d) for d in args.get("dimensions") or ()] or list(anomaly_rules.DIMENSIONS)
        points = sum(
            _summary_points(context, history, [Dimension.DAY, d], to_filter(args.get("filter")))[0] for d in dims
        )
        return costs.FieldCost(points=points, sizes={"anomalies": args.get("first") or 50})
