"""Bulk, idempotent writing of usage records with ``COPY``; the one path into the usage table.

Rows are streamed into a temporary table with ``COPY`` and moved into ``billing_usagerecord`` with
``INSERT … ON CONFLICT DO NOTHING`` on the (organization, source, source_id, started_at) key, so a
record that is already there (from an earlier import or earlier in the same file) is skipped, never
doubled. The rollups of every touched day are rebuilt in the same transaction.
"""

from __future__ import annotations

import csv
import io
import operator
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import date, datetime

from django.db import connection, transaction

from billing.usage.rollups import rollups_rebuild


@dataclass(slots=True)
class NewUsageRecord:
    organization_id: int
    line_id: int
    person_id: int | None
    location_id: int | None
    usage_type: str
    started_at: datetime  # aware, UTC
    local_date: date
    local_hour: int
    duration_seconds: int
    billable_seconds: int
    duration_band: int
    direction: str
    answered: bool
    destination: str
    destination_masked: str
    category: str
    country: str
    zone: str
    data_bytes: int
    source: str
    source_id: str
    import_batch_id: int | None


COLUMNS = [f.name for f in fields(NewUsageRecord)]
_values = operator.attrgetter(*COLUMNS)
_TEXT_COLUMNS = ["destination", "destination_masked", "country", "zone", "source_id"]
COPY_CHUNK = 50_000
COPY_READ_SIZE = 1 << 20  # bytes psycopg2 sends per write during COPY (its default is 8 KiB)


@dataclass
class WriteResult:
    inserted: int
    duplicates: int
    slices: set[tuple[int, date]]


def _row_values(row: NewUsageRecord) -> list:
    return [
        ""
        if v is None
        else ("t" if v is True else "f" if v is False else v.isoformat() if isinstance(v, datetime) else v)
        for v in _values(row)
    ]


def _records_csv(rows: list[NewUsageRecord]) -> str:
    buffer = io.StringIO()
    # "\r\n" rows: the csv module then quotes any field holding a CR or LF (e.g. a CDR's userfield),
    # which a bare "\n" terminator would leave unquoted and PostgreSQL would read as a row break.
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(map(_row_values, rows))
    return buffer.getvalue()


def record_line_renderer() -> Callable[[NewUsageRecord], str]:
    """A function rendering one record as a COPY line for ``usage_lines_write`` (CSV in the order of
    ``COLUMNS``, ending in CR LF). Each renderer has its own buffer: use one per import, not across threads."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def render(record: NewUsageRecord) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(_row_values(record))
        return buffer.getvalue()

    return render


def _copy(cursor, text: str) -> None:
    cursor.copy_expert(
        f"COPY usage_incoming ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv, "
        f"FORCE_NOT_NULL ({', '.join(_TEXT_COLUMNS)}))",
        io.StringIO(text),
        COPY_READ_SIZE,
    )


def _record_chunks(records: Iterable[NewUsageRecord]) -> Iterator[tuple[str, int]]:
    chunk: list[NewUsageRecord] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= COPY_CHUNK:
            yield _records_csv(chunk), len(chunk)
            chunk = []
    if chunk:
        yield _records_csv(chunk), len(chunk)


def _line_chunks(lines: Iterable[str]) -> Iterator[tuple[str, int]]:
    chunk: list[str] = []
    append = chunk.append
    for line in lines:
        append(line)
        if len(chunk) >= COPY_CHUNK:
            yield "".join(chunk), len(chunk)
            chunk.clear()
    if chunk:
        yield "".join(chunk), len(chunk)


def usage_records_write(*, records: Iterable[NewUsageRecord], rebuild_rollups: bool = True) -> WriteResult:
    """Insert usage records that are not there yet; rebuild the rollups of the days that changed."""
    return _write(_record_chunks(records), rebuild_rollups)


def usage_lines_write(*, lines: Iterable[str], rebuild_rollups: bool = True) -> WriteResult:
    """``usage_records_write`` for records already rendered as COPY lines: CSV in the order of
    ``COLUMNS``, each line ending in CR LF, every field holding a comma, quote, CR or LF quoted (the
    importer's fast path writes these directly; ``record_line_renderer`` renders ``NewUsageRecord``s)."""
    return _write(_line_chunks(lines), rebuild_rollups)


def _write(chunks: Iterable[tuple[str, int]], rebuild_rollups: bool) -> WriteResult:
    total = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS usage_incoming AS SELECT {', '.join(COLUMNS)} "
            "FROM billing_usagerecord WITH NO DATA"
        )
        cursor.execute("TRUNCATE usage_incoming")
        for text, count in chunks:
            _copy(cursor, text)
            total += count
        cols = ", ".join(COLUMNS)
        cursor.execute(
            f"""WITH inserted AS (
                    INSERT INTO billing_usagerecord ({cols})
                    SELECT {cols} FROM usage_incoming ORDER BY started_at
                    ON CONFLICT (organization_id, source, source_id, started_at) DO NOTHING
                    RETURNING organization_id, local_date)
                SELECT organization_id, local_date, count(*) FROM inserted GROUP BY 1, 2"""
        )
        per_slice = cursor.fetchall()
        cursor.execute("TRUNCATE usage_incoming")
        slices = {(org, day) for org, day, _n in per_slice}
        inserted = sum(n for _org, _day, n in per_slice)
        if rebuild_rollups and slices:
            rollups_rebuild(slices=slices)
    return WriteResult(inserted=inserted, duplicates=total - inserted, slices=slices)
