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
import io
import itertools
import re
import zoneinfo
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from billing.ingest.formats import (
    ASTERISK_COLUMNS,
    FREESWITCH_COLUMNS,
    MAX_DURATION,
    MAX_FIELD,
    FormatError,
    ParsedRow,
    RowError,
    ShapeError,
    native_parser,
    parse_asterisk,
    parse_freeswitch,
    stable_id,
)
from billing.models import ImportBatch, ImportRejection, Line, LineAssignment, Organization, UsageRecord
from billing.models.choices import DURATION_BAND_BOUNDS, duration_band
from billing.numbers import classify, normalize
from billing.usage.writer import NewUsageRecord, record_line_renderer, usage_lines_write

FORMATS = ("native", "asterisk", "freeswitch")
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(minutes=5)
RAW_KEEP = 1000

_fromisoformat = datetime.fromisoformat
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

    A badly encoded row is rejected on its own, not the whole file.
    """
    # Text mode ending lines at LF only, as in the file's bytes; undecodable bytes become lone
    # surrogates (surrogateescape), which _check_fields reports per row. LF never occurs inside a
    # UTF-8 sequence, so this decodes exactly as decoding each line on its own would.
    with path.open("r", encoding="utf-8", errors="surrogateescape", newline="\n") as handle:
        first = handle.readline()
        if not first:
            return
        lines = itertools.chain((first.lstrip("\ufeff"),), handle)
        reader = csv.reader(lines)
        while True:
            start_line = reader.line_num + 1  # the reader counts the physical lines it has read
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
    # PostgreSQL text cannot hold NUL: a NUL byte past the first 8 KiB (which _readable checks)
    # is kept as U+FFFD like undecodable bytes, so the rejection can be stored.
    text = text.replace("\x00", "\ufffd")
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
    digest = _sha256(path)
    directory = _Directory()
    now = timezone.now()
    result = ImportResult(batch_id=None, path=str(path), format=format)
    parser = {"asterisk": parse_asterisk, "freeswitch": parse_freeswitch}.get(format)

    with transaction.atomic():
        # The batch comes first so its id can go straight into the COPY lines; a file refused as a
        # whole raises inside this transaction, so the batch and everything else is rolled back.
        batch = ImportBatch.objects.create(filename=str(path)[:500], format=format, sha256=digest)
        fast = _FastPbx(format, directory, forced_tz, now, batch.id) if format in _PBX_LAYOUT else None
        lines = _lines(path, parser, fast, directory, forced_tz, now, format, batch.id, result)
        written = usage_lines_write(lines=lines)
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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _lines(path, parser, fast, directory, forced_tz, now, format, batch_id, result) -> Iterator[str]:
    """The COPY line of every good row; rejections go to ``result``. Raises ImportFileError at the end
    when the file as a whole cannot be read (nothing is inserted then: the caller rolls back)."""
    misshapen = 0
    rejections = result.rejections
    render = record_line_renderer()
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
        if fast is not None and type(fields) is list:
            line = fast.line(fields)
            if line is not None:
                yield line
                continue
        # Anything the fast path does not take (or rejects) goes the one careful way, which says why.
        try:
            if isinstance(fields, RowError):
                raise fields
            _check_fields(fields)
            record = _record(parser(fields), directory, forced_tz, now, format)
        except RowError as exc:
            misshapen += isinstance(exc, ShapeError)
            rejections.append(Rejection(line_number, str(exc), _raw(fields)))
            continue
        record.import_batch_id = batch_id
        yield render(record)
    if parser is None:
        raise ImportFileError(f"{path}: no header row")
    if result.rows and misshapen == result.rows:
        first = rejections[0]
        raise ImportFileError(
            f"{path}: no row could be read as {format} CSV (line {first.line_number}: {first.reason})"
        )


# Where the fields of the PBX formats are: accepted column counts, src, dst, start, duration, billsec,
# the answered test's column, and the unique id column.
_PBX_LAYOUT = {
    "asterisk": (frozenset(ASTERISK_COLUMNS), 1, 2, 9, 12, 13, 14, 16),
    "freeswitch": (frozenset((FREESWITCH_COLUMNS,)), 1, 2, 4, 7, 8, 5, 10),
}
_MISSING = object()


def _csv_fields(values) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()[:-2]


class _FastPbx:
    """The common case of an Asterisk or FreeSWITCH row, straight to its COPY line.

    CDR files repeat the same numbers, lines, hours and dispositions over and over, so everything
    that depends only on those is computed once per distinct value: the line a number belongs to, the
    other party's classification, a wall-clock hour's UTC offset and local day and hour. ``line()``
    returns None for any row that is not plainly good (bad field, unknown line, time zone change in
    that hour, ...); the importer then runs it through ``_record``, which rejects it with its reason
    or loads it, so both paths give exactly the same records and rejections.
    """

    def __init__(self, format: str, directory: _Directory, forced_tz, now: datetime, batch_id: int):
        self.layout = _PBX_LAYOUT[format]
        self.asterisk = format == "asterisk"
        self.directory = directory
        self.forced_tz = forced_tz
        self.tail = f",0,{format},"
        self.batch = f",{batch_id}\r\n"
        self.latest = (now + FUTURE_TOLERANCE).replace(tzinfo=None)
        self.earliest = EARLIEST.replace(tzinfo=None)
        self.matches: dict[str, tuple | None] = {}
        self.lines: dict[int, _FastLine] = {}
        self.hours: dict[int, dict[tuple, tuple | None]] = {}  # per organization
        self.destinations: dict[tuple[str, int], str] = {}
        self.line = self._line_function()

    def _hour(self, org_id: int, key: tuple) -> tuple | None:
        """(UTC offset, local date, ",local date,local hour,") of a wall-clock hour read in the line's organization's
        zone (or --timezone), or None when some time of that hour does not map that simply (a zone
        change in the hour, an offset that is not whole hours apart from the organization's, ...)."""
        reading = self.forced_tz or self.directory.tz[org_id]
        org_tz = self.directory.tz[org_id]
        try:
            start = datetime(*key)
            end = start + timedelta(hours=1, microseconds=-1)
            offsets = {reading.utcoffset(t.replace(fold=f)) for t in (start, end) for f in (0, 1)}
            if len(offsets) != 1:
                return None
            offset = offsets.pop()
            utc_start = (start - offset).replace(tzinfo=UTC)
            org_offset = utc_start.astimezone(org_tz).utcoffset()
            if (utc_start + timedelta(hours=1, microseconds=-1)).astimezone(org_tz).utcoffset() != org_offset:
                return None
            if (org_offset - offset) % timedelta(hours=1):
                return None
            local = start + (org_offset - offset)
        except (OverflowError, ValueError):
            return None
        return offset, local.date(), f",{local.date().isoformat()},{local.hour},"

    def _destination(self, other: str, line: _LineInfo) -> str | None:
        org = self.directory.orgs[line.organization_id]
        dest = classify(other, line.number, org.country) if other.strip() else None
        if dest is None:
            return _csv_fields(["", "", "other", "", ""])
        if _too_long(dest):
            return None  # the careful path rejects the row
        return _csv_fields([dest.number, dest.masked, dest.category, dest.country, dest.zone])

    def _party(self, party: str):
        """(line info, its _FastLine, its organization's hour cache) of a party, or None."""
        info = self.directory.match(party)
        if info is None:
            return None
        line = self.lines.get(info.id)
        if line is None:
            line = self.lines[info.id] = _FastLine(info, self.directory)
        return info, line, self.hours.setdefault(info.organization_id, {})

    def _line_function(self):
        """``line(fields)``: a closure over locals, as this runs once per row of files of millions."""
        counts, src, dst, start_col, duration_col, billsec_col, answer_col, id_col = self.layout
        asterisk, tail, batch = self.asterisk, self.tail, self.batch
        latest, earliest = self.latest, self.earliest
        matches, destinations, hour_of, party_of, destination_of = (
            self.matches,
            self.destinations,
            self._hour,
            self._party,
            self._destination,
        )
        fromisoformat, bisect_right, bounds, undecodable = (
            _fromisoformat,
            bisect.bisect_right,
            DURATION_BAND_BOUNDS,
            _UNDECODABLE.search,
        )

        def line(fields: list[str]) -> str | None:
            if len(fields) not in counts:
                return None
            joined = "".join(fields)
            if "\x00" in joined or (not joined.isascii() and undecodable(joined)):
                return None
            if len(joined) > MAX_FIELD and max(map(len, fields)) > MAX_FIELD:
                return None
            try:
                duration = int(fields[duration_col])
                billsec = int(fields[billsec_col])
                naive = fromisoformat(fields[start_col].strip())
            except ValueError:
                return None
            if duration < 0 or billsec < 0 or billsec > duration or duration > MAX_DURATION or naive.tzinfo is not None:
                return None
            if asterisk:
                answered = fields[answer_col].strip().upper() == "ANSWERED"
                source_id = fields[id_col].strip() if len(fields) > id_col else ""
            else:
                answered = bool(fields[answer_col].strip()) and billsec > 0
                source_id = fields[id_col].strip()
            source_id = (source_id or stable_id(fields))[:128].replace('"', '""')  # always quoted below

            calling = fields[src]
            party = matches.get(calling, _MISSING)
            if party is _MISSING:
                party = matches[calling] = party_of(calling)
            if party is not None:
                direction, other = "outbound", fields[dst]
            else:
                called = fields[dst]
                party = matches.get(called, _MISSING)
                if party is _MISSING:
                    party = matches[called] = party_of(called)
                if party is None:
                    return None
                direction, other = "inbound", calling
            info, fast_line, hours = party

            key = (naive.year, naive.month, naive.day, naive.hour)
            hour = hours.get(key, _MISSING)
            if hour is _MISSING:
                hour = hours[key] = hour_of(info.organization_id, key)
            if hour is None:
                return None
            offset, local_date, local_text = hour
            started = naive - offset  # UTC, naive
            if started > latest or started < earliest:
                return None
            if local_date < info.activated_on or (info.deactivated_on and local_date >= info.deactivated_on):
                return None

            dest_key = (other, info.id)
            dest = destinations.get(dest_key)
            if dest is None:
                dest = destination_of(other, info)
                if dest is None:
                    return None
                destinations[dest_key] = dest
            billable = billsec if answered else 0
            return (
                f"{fast_line.head(started)}{started.isoformat()}+00:00{local_text}{duration},{billable},"
                f"{bisect_right(bounds, duration)},{direction},{'t' if answered else 'f'},{dest}{tail}"
                + '"'
                + source_id
                + '"'
                + batch
            )

        return line


class _FastLine:
    """One line's record prefix (organization, line, person, location, usage type) per assignment."""

    def __init__(self, info: _LineInfo, directory: _Directory):
        assignments = directory.assignments.get(info.id, [])
        self.starts = [start.astimezone(UTC).replace(tzinfo=None) for start, _end, _p, _l in assignments]
        self.ends = [end.astimezone(UTC).replace(tzinfo=None) if end else None for _s, end, _p, _l in assignments]
        prefix = f"{info.organization_id},{info.id},"
        # index -1 (before the first assignment, or after one that ended): no person, no location
        self.heads = [
            f"{prefix}{'' if person is None else person},{'' if location is None else location},voice,"
            for _s, _e, person, location in assignments
        ] + [f"{prefix},,voice,"]

    def head(self, started: datetime) -> str:
        i = bisect.bisect_right(self.starts, started) - 1
        if i >= 0:
            end = self.ends[i]
            if end is not None and started >= end:
                i = -1
        return self.heads[i]


_DESTINATION_MAX = UsageRecord._meta.get_field("destination").max_length
_MASKED_MAX = UsageRecord._meta.get_field("destination_masked").max_length


def _too_long(dest) -> bool:
    """A dialled 'number' longer than the record's columns hold (E.164 numbers have at most 15 digits)."""
    return len(dest.number) > _DESTINATION_MAX or len(dest.masked) > _MASKED_MAX


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
    if dest is not None and _too_long(dest):
        raise RowError(f"other party '{other.strip()[:32]}…' is too long to be a phone number")
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
