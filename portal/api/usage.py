# Long: the usage API's types, the two root fields and their argument conversions are one contract (cost hints: usage_costs.py).
"""Usage analytics over GraphQL: summaries (from rollups) and the records behind them."""

from datetime import UTC

import graphene

from billing.costcentres.usage import cost_centre_summary
from billing.models import Category, Direction, DurationBand, UsageRecord, UsageType
from billing.periods import Basis
from billing.usage import selectors
from billing.usage.selectors import Dimension, Metric, Period, RecordOrder, UsageFilter, UsageQueryError
from portal.api.accounts import LineType, LocationType, PersonType, require_usage
from portal.api.core.errors import ApiError, Codes
from portal.api.core.nodes import ScopedNode, caller, decode_ids, encode_id
from portal.api.permissions import Permission
from portal.api.usage_table import ALL_METRICS, ID_TYPES, UsageSummaryTable, metrics_asked, summary_table

DimensionEnum = graphene.Enum.from_enum(Dimension, name="UsageDimension", description="A way to group usage.")
MetricEnum = graphene.Enum.from_enum(Metric, name="UsageMetric", description="A measure of usage.")
RecordOrderEnum = graphene.Enum.from_enum(RecordOrder, name="UsageRecordOrder", description="Sort order of records.")
UsageTypeEnum = graphene.Enum("UsageType", [(c.name, c.value) for c in UsageType], description="Call, text or data.")
DirectionEnum = graphene.Enum("Direction", [(c.name, c.value) for c in Direction], description="Call direction.")
CategoryEnum = graphene.Enum(
    "DestinationCategory", [(c.name, c.value) for c in Category], description="Where a call went."
)
ComparisonBasisEnum = graphene.Enum.from_enum(
    Basis,
    name="ComparisonBasis",
    description="Why the previous period is that one: whole billing periods are compared with as many billing "
    "periods before, a billing period so far with the same days of the one before, other dates with as many days "
    "just before.",
)
DurationBandEnum = graphene.Enum(
    "DurationBand",
    [(c.name, c.value) for c in DurationBand],
    description="Call duration band: under 1 min, 1–5, 5–15, 15–60, over 60 min.",
)


class PeriodInput(graphene.InputObjectType):
    class Meta:
        description = "Inclusive range of the organization's local dates."

    from_ = graphene.Date(name="from", required=True, description="First day (inclusive).")
    to = graphene.Date(required=True, description="Last day (inclusive).")


class PeriodType(graphene.ObjectType):
    class Meta:
        name = "Period"
        description = "Inclusive range of the organization's local dates."

    from_ = graphene.Date(name="from", required=True, description="First day.")
    to = graphene.Date(required=True, description="Last day.")

    @staticmethod
    def of(period):
        return PeriodType(from_=period.start, to=period.end) if period else None


class _UsageValues(graphene.InputObjectType):
    class Meta:
        abstract = True

    locations = graphene.List(graphene.NonNull(graphene.ID), description="Location ids.")
    persons = graphene.List(graphene.NonNull(graphene.ID), description="Person ids.")
    lines = graphene.List(graphene.NonNull(graphene.ID), description="Line ids.")
    categories = graphene.List(graphene.NonNull(CategoryEnum), description="Destination categories.")
    countries = graphene.List(graphene.NonNull(graphene.String), description="ISO 3166 country codes, e.g. DE.")
    duration_bands = graphene.List(graphene.NonNull(DurationBandEnum), description="Call duration bands.")
    directions = graphene.List(graphene.NonNull(DirectionEnum), description="Directions.")
    usage_types = graphene.List(graphene.NonNull(UsageTypeEnum), description="Usage types.")
    hours = graphene.List(graphene.NonNull(graphene.Int), description="Local hours of day, 0–23.")
    weekdays = graphene.List(graphene.NonNull(graphene.Int), description="ISO days of week, 1 = Monday.")
    days = graphene.List(graphene.NonNull(graphene.Date), description="Local dates.")
    weeks = graphene.List(graphene.NonNull(graphene.Date), description="ISO weeks, each given by its Monday.")
    months = graphene.List(graphene.NonNull(graphene.Date), description="Months, each given by its first day.")


class UsageExclusionInput(_UsageValues):
    class Meta:
        description = (
            "Values to leave out, one list per dimension; usage without a value of the dimension "
            "(e.g. a call of no location) is kept."
        )


class UsageFilterInput(_UsageValues):
    class Meta:
        description = "Limits on usage; each list keeps only the given values, an empty or missing list keeps all."

    min_duration_seconds = graphene.Int(description="Only calls at least this long.")
    max_duration_seconds = graphene.Int(description="Only calls at most this long.")
    exclude = graphene.InputField(UsageExclusionInput, description="Values of any dimension to leave out.")


def _enum_values(values):
    return [getattr(v, "value", v) for v in values or []]


def _values(data, field: str) -> dict:
    return dict(
        locations=decode_ids(data.get("locations"), "Location", f"{field}.locations"),
        persons=decode_ids(data.get("persons"), "Person", f"{field}.persons"),
        lines=decode_ids(data.get("lines"), "Line", f"{field}.lines"),
        categories=_enum_values(data.get("categories")),
        countries=[c.upper() for c in data.get("countries") or []],
        duration_bands=_enum_values(data.get("duration_bands")),
        directions=_enum_values(data.get("directions")),
        usage_types=_enum_values(data.get("usage_types")),
        hours=list(data.get("hours") or []),
        weekdays=list(data.get("weekdays") or []),
        days=list(data.get("days") or []),
        weeks=list(data.get("weeks") or []),
        months=list(data.get("months") or []),
    )


def to_filter(data) -> UsageFilter:
    data = data or {}
    exclude = data.get("exclude")
    return UsageFilter(
        **_values(data, "filter"),
        min_duration_seconds=data.get("min_duration_seconds"),
        max_duration_seconds=data.get("max_duration_seconds"),
        exclude=UsageFilter(**_values(exclude, "filter.exclude")) if exclude else None,
    )


def to_period(data) -> Period:
    return Period(data["from_"], data["to"])


class UsageMetrics(graphene.ObjectType):
    class Meta:
        description = "Measures of a group of usage. Money and minutes are decimal strings, never floats."

    records = graphene.Int(required=True, description="Calls, messages and data sessions.")
    calls = graphene.Int(required=True, description="Voice calls (answered or not).")
    messages = graphene.Int(required=True, description="Text messages.")
    data_sessions = graphene.Int(required=True, description="Data sessions.")
    minutes = graphene.Decimal(required=True, description="Call minutes (2 decimals).")
    billable_minutes = graphene.Decimal(required=True, description="Billable call minutes (2 decimals).")
    data_mb = graphene.Decimal(required=True, description="Data volume in MB (10^6 bytes, 2 decimals).")
    cost = graphene.Decimal(required=True, description="Rated cost in the organization's currency (6 decimals).")
    average_call_seconds = graphene.Decimal(required=True, description="Average call duration in seconds.")
    longest_call_seconds = graphene.Int(required=True, description="Longest call in seconds.")


class UsageGroupKey(graphene.ObjectType):
    class Meta:
        description = "The value of one grouping dimension for a summary row."

    dimension = graphene.Field(DimensionEnum, required=True, description="The dimension.")
    id = graphene.ID(description="Global id for location, person and line groups.")
    value = graphene.String(description="The raw value: a code, number or ISO date; null for 'all others'.")
    label = graphene.String(required=True, description="Human-readable label.")


class UsageSummaryRow(graphene.ObjectType):
    class Meta:
        description = "One group of a usage summary."

    keys = graphene.List(graphene.NonNull(UsageGroupKey), required=True, description="One key per groupBy entry.")
    metrics = graphene.Field(UsageMetrics, required=True, description="The group's measures.")
    is_others = graphene.Boolean(required=True, description="True for the 'all others' row after a top-N.")


class UsageSummaryType(graphene.ObjectType):
    class Meta:
        name = "UsageSummary"
        description = "Usage over a period grouped by dimensions, with totals and the previous period."

    period = graphene.Field(PeriodType, required=True, description="The period summarized.")
    group_by = graphene.List(graphene.NonNull(DimensionEnum), required=True, description="The dimensions.")
    rows = graphene.List(graphene.NonNull(UsageSummaryRow), required=True, description="The groups, sorted.")
    table = graphene.Field(
        UsageSummaryTable,
        required=True,
        description="The same groups as a flat table of strings (faster than rows for many groups).",
        metrics=graphene.List(
            graphene.NonNull(MetricEnum), description="The metric columns, in this order (default: every metric)."
        ),
    )
    group_count = graphene.Int(required=True, description="Number of groups before the top-N cut.")
    totals = graphene.Field(UsageMetrics, required=True, description="All usage of the period (every group).")
    previous_period = graphene.Field(
        PeriodType,
        description="The period compared with (comparePrevious): the previous billing period, the same days of it "
        "for a billing period so far, or as many days just before for other dates; the explorer's rule.",
    )
    previous_basis = graphene.Field(ComparisonBasisEnum, description="Which of those the previous period is.")
    previous_totals = graphene.Field(UsageMetrics, description="Totals of the previous period.")

    # Built from the selector's result as asked: a query for the table builds no row objects.
    def resolve_period(summary, info):
        return PeriodType.of(summary.period)

    def resolve_rows(summary, info):
        return [
            UsageSummaryRow(keys=[_key(k) for k in row.keys], metrics=_metrics(row.totals), is_others=row.is_others)
            for row in summary.rows
        ]

    def resolve_table(summary, info, metrics=None):
        return summary_table(summary, [Metric(getattr(m, "value", m)) for m in metrics] if metrics else ALL_METRICS)

    def resolve_totals(summary, info):
        return _metrics(summary.totals)

    def resolve_previous_period(summary, info):
        return PeriodType.of(summary.previous_period)

    def resolve_previous_totals(summary, info):
        return _metrics(summary.previous_totals) if summary.previous_totals else None


def _metrics(t):
    return UsageMetrics(
        records=t.records,
        calls=t.calls,
        messages=t.messages,
        data_sessions=t.data_sessions,
        minutes=t.minutes,
        billable_minutes=t.billable_minutes,
        data_mb=t.data_mb,
        cost=t.cost,
        average_call_seconds=t.average_call_seconds,
        longest_call_seconds=t.longest_call_seconds,
    )


def _key(key):
    value = key.value
    return UsageGroupKey(
        dimension=key.dimension,
        id=encode_id(ID_TYPES[key.dimension], value) if key.dimension in ID_TYPES and value is not None else None,
        value=None if value is None else (value.isoformat() if hasattr(value, "isoformat") else str(value)),
        label=key.label,
    )


class UsageRecordType(graphene.ObjectType):
    class Meta:
        name = "UsageRecord"
        description = "One call, text message or data session."
        interfaces = (ScopedNode,)

    started_at = graphene.DateTime(required=True, description="Start, in UTC (ISO 8601).")
    local_date = graphene.Date(required=True, description="Start date in the organization's time zone.")
    local_time = graphene.String(required=True, description="Start time (HH:MM:SS) in the organization's time zone.")
    usage_type = graphene.Field(UsageTypeEnum, required=True, description="Call, text or data.")
    direction = graphene.Field(DirectionEnum, required=True, description="Outbound or inbound.")
    answered = graphene.Boolean(required=True, description="False for unanswered calls (never billed).")
    duration_seconds = graphene.Int(required=True, description="Call duration in seconds.")
    billable_seconds = graphene.Int(required=True, description="Billable seconds (0 when unanswered).")
    duration_band = graphene.Field(DurationBandEnum, required=True, description="Duration band.")
    other_party = graphene.String(
        required=True, description="The other party's number, masked (+49 30 •••••• 78) unless your role may see it."
    )
    category = graphene.Field(CategoryEnum, required=True, description="Destination category.")
    country = graphene.String(description="Destination country (ISO 3166), when known.")
    data_bytes = graphene.Float(required=True, description="Data volume in bytes (data sessions).")
    cost = graphene.Decimal(description="Rated cost (6 decimals); null until rated.")
    line = graphene.Field(LineType, required=True, description="The line used.")
    person = graphene.Field(PersonType, description="Who held the line at the time.")
    location = graphene.Field(LocationType, description="Where the line was at the time.")

    def resolve_local_time(record, info):
        return record.started_at.astimezone(caller(info).scope.organization.tz).strftime("%H:%M:%S")

    def resolve_other_party(record, info):
        return record.destination or record.destination_masked

    def resolve_started_at(record, info):
        return record.started_at.astimezone(UTC)

    @classmethod
    def get_node(cls, info, pk):
        require_usage(info)
        scope = caller(info).scope
        where, params = scope.sql("billing_usagerecord")
        record = (
            UsageRecord.objects.select_related("line", "person", "location")
            .filter(pk=pk)
            .extra(where=[where], params=params)  # noqa: S610 - fixed SQL, values are parameters
            .first()
        )
        if record is not None and not scope.reveal_numbers:
            record.destination = ""
        return record

    @classmethod
    def is_type_of(cls, root, info):
        return isinstance(root, UsageRecord)


class UsageRecordConnection(graphene.relay.Connection):
    class Meta:
        node = UsageRecordType
        description = "A page of usage records."


def _wrap(fn):
    try:
        return fn()
    except UsageQueryError as exc:
        raise ApiError(str(exc), exc.code, field=exc.field) from None


# What each root field and mutation of this module needs (checked by portal.api.permissions).
PERMISSIONS = {"usageSummary": Permission.USAGE, "usageRecords": Permission.USAGE}


class Query(graphene.ObjectType):
    usage_summary = graphene.Field(
        UsageSummaryType,
        required=True,
        description="Usage grouped by any combination of dimensions (served from rollups).",
        period=graphene.Argument(PeriodInput, required=True, description="Local dates, at most 732 days."),
        group_by=graphene.List(graphene.NonNull(DimensionEnum), required=True, description="Dimensions, in order."),
        filter=graphene.Argument(UsageFilterInput, description="Limits on the usage counted."),
        order_by=graphene.Argument(MetricEnum, description="Sort groups by this metric; default cost, null = by keys."),
        descending=graphene.Boolean(default_value=True, description="Largest first."),
        first=graphene.Int(description="Top N groups (1–1000) followed by an 'all others' row."),
        compare_previous=graphene.Boolean(
            default_value=False, description="Also total the period compared with (see previousPeriod)."
        ),
        cost_centre_level=graphene.Int(
            description="With groupBy [COST_CENTRE]: count deeper cost centres at their ancestor on this level "
            "of the tree (0 = the roots); default: each cost centre on its own."
        ),
    )
    usage_records = graphene.relay.ConnectionField(
        UsageRecordConnection,
        description="The records behind any group: cursor-paginated, at most 100 per page.",
        period=graphene.Argument(PeriodInput, required=True, description="Local dates."),
        filter=graphene.Argument(UsageFilterInput, description="Which records."),
        order_by=graphene.Argument(RecordOrderEnum, default_value=RecordOrder.TIME.value, description="Sort key."),
        descending=graphene.Boolean(default_value=True, description="Newest or longest first."),
    )

    def resolve_usage_summary(root, info, period, group_by, filter=None, order_by=Metric.COST.value, **kwargs):
        require_usage(info)
        dims = [Dimension(getattr(d, "value", d)) for d in group_by]
        if Dimension.COST_CENTRE in dims:
            return _wrap(lambda: _cost_centre_summary(info, period, dims, filter, order_by, kwargs))
        return _wrap(  # the selector's UsageSummary: UsageSummaryType resolves its fields from it
            lambda: selectors.usage_summary(
                scope=caller(info).scope,
                period=to_period(period),
                group_by=dims,
                filters=to_filter(filter),
                order_by=Metric(getattr(order_by, "value", order_by)) if order_by else None,
                descending=kwargs.get("descending", True),
                first=kwargs.get("first"),
                compare_previous=kwargs.get("compare_previous", False),
                metrics=metrics_asked(info),
            )
        )

    def resolve_usage_records(root, info, period, filter=None, order_by=RecordOrder.TIME.value, **kwargs):
        require_usage(info)
        if kwargs.get("last") is not None or kwargs.get("before") is not None:
            raise ApiError("usageRecords pages forward only: use first and after", Codes.BAD_ARGUMENT, field="last")
        order = RecordOrder(getattr(order_by, "value", order_by))
        page = _wrap(
            lambda: selectors.usage_records(
                scope=caller(info).scope,
                period=to_period(period),
                filters=to_filter(filter),
                order_by=order,
                descending=kwargs.get("descending", True),
                first=kwargs.get("first") or 0,
                after=kwargs.get("after"),
            )
        )
        edges = [UsageRecordConnection.Edge(node=r, cursor=selectors.record_cursor(order, r)) for r in page.records]
        return UsageRecordConnection(
            edges=edges,
            page_info=graphene.relay.PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=bool(kwargs.get("after")),
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=page.end_cursor,
            ),
        )


def _cost_centre_summary(info, period, dims, filter, order_by, kwargs):
    """groupBy [COST_CENTRE]: usage split by the allocation rules (billing.costcentres.usage)."""
    if dims != [Dimension.COST_CENTRE]:
        raise UsageQueryError("COST_CENTRE cannot be combined with other dimensions", field="groupBy")
    period = to_period(period)
    ask = dict(
        scope=caller(info).scope,
        filters=to_filter(filter),
        level=kwargs.get("cost_centre_level"),
    )
    result = cost_centre_summary(
        period=period,
        order_by=Metric(getattr(order_by, "value", order_by)) if order_by else None,
        descending=kwargs.get("descending", True),
        first=kwargs.get("first"),
        **ask,
    )
    if kwargs.get("compare_previous"):
        result.previous_period, result.previous_basis = selectors.previous_of(ask["scope"], period)
        result.previous_totals = cost_centre_summary(period=result.previous_period, **ask).totals
    return result
