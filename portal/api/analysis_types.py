"""The object types of the usage analysis fields (portal.api.analysis): time series, pivot, forecast, anomalies."""

import graphene

from portal.api.usage import DimensionEnum, MetricEnum, PeriodType, UsageGroupKey

# --- Time series -----------------------------------------------------------------------------------


class UsageSeries(graphene.ObjectType):
    class Meta:
        description = "One series of a time series: a value of splitBy (or 'others', or all usage)."

    key = graphene.Field(UsageGroupKey, description="The splitBy value; null for 'others' and for all usage.")
    label = graphene.String(required=True, description="Human-readable label.")
    is_others = graphene.Boolean(required=True, description="True for the series adding up the values after the top N.")
    values = graphene.List(graphene.NonNull(graphene.Decimal), required=True, description="One value per bucket.")


class UsageTimeSeries(graphene.ObjectType):
    class Meta:
        description = "A metric over time, one series per value of a second dimension (top N, then 'others')."

    period = graphene.Field(PeriodType, required=True, description="The period.")
    interval = graphene.Field(DimensionEnum, required=True, description="DAY, WEEK, MONTH or HOUR (of day).")
    split_by = graphene.Field(DimensionEnum, description="The dimension the series are split by.")
    metric = graphene.Field(MetricEnum, required=True, description="The measure.")
    stacked = graphene.Boolean(required=True, description="True when the series add up (draw stacked).")
    buckets = graphene.List(
        graphene.NonNull(graphene.String),
        required=True,
        description="Every bucket of the period, empty ones too: ISO dates (a week by its Monday, a month by "
        "its first day) or hours 0–23.",
    )
    series = graphene.List(graphene.NonNull(UsageSeries), required=True, description="Largest first.")
    totals = graphene.List(graphene.NonNull(graphene.Decimal), required=True, description="Per bucket, all series.")
    series_count = graphene.Int(required=True, description="Values of splitBy before the top-N cut.")


# --- Pivot -----------------------------------------------------------------------------------------


class UsagePivotRow(graphene.ObjectType):
    class Meta:
        description = "One row of a pivot: a value of the rows dimension (or 'all others')."

    key = graphene.Field(UsageGroupKey, description="The row's value; null for 'all others'.")
    label = graphene.String(required=True, description="Human-readable label.")
    is_others = graphene.Boolean(required=True, description="True for the row adding up the rows after the top N.")
    cells = graphene.List(graphene.NonNull(graphene.Decimal), required=True, description="One value per column.")
    total = graphene.Decimal(required=True, description="The row's total (of its usage, for any metric).")


class UsagePivot(graphene.ObjectType):
    class Meta:
        description = "Rows by one dimension, columns by day, week or month, with totals both ways."

    period = graphene.Field(PeriodType, required=True, description="The period.")
    rows_by = graphene.Field(DimensionEnum, required=True, description="The rows' dimension.")
    columns_by = graphene.Field(DimensionEnum, required=True, description="DAY, WEEK or MONTH.")
    metric = graphene.Field(MetricEnum, required=True, description="The measure in the cells.")
    columns = graphene.List(
        graphene.NonNull(graphene.Date), required=True, description="Every day, week's Monday or month's first day."
    )
    rows = graphene.List(graphene.NonNull(UsagePivotRow), required=True, description="By total, largest first.")
    column_totals = graphene.List(graphene.NonNull(graphene.Decimal), required=True, description="Per column.")
    total = graphene.Decimal(required=True, description="Everything in the pivot.")
    row_count = graphene.Int(required=True, description="Rows before the top-N cut.")


# --- Forecast --------------------------------------------------------------------------------------


class UsageProjection(graphene.ObjectType):
    class Meta:
        description = "The forecast of one billing period's usage cost, with its back-tested band."

    period = graphene.Field(PeriodType, required=True, description="The billing period.")
    actual = graphene.Decimal(required=True, description="Cost so far (0 for a period not begun).")
    forecast = graphene.Decimal(required=True, description="Cost expected for the rest of the period.")
    projected = graphene.Decimal(required=True, description="actual + forecast.")
    low = graphene.Decimal(description="The band's low end (10th percentile); null without enough history.")
    high = graphene.Decimal(description="The band's high end (90th percentile); null without enough history.")
    backtests = graphene.Int(required=True, description="Back-tests the band was computed from.")


class UsageForecastGroup(graphene.ObjectType):
    class Meta:
        description = "The forecast of one group (or of all usage)."

    key = graphene.Field(UsageGroupKey, description="The group; null for the total and for 'all others'.")
    label = graphene.String(required=True, description="Human-readable label.")
    is_others = graphene.Boolean(required=True, description="True for the groups after the top N, together.")
    current = graphene.Field(UsageProjection, required=True, description="The current billing period to its end.")
    next_periods = graphene.List(
        graphene.NonNull(UsageProjection), required=True, description="The next three billing periods."
    )


class UsageForecast(graphene.ObjectType):
    class Meta:
        description = "Projected usage cost to the period end and for the next three periods, per group."

    method = graphene.String(required=True, description="The method's stable name: weekday_seasonal_run_rate.")
    method_description = graphene.String(required=True, description="The method in words (English).")
    as_of = graphene.Date(required=True, description="The day the forecast is made on (its usage counts as actual).")
    period = graphene.Field(PeriodType, required=True, description="The current billing period.")
    history = graphene.Field(PeriodType, required=True, description="The days of history read.")
    group_by = graphene.Field(DimensionEnum, description="The groups' dimension; null for the total only.")
    total = graphene.Field(UsageForecastGroup, required=True, description="All usage (its own back-test).")
    groups = graphene.List(graphene.NonNull(UsageForecastGroup), required=True, description="By cost so far.")
    group_count = graphene.Int(required=True, description="Groups before the top-N cut.")


# --- Anomalies -------------------------------------------------------------------------------------


class UsageAnomaly(graphene.ObjectType):
    class Meta:
        description = "A day on which a location, person or line cost far more than on its usual same weekdays."

    dimension = graphene.Field(DimensionEnum, required=True, description="LOCATION, PERSON or LINE.")
    key = graphene.Field(UsageGroupKey, required=True, description="Which location, person or line.")
    day = graphene.Date(required=True, description="The local day.")
    cost = graphene.Decimal(required=True, description="Its cost that day.")
    usual = graphene.Decimal(required=True, description="The median cost of the same weekday in the 8 weeks before.")
    excess = graphene.Decimal(required=True, description="cost − usual: the money value of the anomaly.")
    score = graphene.Decimal(description="Modified z-score (1 decimal); null when the baseline never varied ('new').")


class UsageAnomalies(graphene.ObjectType):
    class Meta:
        description = "Unusual usage in a period, largest money value first, with the method stated."

    period = graphene.Field(PeriodType, required=True, description="The days looked at.")
    method = graphene.String(required=True, description="The method's stable name.")
    method_description = graphene.String(required=True, description="The method in words (English).")
    min_excess = graphene.Decimal(required=True, description="Only days at least this much above usual.")
    total_excess = graphene.Decimal(required=True, description="The money value of all anomalies listed.")
    anomalies = graphene.List(graphene.NonNull(UsageAnomaly), required=True, description="Largest excess first.")
