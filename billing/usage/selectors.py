# Over 400 lines: every usage read path (summary over three rollup levels, drill-down, comparisons) shares one scope filter and one cost model here; splitting by rollup level would split those.
"""Usage analytics: summaries grouped by any combination of dimensions, and drill-down to records.

Summaries read the coarsest rollup table that answers exactly: ``UsageMonthly`` (per month, location,
person, type, category, direction and band) for the whole calendar months of the period when nothing
asks for a day, hour, line or country, with the partial months at its edges from ``UsageDaily`` (per
day and line); ``UsageDaily`` otherwise, ``UsageHourly`` for hour-of-day questions. Their cost grows
with the number of groups, not with the number of calls. Only questions the rollups cannot answer (a
min/max duration filter, or hour of day combined with line or country) read the raw records. Every
query is restricted by the caller's ``Scope``.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from babel.dates import format_date
from django.db import connections, router
from django.utils.translation import get_language, gettext_lazy, to_locale
from django.utils.translation import gettext as _

from billing.models import (
    Category,
    Direction,
    DurationBand,
    Line,
    LineAssignment,
    Location,
    Person,
    UsageRecord,
    UsageType,
)
from billing.months import next_month
from billing.people import person_labels
from billing.periods import Basis, comparison_period
from billing.usage.partitions import started_window
from billing.usage.scope import Scope

MAX_PERIOD_DAYS = 732
MAX_GROUPS = 20_000
MAX_PAGE = 100
MAX_GROUP_BY = 5  # dimensions of one summary: each reads the same rollup rows, so the cost stays that of the table


class UsageQueryError(ValueError):
    """Bad arguments to a usage query; ``field`` names the argument, ``code`` is stable for API clients."""

    def __init__(self, message: str, *, field: str, code: str = "BAD_ARGUMENT"):
        super().__init__(message)
        self.field = field
        self.code = code


class Dimension(StrEnum):
    LOCATION = "location"
    PERSON = "person"
    LINE = "line"
    CATEGORY = "category"
    COUNTRY = "country"
    DURATION_BAND = "duration_band"
    DIRECTION = "direction"
    USAGE_TYPE = "usage_type"
    HOUR = "hour"  # hour of day, 0–23, local time
    WEEKDAY = "weekday"  # ISO day of week, 1 = Monday
    DAY = "day"
    WEEK = "week"  # Monday of the ISO week
    MONTH = "month"  # first day of the month
    COST_CENTRE = "cost_centre"  # by allocation rules and their splits: billing.costcentres.usage, alone


class Metric(StrEnum):
    RECORDS = "records"
    CALLS = "calls"
    MESSAGES = "messages"
    DATA_SESSIONS = "data_sessions"
    MINUTES = "minutes"
    BILLABLE_MINUTES = "billable_minutes"
    DATA_MB = "data_mb"
    COST = "cost"
    AVERAGE_CALL_SECONDS = "average_call_seconds"
    LONGEST_CALL_SECONDS = "longest_call_seconds"


_DIMENSION_SQL = {
    Dimension.LOCATION: "{t}location_id",
    Dimension.PERSON: "{t}person_id",
    Dimension.LINE: "{t}line_id",
    Dimension.CATEGORY: "{t}category",
    Dimension.COUNTRY: "{t}country",
    Dimension.DURATION_BAND: "{t}duration_band",
    Dimension.DIRECTION: "{t}direction",
    Dimension.USAGE_TYPE: "{t}usage_type",
    Dimension.HOUR: "{t}local_hour",
    Dimension.WEEKDAY: "extract(isodow FROM {t}local_date)::int",
    Dimension.DAY: "{t}local_date",
    Dimension.WEEK: "date_trunc('week', {t}local_date)::date",
    Dimension.MONTH: "date_trunc('month', {t}local_date)::date",
}


def _dimension_sql(dim: Dimension, table: str = "") -> str:
    return _DIMENSION_SQL[dim].format(t=f"{table}." if table else "")


_NOT_IN_DAILY = {Dimension.HOUR}
_NOT_IN_HOURLY = {Dimension.LINE, Dimension.COUNTRY}
# The monthly rollup has neither days nor lines nor countries (its local_date is the month's first day).
_NOT_IN_MONTHLY = {
    Dimension.LINE,
    Dimension.COUNTRY,
    Dimension.HOUR,
    Dimension.WEEKDAY,
    Dimension.DAY,
    Dimension.WEEK,
}

# Raw aggregates: (sql over rollups, sql over raw records). The rollups hold pre-summed columns.
_AGGREGATES = {
    "records": ("sum(records)", "count(*)"),
    "calls": ("sum(records) FILTER (WHERE usage_type = 'voice')", "count(*) FILTER (WHERE usage_type = 'voice')"),
    "messages": ("sum(records) FILTER (WHERE usage_type = 'sms')", "count(*) FILTER (WHERE usage_type = 'sms')"),
    "data_sessions": ("sum(records) FILTER (WHERE usage_type = 'data')", "count(*) FILTER (WHERE usage_type = 'data')"),
    "duration": (
        "sum(duration_seconds) FILTER (WHERE usage_type = 'voice')",
        "sum(duration_seconds) FILTER (WHERE usage_type = 'voice')",
    ),
    "billable": (
        "sum(billable_seconds) FILTER (WHERE usage_type = 'voice')",
        "sum(billable_seconds) FILTER (WHERE usage_type = 'voice')",
    ),
    "data_bytes": ("sum(data_bytes)", "sum(data_bytes)"),
    "cost": ("sum(cost)", "sum(coalesce(cost, 0))"),
    "longest": (
        "max(max_duration_seconds) FILTER (WHERE usage_type = 'voice')",
        "max(duration_seconds) FILTER (WHERE usage_type = 'voice')",
    ),
}
_SUMMED = ("records", "calls", "messages", "data_sessions", "duration", "billable", "data_bytes", "cost")
# The aggregates each metric is computed from (a summary asked for some metrics computes only those).
_METRIC_AGGREGATES = {
    "records": {"records"},
    "calls": {"calls"},
    "messages": {"messages"},
    "data_sessions": {"data_sessions"},
    "minutes": {"duration"},
    "billable_minutes": {"billable"},
    "data_mb": {"data_bytes"},
    "cost": {"cost"},
    "average_call_seconds": {"duration", "calls"},
    "longest_call_seconds": {"longest"},
}

TWO_PLACES = Decimal("0.01")
MB = Decimal(1_000_000)


@dataclass
class Totals:
    """Metrics of one group (or of everything). Money and minutes are Decimal, never float."""

    records: int = 0
    calls: int = 0
    messages: int = 0
    data_sessions: int = 0
    duration: int = 0  # seconds of voice calls
    billable: int = 0
    data_bytes: int = 0
    cost: Decimal = Decimal(0)
    longest: int = 0

    def add(self, other: Totals) -> None:
        for name in _SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.longest = max(self.longest, other.longest)

    @property
    def minutes(self) -> Decimal:
        return (Decimal(self.duration) / 60).quantize(TWO_PLACES, ROUND_HALF_UP)

    @property
    def billable_minutes(self) -> Decimal:
        return (Decimal(self.billable) / 60).quantize(TWO_PLACES, ROUND_HALF_UP)

    @property
    def data_mb(self) -> Decimal:
        return (Decimal(self.data_bytes) / MB).quantize(TWO_PLACES, ROUND_HALF_UP)

    @property
    def average_call_seconds(self) -> Decimal:
        if not self.calls:
            return Decimal(0)
        return (Decimal(self.duration) / self.calls).quantize(Decimal("0.1"), ROUND_HALF_UP)

    @property
    def longest_call_seconds(self) -> int:
        return self.longest

    def metric(self, metric: Metric):
        return getattr(self, metric.value)


@dataclass
class GroupKey:
    dimension: Dimension
    value: object  # id, code, int or date
    label: str


@dataclass
class SummaryRow:
    keys: list[GroupKey]
    totals: Totals
    is_others: bool = False  # the "all others" row after a top-N


@dataclass
class Period:
    start: date  # inclusive, organization's local date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def previous_of(scope: Scope, period: Period) -> tuple[Period, Basis]:
    """The period a period is compared with, and why that one (``billing.periods.comparison_period``)."""
    start, end, basis = comparison_period(scope.organization, period.start, period.end)
    return Period(start, end), basis


@dataclass
class UsageFilter:
    """Each list limits a dimension to the given values; empty means no limit."""

    locations: list[int] = field(default_factory=list)
    persons: list[int] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    duration_bands: list[int] = field(default_factory=list)
    directions: list[str] = field(default_factory=list)
    usage_types: list[str] = field(default_factory=list)
    hours: list[int] = field(default_factory=list)
    weekdays: list[int] = field(default_factory=list)
    days: list[date] = field(default_factory=list)
    weeks: list[date] = field(default_factory=list)  # Mondays
    months: list[date] = field(default_factory=list)  # first days
    min_duration_seconds: int | None = None
    max_duration_seconds: int | None = None
    # The same lists, taken out: usage of any excluded value is left out (usage without a value, such as a
    # call of no location, stays in). Its duration limits are not used.
    exclude: UsageFilter | None = None

    _BY_DIMENSION = {
        "locations": Dimension.LOCATION,
        "persons": Dimension.PERSON,
        "lines": Dimension.LINE,
        "categories": Dimension.CATEGORY,
        "countries": Dimension.COUNTRY,
        "duration_bands": Dimension.DURATION_BAND,
        "directions": Dimension.DIRECTION,
        "usage_types": Dimension.USAGE_TYPE,
        "hours": Dimension.HOUR,
        "weekdays": Dimension.WEEKDAY,
        "days": Dimension.DAY,
        "weeks": Dimension.WEEK,
        "months": Dimension.MONTH,
    }

    def dimensions(self) -> set[Dimension]:
        own = {dim for name, dim in self._BY_DIMENSION.items() if getattr(self, name)}
        return own | (self.exclude.dimensions() if self.exclude else set())

    def needs_raw(self) -> bool:
        return self.min_duration_seconds is not None or self.max_duration_seconds is not None

    def sql(self, table: str = "") -> tuple[list[str], list]:
        clauses, params = [], []
        for name, dim in self._BY_DIMENSION.items():
            values = getattr(self, name)
            if values:
                clauses.append(f"{_dimension_sql(dim, table)} = ANY(%s)")
                params.append(list(values))
        for name, dim in self._BY_DIMENSION.items():
            values = getattr(self.exclude, name) if self.exclude else None
            if values:
                # "<> ALL" is NULL for a NULL value: coalesce keeps usage that has no value of the dimension.
                clauses.append(f"coalesce({_dimension_sql(dim, table)} <> ALL(%s), true)")
                params.append(list(values))
        prefix = f"{table}." if table else ""
        if self.min_duration_seconds is not None:
            clauses.append(f"{prefix}duration_seconds >= %s")
            params.append(self.min_duration_seconds)
        if self.max_duration_seconds is not None:
            clauses.append(f"{prefix}duration_seconds <= %s")
            params.append(self.max_duration_seconds)
        return clauses, params

    def validate(self) -> None:
        if self.exclude is not None:
            if self.exclude.exclude is not None:
                raise UsageQueryError("an exclusion cannot hold another exclusion", field="filter.exclude.exclude")
            if self.exclude.min_duration_seconds is not None or self.exclude.max_duration_seconds is not None:
                raise UsageQueryError(
                    "duration limits are not excluded: set them on the filter", field="filter.exclude"
                )
            self.exclude.validate()
        if any(d.isoweekday() != 1 for d in self.weeks):
            raise UsageQueryError("weeks are given by their Monday", field="filter.weeks")
        if any(d.day != 1 for d in self.months):
            raise UsageQueryError("months are given by their first day", field="filter.months")
        if self.min_duration_seconds is not None and self.min_duration_seconds < 0:
            raise UsageQueryError("minDurationSeconds must not be negative", field="filter.minDurationSeconds")
        if (
            self.min_duration_seconds is not None
            and self.max_duration_seconds is not None
            and self.min_duration_seconds > self.max_duration_seconds
        ):
            raise UsageQueryError(
                "minDurationSeconds is greater than maxDurationSeconds", field="filter.minDurationSeconds"
            )
        if any(not 0 <= h <= 23 for h in self.hours):
            raise UsageQueryError("hours are 0–23", field="filter.hours")
        if any(not 1 <= d <= 7 for d in self.weekdays):
            raise UsageQueryError("weekdays are 1 (Monday) to 7 (Sunday)", field="filter.weekdays")
        if any(b not in DurationBand.values for b in self.duration_bands):
            raise UsageQueryError("unknown duration band", field="filter.durationBands")


@dataclass
class UsageSummary:
    period: Period
    group_by: list[Dimension]
    rows: list[SummaryRow]
    totals: Totals
    previous_period: Period | None
    previous_totals: Totals | None
    previous_basis: Basis | None
    group_count: int  # groups before the top-N cut
    source: str  # which table answered: monthly (with the edge days from daily), daily, hourly or raw


def _validate_period(period: Period) -> None:
    if period.start > period.end:
        raise UsageQueryError(f"period starts ({period.start}) after it ends ({period.end})", field="period")
    if period.days > MAX_PERIOD_DAYS:
        raise UsageQueryError(
            f"period is {period.days} days long; at most {MAX_PERIOD_DAYS} days are allowed",
            field="period",
            code="PERIOD_TOO_LONG",
        )


def whole_months(period: Period) -> tuple[date, date] | None:
    """The first and last day of the calendar months lying wholly inside ``period``, if there are any."""
    first = period.start if period.start.day == 1 else next_month(period.start)
    last = next_month(period.end) - timedelta(days=1)
    if last != period.end:
        last = period.end.replace(day=1) - timedelta(days=1)
    return (first, last) if first <= last else None


def summary_source(dimensions: set[Dimension], filters: UsageFilter, force: str | None, period: Period) -> str:
    if force:
        if force == "monthly" and dimensions & _NOT_IN_MONTHLY:
            raise ValueError(f"the monthly rollup cannot answer {sorted(dimensions & _NOT_IN_MONTHLY)}")
        return force
    if filters.needs_raw() or (dimensions & _NOT_IN_DAILY and dimensions & _NOT_IN_HOURLY):
        return "raw"
    if dimensions & _NOT_IN_DAILY:
        return "hourly"
    if not dimensions & _NOT_IN_MONTHLY and whole_months(period):
        return "monthly"
    return "daily"


_TABLES = {
    "monthly": "billing_usagemonthly",
    "daily": "billing_usagedaily",
    "hourly": "billing_usagehourly",
    "raw": "billing_usagerecord",
}
# What the outer query of a monthly + daily union reads (every rollup column a summary can use).
_ROLLUP_COLUMNS = (
    "local_date, location_id, person_id, usage_type, category, direction, duration_band, records, "
    "duration_seconds, billable_seconds, max_duration_seconds, data_bytes, cost"
)


def _aggregate_query(scope, period, dims, filters, source, aggregates_needed=None):
    raw = source == "raw"
    scope_sql, scope_params = scope.sql()
    filter_clauses, filter_params = filters.sql()

    def where(start: date, end: date) -> tuple[str, list]:
        clauses = " AND ".join([scope_sql, "local_date BETWEEN %s AND %s", *filter_clauses])
        # No started_at window here (unlike the drill-down): measured, it made the planner AND in a
        # second index for short periods (4 → 8 ms for two days) and gained nothing for months.
        return clauses, [*scope_params, start, end, *filter_params]

    dim_sql = [_dimension_sql(d) for d in dims]
    aggregates = [
        f"coalesce({_AGGREGATES[name][1 if raw else 0]}, 0)"
        if aggregates_needed is None or name in aggregates_needed
        else "0"  # not asked for: the column stays, the work goes
        for name in _AGGREGATES
    ]
    select = ", ".join(dim_sql + aggregates)
    months = whole_months(period) if source == "monthly" else None
    if source == "monthly" and months != (period.start, period.end):
        # Whole months from the monthly rollup, the days before and after them from the daily one
        # (both hold the same sums for the same records, so the union is exact).
        parts, params = [], []
        ranges = [("daily", period.start, period.end)]
        if months:
            ranges = [
                ("daily", period.start, months[0] - timedelta(days=1)),
                ("monthly", months[0], months[1]),
                ("daily", months[1] + timedelta(days=1), period.end),
            ]
        for table, start, end in ranges:
            if start <= end:
                clauses, part_params = where(start, end)
                parts.append(f"SELECT {_ROLLUP_COLUMNS} FROM {_TABLES[table]} WHERE {clauses}")
                params += part_params
        sql = f"SELECT {select} FROM ({' UNION ALL '.join(parts)}) AS u"
    else:
        clauses, params = where(period.start, period.end)
        sql = f"SELECT {select} FROM {_TABLES[source]} WHERE {clauses}"
    if dim_sql:
        sql += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(dim_sql)))
    return sql, params


def read_alias() -> str:
    """The database these read-only selectors use: a read replica when one is configured (the
    ``replica_ok`` hint says a few seconds of replication lag are acceptable for analytics)."""
    return router.db_for_read(UsageRecord, replica_ok=True)


def _run(sql, params, n_dims, max_groups=MAX_GROUPS):
    with connections[read_alias()].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchmany(max_groups + 1)
    if len(rows) > max_groups:
        raise UsageQueryError(
            f"more than {max_groups} groups; narrow the period, filter, or group by fewer dimensions",
            field="groupBy",
            code="TOO_MANY_GROUPS",
        )
    out = []
    for row in rows:
        # PostgreSQL sums bigints into numeric: counts and seconds back to int, cost stays Decimal.
        values = {
            name: (Decimal(v) if name == "cost" else int(v)) for name, v in zip(_AGGREGATES, row[n_dims:], strict=True)
        }
        totals = Totals(**values)
        out.append((list(row[:n_dims]), totals))
    return out


def _labels(scope: Scope, dims: list[Dimension], raw_rows) -> dict[Dimension, dict]:
    """Names for ids and codes, loaded with one query per id dimension (scoped to the organization);
    two people of the same name are told apart (``billing.people``), with one more query if so."""
    labels: dict[Dimension, dict] = {}
    models = {Dimension.LOCATION: (Location, "name"), Dimension.LINE: (Line, "number")}
    for i, dim in enumerate(dims):
        ids = {keys[i] for keys, _ in raw_rows if keys[i] is not None}
        if dim in models:
            model, attr = models[dim]
            labels[dim] = dict(
                model.objects.using(read_alias())
                .filter(organization=scope.organization, id__in=ids)
                .values_list("id", attr)
            )
        elif dim == Dimension.PERSON:
            labels[dim] = _person_labels(scope, ids)
    return labels


def _person_labels(scope: Scope, ids: set) -> dict:
    persons = Person.objects.using(read_alias()).filter(organization=scope.organization, id__in=ids)
    names, numbers = {}, {}
    for pid, name, number in persons.values_list("id", "name", "employee_number"):
        names[pid], numbers[pid] = name, number
    lines_of: dict[int, list[str]] = {}
    if len({n.strip().casefold() for n in names.values()}) < len(names):
        assignments = LineAssignment.objects.using(read_alias()).filter(
            organization=scope.organization, person_id__in=ids
        )
        for pid, number in assignments.order_by("line__number").values_list("person_id", "line__number"):
            lines_of.setdefault(pid, [])
            if number not in lines_of[pid]:
                lines_of[pid].append(number)
    return person_labels(names, numbers, lines_of)


_EMPTY_LABELS = {
    Dimension.LOCATION: gettext_lazy("No location"),
    Dimension.PERSON: gettext_lazy("Unassigned"),
    Dimension.LINE: gettext_lazy("No line"),
    Dimension.COUNTRY: gettext_lazy("No country (domestic or unknown)"),
    Dimension.CATEGORY: gettext_lazy("No category"),
}
_WEEKDAYS = [
    gettext_lazy("Monday"),
    gettext_lazy("Tuesday"),
    gettext_lazy("Wednesday"),
    gettext_lazy("Thursday"),
    gettext_lazy("Friday"),
]
_WEEKDAYS += [gettext_lazy("Saturday"), gettext_lazy("Sunday")]


def _label(dim: Dimension, value, labels) -> str:
    if value is None or value == "":
        return str(_EMPTY_LABELS.get(dim, gettext_lazy("Not set")))
    if dim in labels:
        return labels[dim].get(value, str(value))
    if dim == Dimension.DURATION_BAND:
        return str(DurationBand(value).label)
    if dim == Dimension.WEEKDAY:
        return str(_WEEKDAYS[value - 1])
    if dim == Dimension.HOUR:
        return f"{value:02d}:00–{value:02d}:59"
    if dim == Dimension.MONTH:
        return format_date(value, "LLLL y", locale=to_locale(get_language() or "en"))
    if dim == Dimension.WEEK:
        return _("Week of %(day)s") % {"day": value.isoformat()}
    if isinstance(value, date):
        return value.isoformat()
    if dim == Dimension.CATEGORY:
        return str(dict(Category.choices).get(value, value))
    if dim == Dimension.DIRECTION:
        return str(dict(Direction.choices).get(value, value))
    if dim == Dimension.USAGE_TYPE:
        return str(dict(UsageType.choices).get(value, value))
    return str(value)


_BY_NAME = {Dimension.LOCATION, Dimension.PERSON, Dimension.LINE, Dimension.CATEGORY, Dimension.COUNTRY}
_BY_NAME |= {Dimension.DIRECTION, Dimension.USAGE_TYPE}


def _group_order(row: SummaryRow) -> list:
    """Groups in the order people read them: names alphabetically, hours, weekdays, bands and dates in
    their own order (06:00 before 10:00); the empty group last."""
    return [(k.value in (None, ""), k.label.casefold() if k.dimension in _BY_NAME else k.value or 0) for k in row.keys]


def usage_summary(
    *,
    scope: Scope,
    period: Period,
    group_by: list[Dimension],
    filters: UsageFilter | None = None,
    order_by: Metric | None = Metric.COST,
    descending: bool = True,
    first: int | None = None,
    compare_previous: bool = False,
    source: str | None = None,
    metrics: set[Metric] | None = None,
    max_groups: int = MAX_GROUPS,
) -> UsageSummary:
    """Usage in ``period`` grouped by ``group_by``; top ``first`` groups plus an "all others" row.

    ``order_by=None`` sorts by the group keys. ``source`` forces a table (tests and the benchmark).
    ``metrics``: compute only these (and ``order_by``); every other metric of the answer reads 0.
    ``max_groups`` is raised only by domain readers that bound their groups themselves (the anomaly
    and forecast histories: days × groups of their own dimension).
    """
    filters = filters or UsageFilter()
    _validate_period(period)
    filters.validate()
    if len(set(group_by)) != len(group_by):
        raise UsageQueryError("a dimension appears twice in groupBy", field="groupBy")
    if Dimension.COST_CENTRE in group_by:
        raise UsageQueryError("COST_CENTRE is grouped on its own (billing.costcentres.usage)", field="groupBy")
    if len(group_by) > MAX_GROUP_BY:
        raise UsageQueryError(f"group by at most {MAX_GROUP_BY} dimensions", field="groupBy")
    if first is not None and not 1 <= first <= 1000:
        raise UsageQueryError("first must be between 1 and 1000", field="first")
    dims = list(group_by)
    needed = set(dims) | filters.dimensions()
    chosen = summary_source(needed, filters, source, period)
    aggregates_needed = None
    if metrics is not None:
        asked = set(metrics) | ({order_by} if order_by is not None else set())
        aggregates_needed = set().union(*(_METRIC_AGGREGATES[m.value] for m in asked))
    sql, params = _aggregate_query(scope, period, dims, filters, chosen, aggregates_needed)
    raw_rows = _run(sql, params, len(dims), max_groups)
    labels = _labels(scope, dims, raw_rows)
    rows = [
        SummaryRow(keys=[GroupKey(d, v, _label(d, v, labels)) for d, v in zip(dims, keys, strict=True)], totals=t)
        for keys, t in raw_rows
    ]
    totals = Totals()
    for row in rows:
        totals.add(row.totals)
    if order_by is not None:
        rows.sort(key=lambda r: (r.totals.metric(order_by), _group_order(r)), reverse=descending)
    else:
        rows.sort(key=_group_order)
    group_count = len(rows)
    if first is not None and len(rows) > first:
        others = Totals()
        for row in rows[first:]:
            others.add(row.totals)
        rows = rows[:first] + [
            SummaryRow(keys=[GroupKey(d, None, _("All others")) for d in dims], totals=others, is_others=True)
        ]
    previous_period = previous_totals = basis = None
    if compare_previous:
        previous_period, basis = previous_of(scope, period)
        previous_source = summary_source(needed, filters, source, previous_period)
        sql, params = _aggregate_query(scope, previous_period, [], filters, previous_source, aggregates_needed)
        previous_totals = _run(sql, params, 0)[0][1]
    return UsageSummary(
        period=period,
        group_by=dims,
        rows=rows,
        totals=totals,
        previous_period=previous_period,
        previous_totals=previous_totals,
        previous_basis=basis,
        group_count=group_count,
        source=chosen,
    )


# --- Drill-down ------------------------------------------------------------------------------------


class RecordOrder(StrEnum):
    TIME = "time"
    DURATION = "duration"


@dataclass
class RecordPage:
    records: list[UsageRecord]
    end_cursor: str | None
    has_next_page: bool


def record_cursor(order: RecordOrder, record: UsageRecord) -> str:
    value = record.started_at.isoformat() if order == RecordOrder.TIME else record.duration_seconds
    return base64.urlsafe_b64encode(json.dumps([order.value, value, record.id]).encode()).decode()


def _decode_cursor(cursor: str, order: RecordOrder):
    try:
        kind, value, record_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if kind != order.value or not isinstance(record_id, int):
            raise ValueError
        value = datetime.fromisoformat(value) if order == RecordOrder.TIME else int(value)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise UsageQueryError("after is not a cursor of this list and order", field="after", code="BAD_CURSOR") from exc
    return value, record_id


def usage_records(
    *,
    scope: Scope,
    period: Period,
    filters: UsageFilter | None = None,
    order_by: RecordOrder = RecordOrder.TIME,
    descending: bool = True,
    first: int = 50,
    after: str | None = None,
) -> RecordPage:
    """One page of the usage records behind a summary group, with keyset (cursor) pagination.

    Two queries at most whatever the page size: the records with their line, person and location
    joined in. ``destination`` is blanked unless the scope may reveal numbers; use ``destination_masked``.
    """
    filters = filters or UsageFilter()
    _validate_period(period)
    filters.validate()
    if not 1 <= first <= MAX_PAGE:
        raise UsageQueryError(f"first must be between 1 and {MAX_PAGE}", field="first", code="PAGE_TOO_LARGE")
    table = "billing_usagerecord"
    scope_sql, params = scope.sql(table)
    filter_clauses, filter_params = filters.sql(table)
    where = [
        scope_sql,
        f"{table}.local_date BETWEEN %s AND %s",
        f"{table}.started_at >= %s AND {table}.started_at < %s",  # the months' partitions only
        *filter_clauses,
    ]
    params = [*params, period.start, period.end, *started_window(period.start, period.end), *filter_params]
    column = "started_at" if order_by == RecordOrder.TIME else "duration_seconds"
    if after:
        value, record_id = _decode_cursor(after, order_by)
        where.append(f"({table}.{column}, {table}.id) {'<' if descending else '>'} (%s, %s)")
        params += [value, record_id]
    queryset = (
        UsageRecord.objects.using(read_alias())
        .select_related("line", "person", "location")
        .extra(where=[" AND ".join(where)], params=params)  # noqa: S610 - fixed SQL, values are parameters
        .order_by(f"{'-' if descending else ''}{column}", f"{'-' if descending else ''}id")
    )
    records = list(queryset[: first + 1])
    has_next = len(records) > first
    records = records[:first]
    if not scope.reveal_numbers:
        for record in records:
            record.destination = ""
    return RecordPage(
        records=records,
        end_cursor=record_cursor(order_by, records[-1]) if records else None,
        has_next_page=has_next,
    )
