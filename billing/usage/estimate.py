"""What a usage query will read, estimated before it runs (the API's cost model is built on this).

A summary's database work is the rollup rows it scans: which table answers (``summary_source``, the
same choice the selector makes), times the organization's rows in that table for the period's months.
Its Python work is the groups it builds, at most the product of the grouping dimensions' cardinalities
for this organization (a filter on a dimension caps that dimension at the values given), and never more
than the rows it scans nor ``MAX_GROUPS``. A drill-down page reads up to ``first + 1`` matching records
walking an index: the rarer the filter's match, the more rows the walk passes.

The organization's statistics (rows per month in each rollup, records per month, how many locations,
persons, lines and countries) come from one round trip and are kept ``STATISTICS_SECONDS`` in the
cache: an estimate costs no SQL while they are fresh, and a stale one is off by at most what was
imported since.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.core.cache import cache
from django.db import connections

from billing.models import Category, Direction, DurationBand, UsageType
from billing.usage.selectors import (
    MAX_GROUPS,
    Dimension,
    Period,
    RecordOrder,
    UsageFilter,
    read_alias,
    summary_source,
    whole_months,
)

STATISTICS_SECONDS = 600
LEVELS = ("monthly", "daily", "hourly", "raw")

_STATISTICS_SQL = """
SELECT 'monthly', local_date, count(*), sum(records) FROM billing_usagemonthly
 WHERE organization_id = %(org)s GROUP BY local_date
UNION ALL
SELECT 'daily', date_trunc('month', local_date)::date, count(*), 0 FROM billing_usagedaily
 WHERE organization_id = %(org)s GROUP BY 2
UNION ALL
SELECT 'hourly', date_trunc('month', local_date)::date, count(*), 0 FROM billing_usagehourly
 WHERE organization_id = %(org)s GROUP BY 2
"""
# How the organization's records spread over the values the monthly rollup keeps: a filter's share.
_SHARE_COLUMNS = {
    Dimension.LOCATION: "location_id",
    Dimension.PERSON: "person_id",
    Dimension.CATEGORY: "category",
    Dimension.DIRECTION: "direction",
    Dimension.USAGE_TYPE: "usage_type",
    Dimension.DURATION_BAND: "duration_band",
}
_SHARES_SQL = " UNION ALL ".join(
    f"SELECT '{dim.value}', {column}::text, sum(records) FROM billing_usagemonthly "  # noqa: S608 - fixed names
    f"WHERE organization_id = %(org)s GROUP BY {column}"
    for dim, column in _SHARE_COLUMNS.items()
)
_CARDINALITY_SQL = """
SELECT (SELECT count(*) FROM billing_location WHERE organization_id = %(org)s),
       (SELECT count(*) FROM billing_person WHERE organization_id = %(org)s),
       (SELECT count(*) FROM billing_line WHERE organization_id = %(org)s),
       (SELECT count(DISTINCT country) FROM billing_usagedaily WHERE organization_id = %(org)s)
"""


@dataclass
class UsageStatistics:
    """An organization's warehouse in numbers: rows per month (first day) at each level."""

    rows: dict[str, dict[date, int]] = field(default_factory=lambda: {level: {} for level in LEVELS})
    # Records per value of the dimensions the monthly rollup keeps (values as text; None: no location/person).
    shares: dict[str, dict[str | None, int]] = field(default_factory=dict)
    locations: int = 0
    persons: int = 0
    lines: int = 0
    countries: int = 0

    def rows_between(self, level: str, start: date, end: date) -> float:
        """Rows of ``level`` with a local date in [start, end], each month's rows spread evenly over its days
        (monthly rows count whole). Walks the months that have rows, whatever the period's length."""
        total = 0.0
        for month, rows in self.rows[level].items():
            days = calendar.monthrange(month.year, month.month)[1]
            overlap = (min(end, month + timedelta(days=days - 1)) - max(start, month)).days + 1
            if overlap > 0:
                total += rows * (1 if level == "monthly" else overlap / days)
        return total

    @property
    def records(self) -> int:
        return sum(self.rows["raw"].values())

    def cardinality(self, dimension: Dimension, period: Period) -> int:
        fixed = {
            Dimension.LOCATION: self.locations + 1,  # + records with no location
            Dimension.PERSON: self.persons + 1,
            Dimension.LINE: self.lines,
            # split by allocation rules (billing.costcentres.usage): at most one group per line, + unallocated
            Dimension.COST_CENTRE: self.lines + 1,
            Dimension.COUNTRY: self.countries + 1,
            Dimension.CATEGORY: len(Category),
            Dimension.DURATION_BAND: len(DurationBand),
            Dimension.DIRECTION: len(Direction),
            Dimension.USAGE_TYPE: len(UsageType),
            Dimension.HOUR: 24,
            Dimension.WEEKDAY: 7,
            Dimension.DAY: period.days,
            Dimension.WEEK: period.days // 7 + 2,
            Dimension.MONTH: (period.end.year - period.start.year) * 12 + period.end.month - period.start.month + 1,
        }
        return max(1, fixed[dimension])


def statistics_key(organization_id: int) -> str:
    return f"usage-statistics:{organization_id}"


def usage_statistics(organization_id: int) -> UsageStatistics:
    key = statistics_key(organization_id)
    stats = cache.get(key)
    if stats is None:
        stats = UsageStatistics()
        with connections[read_alias()].cursor() as cursor:
            cursor.execute(_STATISTICS_SQL, {"org": organization_id})
            for level, month, rows, records in cursor.fetchall():
                stats.rows[level][month] = rows
                if level == "monthly":
                    stats.rows["raw"][month] = int(records or 0)
            cursor.execute(_SHARES_SQL, {"org": organization_id})
            for dimension, value, records in cursor.fetchall():
                stats.shares.setdefault(dimension, {})[value] = int(records or 0)
            cursor.execute(_CARDINALITY_SQL, {"org": organization_id})
            stats.locations, stats.persons, stats.lines, stats.countries = cursor.fetchone()
        cache.set(key, stats, STATISTICS_SECONDS)
    return stats


@dataclass
class ReadEstimate:
    source: str  # the table that will answer: monthly (with daily edges), daily, hourly or raw
    rows_read: float  # rows the database scans
    groups: int  # groups (summary) or records (drill-down) built in Python
    returned: int  # rows in the answer (top-N cut and "all others" row included)


def _selectivity(stats: UsageStatistics, filters: UsageFilter, period: Period) -> float:
    """The share of records a filter keeps: from the records per value where the monthly rollup counts
    them (location, person, category, direction, type, band), else as if values were evenly spread."""
    share = 1.0
    for name, dimension in UsageFilter._BY_DIMENSION.items():
        values = getattr(filters, name)
        if not values:
            continue
        counts = stats.shares.get(dimension.value)
        if counts:
            wanted = {str(v) for v in values}
            # A value never seen counts as one record: the walk passes every record and finds nothing.
            kept = sum(n for value, n in counts.items() if value in wanted) or 1
            share *= min(1.0, kept / max(sum(counts.values()), 1))
        else:
            share *= min(1.0, len(set(values)) / stats.cardinality(dimension, period))
    for bound in (filters.min_duration_seconds, filters.max_duration_seconds):
        if bound is not None:
            share *= 0.5
    return share


def _rows_read(stats: UsageStatistics, source: str, period: Period) -> float:
    months = whole_months(period) if source == "monthly" else None
    if source != "monthly":
        return stats.rows_between(source, period.start, period.end)
    rows = stats.rows_between("monthly", *months) if months else 0.0
    if period.start < months[0]:
        rows += stats.rows_between("daily", period.start, months[0] - timedelta(days=1))
    if months[1] < period.end:
        rows += stats.rows_between("daily", months[1] + timedelta(days=1), period.end)
    return rows


def summary_estimate(
    stats: UsageStatistics,
    *,
    period: Period,
    group_by: list[Dimension],
    filters: UsageFilter,
    first: int | None = None,
    compare_previous: bool = False,
) -> ReadEstimate:
    needed = set(group_by) | filters.dimensions()
    source = summary_source(needed, filters, None, period)
    rows = _rows_read(stats, source, period)
    groups = 1
    for dimension in group_by:
        cardinality = stats.cardinality(dimension, period)
        values = getattr(filters, next((n for n, d in UsageFilter._BY_DIMENSION.items() if d == dimension), ""), None)
        groups *= min(cardinality, len(set(values))) if values else cardinality
    groups = int(min(groups, max(rows, 1), MAX_GROUPS))
    if compare_previous:
        # about the length of the compared period (previous_of picks the billing period; no query here)
        previous = Period(period.start - timedelta(days=period.days), period.start - timedelta(days=1))
        rows += _rows_read(stats, summary_source(needed, filters, None, previous), previous)
    returned = min(groups, first + 1) if first else groups
    return ReadEstimate(source=source, rows_read=rows, groups=groups, returned=returned)


def records_estimate(
    stats: UsageStatistics, *, period: Period, filters: UsageFilter, order_by: RecordOrder, first: int
) -> ReadEstimate:
    in_period = stats.rows_between("raw", period.start, period.end)
    share = _selectivity(stats, filters, period)
    wanted = first + 1
    if order_by == RecordOrder.TIME:
        # The (organization, started_at) index walked newest first inside the period's partitions.
        rows = min(in_period, wanted / share) if share else in_period
    else:
        # The (organization, duration_seconds) index walked longest first over every partition.
        fraction = share * in_period / max(stats.records, 1)
        rows = min(stats.records, wanted / fraction) if fraction else stats.records
    found = int(min(first, math.ceil(in_period * share)))
    return ReadEstimate(source="raw", rows_read=rows, groups=found, returned=found)
