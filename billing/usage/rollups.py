"""Rollup tables: usage pre-aggregated per organization and local day, hour and month for analytics.

There is one way to keep them right: ``rollups_rebuild`` recomputes whole (organization, day) slices
from the usage records, and then the whole months containing those days from the daily rollup, inside
the caller's transaction. Importers, the demo seeder and rating call it for the days they touched, so
rollups never drift from the records they summarize.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from django.db import connection

_METRICS = """
    count(*), count(*) FILTER (WHERE answered), coalesce(sum(duration_seconds), 0),
    coalesce(sum(billable_seconds), 0), coalesce(max(duration_seconds), 0), coalesce(sum(data_bytes), 0),
    coalesce(sum(cost), 0)
"""
_METRIC_COLUMNS = "records, answered, duration_seconds, billable_seconds, max_duration_seconds, data_bytes, cost"

_DAILY_DIMENSIONS = (
    "organization_id, local_date, line_id, location_id, person_id, usage_type, category, country, direction, "
    "duration_band"
)
# The monthly rollup is the daily one without day, line and country: everything in it is in the daily.
_MONTHLY_DIMENSIONS = "location_id, person_id, usage_type, category, direction, duration_band"
_MONTHLY_METRICS = """
    sum(records), sum(answered), sum(duration_seconds), sum(billable_seconds), max(max_duration_seconds),
    sum(data_bytes), sum(cost)
"""
_HOURLY_DIMENSIONS = (
    "organization_id, local_date, local_hour, location_id, person_id, usage_type, category, direction, duration_band"
)


def rollups_rebuild(*, slices: Iterable[tuple[int, date]]) -> int:
    """Recompute the daily and hourly rollups of the given (organization id, local date) slices, and the
    monthly rollup of the months that contain them.

    Returns the number of daily rollup rows written. Must run in the same transaction as the change
    to the usage records, so readers never see records and rollups disagree.
    """
    by_org: dict[int, set[date]] = defaultdict(set)
    for organization_id, day in slices:
        by_org[organization_id].add(day)
    written = 0
    with connection.cursor() as cursor:
        for organization_id, days in sorted(by_org.items()):
            # One rebuild per organization at a time (ids in order, so two writers never deadlock):
            # a month is rebuilt from all its days, so two imports of different days of one month
            # running side by side would each miss the other's uncommitted days and double its rows.
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('billing.rollups'), %s)", [organization_id])
            params = [organization_id, sorted(days)]
            where = "organization_id = %s AND local_date = ANY(%s::date[])"
            cursor.execute(f"DELETE FROM billing_usagedaily WHERE {where}", params)
            cursor.execute(f"DELETE FROM billing_usagehourly WHERE {where}", params)
            cursor.execute(
                f"""INSERT INTO billing_usagedaily ({_DAILY_DIMENSIONS}, {_METRIC_COLUMNS})
                    SELECT {_DAILY_DIMENSIONS}, {_METRICS} FROM billing_usagerecord
                    WHERE {where} GROUP BY {_DAILY_DIMENSIONS}""",
                params,
            )
            written += cursor.rowcount
            cursor.execute(
                f"""INSERT INTO billing_usagehourly ({_HOURLY_DIMENSIONS}, {_METRIC_COLUMNS})
                    SELECT {_HOURLY_DIMENSIONS}, {_METRICS} FROM billing_usagerecord
                    WHERE {where} GROUP BY {_HOURLY_DIMENSIONS}""",
                params,
            )
            months = sorted({day.replace(day=1) for day in days})
            cursor.execute(
                "DELETE FROM billing_usagemonthly WHERE organization_id = %s AND local_date = ANY(%s::date[])",
                [organization_id, months],
            )
            # Rebuilt from the daily rollup (already right for the touched days, and unchanged for the
            # others): a month of daily rows is far fewer rows than its usage records.
            cursor.execute(
                f"""INSERT INTO billing_usagemonthly
                        (organization_id, local_date, {_MONTHLY_DIMENSIONS}, {_METRIC_COLUMNS})
                    SELECT d.organization_id, m.month, {_MONTHLY_DIMENSIONS}, {_MONTHLY_METRICS}
                    FROM unnest(%s::date[]) AS m(month)
                    JOIN billing_usagedaily d ON d.organization_id = %s
                        AND d.local_date >= m.month AND d.local_date < (m.month + interval '1 month')::date
                    GROUP BY d.organization_id, m.month, {_MONTHLY_DIMENSIONS}""",
                [months, organization_id],
            )
    return written
