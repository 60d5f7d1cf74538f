"""The benchmark's bulk dataset builder: the demo's customers and usage, COPYed straight into the
partitioned usage table, then every rollup built set-based in one ``INSERT … SELECT … GROUP BY`` each.

``seed_demo`` writes usage through the usage writer (billing/usage/writer.py): a temporary table, an
``INSERT … ON CONFLICT DO NOTHING`` and a rollup rebuild per (organization, day) slice. That is right
for imports into live data and too slow for ten million records into an empty dataset. Here the
same generator (the same organizations, lines, people, locations, durations and destinations, the
same seed giving the same records) streams CSV into ``COPY billing_usagerecord`` while it generates
(the server parses and inserts one chunk while Python renders the next), after creating the
partitions of every month so no row lands in the default partition. The organization's rollups are then
built in the same transaction with the statements of ``billing.usage.rollups`` over all its days at once
instead of day slices. Each organization runs in its own process. The foreign keys of every row are
still checked, by PostgreSQL's per-row triggers at the commit (Django makes them deferred); for the
largest organization at 10 M that is minutes of one backend's time. tests/benchmark/test_dataset.py proves
records and rollups equal to what ``seed_demo`` writes through the usage writer.

No guard is bypassed: the usage table's triggers refuse updates, deletes and TRUNCATE, never inserts;
the reset before a build is ``seed_reset``'s delete under the maintenance switch. A fresh dataset has
no records to collide with, so the ``ON CONFLICT`` check is left to the unique key, which still
refuses a duplicate (the build then fails whole rather than skipping it).
"""

from __future__ import annotations

import csv
import io
import itertools
import operator
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import connection

from billing.months import month_start, next_month
from billing.usage.partitions import partitions_ensure
from billing.usage.rollups import (
    _DAILY_DIMENSIONS,
    _HOURLY_DIMENSIONS,
    _METRIC_COLUMNS,
    _METRICS,
    _MONTHLY_DIMENSIONS,
    _MONTHLY_METRICS,
)
from billing.usage.writer import COLUMNS, NewUsageRecord
from devtools.demo.seed import seed_demo, seed_reset

CHUNK_ROWS = 20_000  # records rendered per COPY read: small enough to keep Python and the server both busy
_TEXT_COLUMNS = ("destination", "destination_masked", "country", "zone", "source_id")
_COPY = (
    f"COPY billing_usagerecord ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv, "
    f"FORCE_NOT_NULL ({', '.join(_TEXT_COLUMNS)}))"
)


@dataclass
class BuildReport:
    records: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # phase -> wall seconds
    organizations: dict[str, float] = field(default_factory=dict)  # name -> wall seconds in its process


# The csv module writes None as an empty field (NULL in COPY's csv format), True/False as words
# PostgreSQL reads as booleans, and a datetime as ISO 8601 with its offset (a timestamptz).
_values = operator.attrgetter(*COLUMNS)


class _CsvStream(io.RawIOBase):
    """A file ``copy_expert`` reads from: renders the next chunk of records as CSV when asked."""

    def __init__(self, records: Iterator[NewUsageRecord]):
        self._records = records
        self._pending = b""
        self.count = 0
        self.organization_id: int | None = None
        self._text = io.StringIO()
        self._writer = csv.writer(self._text, lineterminator="\r\n")

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        self._text.seek(0)
        self._text.truncate()
        chunk = list(itertools.islice(self._records, CHUNK_ROWS))
        self._writer.writerows(map(_values, chunk))
        rows = len(chunk)
        if rows and self.organization_id is None:
            self.organization_id = chunk[0].organization_id
        self.count += rows
        self._pending += self._text.getvalue().encode()
        return rows > 0

    def read(self, size: int = -1) -> bytes:
        while (size < 0 or len(self._pending) < size) and self._fill():
            pass
        if size < 0:
            size = len(self._pending)
        out, self._pending = self._pending[:size], self._pending[size:]
        return out


def copy_sink(records: Iterator[NewUsageRecord]) -> int:
    """A ``seed_demo`` usage sink: COPY one organization's records straight into the usage table, then
    build its rollups, in its transaction. Returns the number of records."""
    stream = _CsvStream(records)
    with connection.cursor() as cursor:
        cursor.copy_expert(_COPY, stream, 1 << 20)
        if stream.organization_id is not None:
            rollups_build(stream.organization_id)
    return stream.count


def rollups_build(organization_id: int) -> None:
    """Build the daily, hourly and monthly rollups of a whole organization from its usage records, set
    based: the statements of ``rollups_rebuild`` grouped over all its days at once (its rollups must be
    empty)."""
    where = "organization_id = %s"
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '256MB'")  # the hash aggregates stay in memory
        for table, dimensions in (
            ("billing_usagedaily", _DAILY_DIMENSIONS),
            ("billing_usagehourly", _HOURLY_DIMENSIONS),
        ):
            cursor.execute(
                f"""INSERT INTO {table} ({dimensions}, {_METRIC_COLUMNS})
                    SELECT {dimensions}, {_METRICS} FROM billing_usagerecord
                    WHERE {where} GROUP BY {dimensions}""",  # noqa: S608 - constant identifiers
                [organization_id],
            )
        cursor.execute(
            f"""INSERT INTO billing_usagemonthly (organization_id, local_date, {_MONTHLY_DIMENSIONS}, {_METRIC_COLUMNS})
                SELECT organization_id, date_trunc('month', local_date)::date, {_MONTHLY_DIMENSIONS}, {_MONTHLY_METRICS}
                FROM billing_usagedaily WHERE {where}
                GROUP BY organization_id, date_trunc('month', local_date)::date, {_MONTHLY_DIMENSIONS}""",  # noqa: S608
            [organization_id],
        )


def months_between(start: date, end: date) -> list[date]:
    """The first days of every month from ``start``'s to ``end``'s (both included)."""
    months, month = [], month_start(start)
    while month <= end:
        months.append(month)
        month = next_month(month)
    return months


def dataset_build(
    *, scale: float, end: date, seed: int = 42, months: int = 6, workers: int = 1, log=print
) -> BuildReport:
    """Replace the demo dataset by one of ``scale`` (``seed_demo``'s scale) built in bulk, the organizations'
    records generated and copied in ``workers`` processes at once (outside a transaction only)."""
    report = BuildReport()
    began = time.monotonic()
    seed_reset()
    start = month_start(end.replace(day=1), months)
    # Every month of the data gets its own partition up front, with the UTC months either side of it
    # (midnight local on the first day is the previous UTC day east of Greenwich).
    partitions_ensure(months_ahead=1, today=end, months=months_between(start - timedelta(days=1), end))
    report.seconds["reset"] = round(time.monotonic() - began, 1)
    phase = time.monotonic()
    seeded = seed_demo(seed=seed, scale=scale, months=months, end=end, log=log, usage_sink=copy_sink, workers=workers)
    report.records = sum(count for _name, count, _s in seeded.organizations)
    report.seconds["records_and_rollups"] = round(time.monotonic() - phase, 1)  # seed_demo ANALYZEs them too
    report.organizations = {name: round(seconds, 1) for name, _count, seconds in seeded.organizations}
    report.seconds["total"] = round(time.monotonic() - began, 1)
    log(
        f"  bulk build: {report.records:,} records; "
        + ", ".join(f"{phase} {seconds} s" for phase, seconds in report.seconds.items())
    )
    return report
