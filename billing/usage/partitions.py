"""The usage table is partitioned by month of ``started_at`` (UTC): one partition per month plus a default
partition for anything outside them.

``started_at`` is the partition key because it is already in the re-import key (organization, source,
source id, started_at), so that key stays a real unique constraint, and it does not depend on the
organization's time zone (a local date would, and a time-zone change would then let a re-import
insert duplicates). The primary key is (id, started_at); ids still come from one sequence. Indexes,
foreign keys and the append-only trigger are defined on the parent table, so every partition has them.
The drill-down adds a ``started_at`` window around its local dates (``started_window``) so PostgreSQL
only reads the partitions that can hold those days (its newest-first page then walks one month's
(organization, started_at) index instead of merging every partition's).

``partitions_ensure`` (a daily beat task, and ``manage.py usage_partitions``) creates the coming
months' partitions ahead of time; if rows for a month already sit in the default partition it moves
them into the new partition in the same transaction.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, transaction

from billing.months import month_start, next_month

TABLE = "billing_usagerecord"
DEFAULT = f"{TABLE}_default"


def partition_name(month: date) -> str:
    return f"{TABLE}_{month:%Y_%m}"


def _bounds(month: date) -> tuple[datetime, datetime]:
    return datetime.combine(month, time(), UTC), datetime.combine(next_month(month), time(), UTC)


def started_window(start: date, end: date) -> tuple[datetime, datetime]:
    """UTC bounds that contain every record whose local date is in [start, end], in any time zone
    (UTC-12 to UTC+14): a redundant condition that lets PostgreSQL skip the other months' partitions."""
    return datetime.combine(start - timedelta(days=1), time(), UTC), datetime.combine(
        end + timedelta(days=2), time(), UTC
    )


def is_partitioned(cursor=None) -> bool:
    def check(c) -> bool:
        c.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)", [TABLE])
        return c.fetchone() is not None

    if cursor is not None:
        return check(cursor)
    with connection.cursor() as c:
        return check(c)


def partitions() -> list[str]:
    """Names of the usage table's partitions, the default one included, in name order."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s) ORDER BY 1",
            [TABLE],
        )
        return [name for (name,) in cursor.fetchall()]


def _refuse_truncate(cursor, name: str) -> None:
    """A TRUNCATE of one partition fires only that partition's statement triggers, and partitions do not
    inherit them: each new one gets the guard of billing migration 0012."""
    cursor.execute("SELECT to_regproc('billing_truncate_guard') IS NOT NULL")
    if cursor.fetchone()[0]:
        cursor.execute(
            f"CREATE TRIGGER {name}_no_truncate BEFORE TRUNCATE ON {name} "
            "FOR EACH STATEMENT EXECUTE FUNCTION billing_truncate_guard('billing.allow_usage_delete')"
        )


def _create_partition(cursor, month: date) -> bool:
    """Create the partition of ``month`` unless it exists; move its rows out of the default partition."""
    name = partition_name(month)
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
    if cursor.fetchone()[0]:
        return False
    low, high = _bounds(month)
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {DEFAULT} WHERE started_at >= %s AND started_at < %s)", [low, high])  # noqa: S608
    if not cursor.fetchone()[0]:
        cursor.execute(f"CREATE TABLE {name} PARTITION OF {TABLE} FOR VALUES FROM (%s) TO (%s)", [low, high])
        _refuse_truncate(cursor, name)
        return True
    # Rows of that month are in the default partition: copy them into a new table, take them out of the
    # default one (the append-only trigger allows it for this transaction only) and attach the table.
    cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    cursor.execute(
        f"INSERT INTO {name} SELECT * FROM {DEFAULT} WHERE started_at >= %s AND started_at < %s",  # noqa: S608
        [low, high],
    )
    cursor.execute("SET LOCAL billing.allow_usage_delete = 'on'")
    cursor.execute(f"DELETE FROM {DEFAULT} WHERE started_at >= %s AND started_at < %s", [low, high])  # noqa: S608
    cursor.execute("SET LOCAL billing.allow_usage_delete = 'off'")
    cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", [low, high])
    _refuse_truncate(cursor, name)
    return True


def partitions_ensure(*, months_ahead: int = 3, today: date | None = None, months: list[date] = ()) -> list[str]:
    """Create the partitions of this month and the next ``months_ahead`` ones (and of ``months``).

    Returns the names of the partitions created. Idempotent; each month in its own transaction.
    """
    today = today or datetime.now(UTC).date()
    wanted = {month_start(m) for m in months}
    month = month_start(today)
    for _ in range(months_ahead + 1):
        wanted.add(month)
        month = next_month(month)
    created = []
    for month in sorted(wanted):
        with transaction.atomic(), connection.cursor() as cursor:
            if not is_partitioned(cursor):
                raise RuntimeError(f"{TABLE} is not partitioned (migration billing 0011 not applied)")
            cursor.execute(f"LOCK TABLE {TABLE} IN SHARE UPDATE EXCLUSIVE MODE")
            if _create_partition(cursor, month):
                created.append(partition_name(month))
    return created
