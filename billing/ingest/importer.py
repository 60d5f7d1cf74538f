"""``usage_import``: load a usage file, one transaction, idempotent, honest about every rejected row.

Each row is parsed, matched to one of our lines by number, read in the right time zone, checked,
stamped with the line's person and location at the time of use, classified, and written with COPY
(``billing.usage.writer``), which skips records already loaded and rebuilds the touched rollups. Rows
that fail are stored as ``ImportRejection`` with their file line number and reason. A file that cannot
be read at all raises ``ImportFileError`` and changes nothing.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import re
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from billing.ingest.formats import (
    MAX_FIELD,
    FormatError,
    ParsedRow,
    RowError,
    ShapeError,
    native_parser,
    parse_asterisk,
    parse_freeswitch,
)
from billing.models import ImportBatch, ImportRejection, Line, LineAssignment, Organization
from billing.models.choices import duration_band
from billing.numbers import classify, normalize
from billing.usage.writer import NewUsageRecord, usage_records_write

FORMATS = ("native", "asterisk", "freeswitch")
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(minutes=5)
RAW_KEEP = 1000

_UNDECODABLE = re.compile("[\udc80-\udcff]")

csv.field_size_limit(10_000_000)  # we reject long fields ourselves, with a clear reason


class ImportFileError(Exception):
    """The file as a whole cannot be read; nothing was changed."""


@dataclass
class Rejection:
    line_number: int
    reason: str
    raw: str = ""


@dataclass
class ImportResult:
    batch_id: int | None
    path: str
    format: str
    rows: int = 0
    loaded: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _LineInfo:
    id: int
    number: str
    organization_id: int
    activated_on: date
    deactivated_on: date | None


class _Directory:
    """Our lines, their organizations and assignments, loaded once per import."""

    def __init__(self):
        self.orgs = {o.id: o for o in Organization.objects.all()}
        self.tz = {oid: zoneinfo.ZoneInfo(o.time_zone) for oid, o in self.orgs.items()}
        self.regions = sorted({o.country for o in self.orgs.values()}) or ["US"]
        self.by_number: dict[str, _LineInfo] = {
            number: _LineInfo(pk, number, org, on, off)
            for pk, number, org, on, off in Line.objects.values_list(
                "id", "number", "organization_id", "activated_on", "deactivated_on"
            )
        }
        self.assignments: dict[int, list] = defaultdict(list)
        for line_id, start, end, person, location in LineAssignment.objects.order_by(
            "line_id", "valid_from"
        ).values_list("line_id", "valid_from", "valid_to", "person_id", "location_id"):
            self.assignments[line_id].append((start, end, person, location))
        self.starts = {line_id: [a[0] for a in rows] for line_id, rows in self.assignments.items()}
        self._match_cache: dict[str, _LineInfo | None] = {}

    def match(self, party: str) -> _LineInfo | None:
        party = (party or "").strip()
        if party in self._match_cache:
            return self._match_cache[party]
        found = None
        if party:
            for region in self.regions:
                e164 = normalize(party, region)
                if e164 and e164 in self.by_number:
                    found = self.by_number[e164]
                    break
        self._match_cache[party] = found
        return found

    def stamp(self, line_id: int, when: datetime) -> tuple[int | None, int | None]:
        starts = self.starts.get(line_id)
        if not starts:
            return None, None
        i = bisect.bisect_right(starts, when) - 1
        if i < 0:
            return None, None
        _start, end, person, location = self.assignments[line_id][i]
        if end is not None and when >= end:
            return None, None
        return person, location


def _rows(path: Path):
    """Yield (line_number, fields) for each CSV row, or (line_number, RowError) for unreadable ones.

    Lines are decoded one by one so a single badly encoded row is rejected, not the whole file.
    """
    with path.open("rb") as handle:
        physical = [0]

        def lines():
            for raw in handle:
                physical[0] += 1
                text = raw.decode("utf-8", errors="surrogateescape")
                if physical[0] == 1:
                    text = text.lstrip("\ufeff")
                yield text

        reader = csv.reader(lines())
        while True:
            start_line = physical[0] + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start_line, ShapeError(f"unreadable CSV row: {exc}")
                continue
            if not fields or fields == [""]:
                continue
            yield start_line, fields


def _check_fields(fields: list[str]) -> None:
    for i, value in enumerate(fields):
        if len(value) > MAX_FIELD:
            raise RowError(f"column {i + 1} is {len(value)} characters long (at most {MAX_FIELD})")
        # Undecodable bytes arrive as lone surrogates (surrogateescape), never in ASCII text: the
        # isascii() fast path skips the per-character scan for almost every field.
        if not value.isascii() and _UNDECODABLE.search(value):
            raise ShapeError("bad encoding: not UTF-8")
        if "\x00" in value:
            raise ShapeError("bad encoding: NUL byte")


def _raw(fields) -> str:
    text = ",".join(fields) if isinstance(fields, list) else str(fields)
    return text.encode("utf-8", errors="replace").decode("utf-8", errors="replace")[:RAW_KEEP]


def _readable(path: Path) -> None:
    if not path.exists():
        raise ImportFileError(f"{path}: no such file")
    if not path.is_file():
        raise ImportFileError(f"{path}: not a regular file")
    with path.open("rb") as handle:
        head = handle.read(8192)
    if not head.strip():
        raise ImportFileError(f"{path}: the file is empty")
    if b"\x00" in head:
        raise ImportFileError(f"{path}: not a text file (it contains NUL bytes)")


def usage_import(*, path: Path, format: str, timezone_name: str | None = None) -> ImportResult:
    """Import one usage file. Raises ImportFileError (and changes nothing) when it cannot be read."""
    path = Path(path)
    if format not in FORMATS:
        raise ImportFileError(f"unknown format '{format}': use one of {', '.join(FORMATS)}")
    forced_tz = None
    if timezone_name:
        try:
            forced_tz = zoneinfo.ZoneInfo(timezone_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ImportFileError(
                f"unknown time zone '{timezone_name}' (use an IANA name such as Europe/Berlin)"
            ) from None
    _readable(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    directory = _Directory()
    now = timezone.now()
    result = ImportResult(batch_id=None, path=str(path), format=format)
    records: list[NewUsageRecord] = []
    parser = {"asterisk": parse_asterisk, "freeswitch": parse_freeswitch}.get(format)
    misshapen = 0

    for line_number, fields in _rows(path):
        if parser is None:  # native: the first row is the header
            if isinstance(fields, RowError):
                raise ImportFileError(f"{path}: line {line_number}: the header row cannot be read")
            try:
                parser = native_parser(fields)
            except FormatError as exc:
                raise ImportFileError(f"{path}: line {line_number}: {exc}") from None
            continue
        result.rows += 1
        try:
            if isinstance(fields, RowError):
                raise fields
            _check_fields(fields)
            records.append(_record(parser(fields), directory, forced_tz, now, format))
        except RowError as exc:
            misshapen += isinstance(exc, ShapeError)
            result.rejections.append(Rejection(line_number, str(exc), _raw(fields)))
    if parser is None:
        raise ImportFileError(f"{path}: no header row")
    if result.rows and misshapen == result.rows:
        first = result.rejections[0]
        raise ImportFileError(
            f"{path}: no row could be read as {format} CSV (line {first.line_number}: {first.reason})"
        )

    with transaction.atomic():
        batch = ImportBatch.objects.create(filename=str(path)[:500], format=format, sha256=digest)
        for record in records:
            record.import_batch_id = batch.id
        written = usage_records_write(records=records)
        ImportRejection.objects.bulk_create(
            ImportRejection(batch=batch, line_number=r.line_number, reason=r.reason[:300], raw=r.raw)
            for r in result.rejections
        )
        result.loaded, result.duplicates, result.rejected = written.inserted, written.duplicates, len(result.rejections)
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportBatch.Status.DONE,
            rows=result.rows,
            loaded=result.loaded,
            duplicates=result.duplicates,
            rejected=result.rejected,
            finished_at=timezone.now(),
        )
        result.batch_id = batch.id
    return result


def _record(row: ParsedRow, directory: _Directory, forced_tz, now: datetime, source: str) -> NewUsageRecord:
    if row.direction is None:  # PBX formats: whichever party is our line
        line = directory.match(row.calling)
        direction, other = "outbound", row.called
        if line is None:
            line = directory.match(row.called)
            direction, other = "inbound", row.calling
        if line is None:
            raise RowError(
                f"unknown line: neither src '{row.calling[:32]}' nor dst '{row.called[:32]}' is a line of any organization"
            )
    else:
        line = directory.match(row.calling)
        direction, other = row.direction, row.called
        if line is None:
            raise RowError(f"unknown line '{row.calling[:32]}'")
    org = directory.orgs[line.organization_id]
    org_tz = directory.tz[org.id]
    if row.start.tzinfo is None:
        started = row.start.replace(tzinfo=forced_tz or org_tz).astimezone(UTC)
    else:
        started = row.start.astimezone(UTC)
    if started > now + FUTURE_TOLERANCE:
        raise RowError(f"start {started:%Y-%m-%d %H:%M} UTC is in the future")
    if started < EARLIEST:
        raise RowError(f"start {started:%Y-%m-%d} is before 2000")
    local = started.astimezone(org_tz)
    local_date = local.date()
    if local_date < line.activated_on or (line.deactivated_on and local_date >= line.deactivated_on):
        raise RowError(f"line {line.number} was not active on {local_date}")
    person_id, location_id = directory.stamp(line.id, started)
    dest = classify(other, line.number, org.country) if other.strip() else None
    seconds = row.duration if row.usage_type == "voice" else 0
    return NewUsageRecord(
        organization_id=org.id,
        line_id=line.id,
        person_id=person_id,
        location_id=location_id,
        usage_type=row.usage_type,
        started_at=started,
        local_date=local_date,
        local_hour=local.hour,
        duration_seconds=seconds,
        billable_seconds=row.billsec,
        duration_band=duration_band(seconds),
        direction=direction,
        answered=row.answered,
        destination=dest.number if dest else "",
        destination_masked=dest.masked if dest else "",
        category=dest.category if dest else "other",
        country=dest.country if dest else "",
        zone=dest.zone if dest else "",
        data_bytes=row.data_bytes,
        source=source,
        source_id=row.source_id[:128],
        import_batch_id=None,
    )
