"""The row-by-row way: one row read, checked, matched and classified in Python, saying exactly why not.

This is the reference the set-based path (``setbased``) is tested against, and where it sends every
row that SQL cannot decide exactly as this would: legs of one call (they are merged), bad bytes,
NUL bytes, long fields, unusual number or date forms, hours in which the clock changes, native files.
Rows that fail raise ``RowError`` with the reason the import stores with the row's file line.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from billing.ingest import encoding, legs
from billing.ingest.formats import MAX_FIELD, Layout, ParsedRow, RowError, ShapeError, parse_layout
from billing.ingest.reading import Reading
from billing.ingest.result import ImportResult, Rejection
from billing.models import UsageRecord
from billing.models.choices import Category, duration_band
from billing.numbers import Destination, classify, mask
from billing.usage.writer import NewUsageRecord

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(minutes=5)
RAW_KEEP = 1000
_UNDECODABLE = encoding.UNDECODABLE
DESTINATION_MAX = UsageRecord._meta.get_field("destination").max_length
MASKED_MAX = UsageRecord._meta.get_field("destination_masked").max_length


def column_name(layout: Layout | None, i: int) -> str:
    if layout is not None:
        for name, index in layout.columns.items():
            if index == i:
                return f"column {i + 1} ({name})"
    return f"column {i + 1}"


def clean(fields: list[str], layout: Layout | None, line_number: int, result: ImportResult) -> list[str]:
    """Check every field; repair stray bytes in text-only fields (a warning), reject the row for any
    other bad field, naming it."""
    repaired = None
    for i, value in enumerate(fields):
        if len(value) > MAX_FIELD:
            raise RowError(f"column {i + 1} is {len(value)} characters long (at most {MAX_FIELD})")
        if "\x00" in value:
            raise ShapeError(f"{column_name(layout, i)}: NUL byte (bad encoding)")
        # Undecodable bytes arrive as lone surrogates (surrogateescape), never in ASCII text.
        if not value.isascii() and _UNDECODABLE.search(value):
            if layout is None or i not in layout.text_columns:
                raise RowError(f"{column_name(layout, i)}: bytes that are not UTF-8 in a field billing uses")
            fixed, count = encoding.repair(value)
            if repaired is None:
                repaired = list(fields)
            repaired[i] = fixed
            result.warn(
                f"line {line_number}: {column_name(layout, i)}: {count} byte(s) not UTF-8, read as Windows-1252"
            )
    return fields if repaired is None else repaired


def raw(fields) -> str:
    text = ",".join(fields) if isinstance(fields, list) else str(fields)
    # PostgreSQL text cannot hold NUL: kept as U+FFFD like undecodable bytes, so the rejection can be stored.
    text = text.replace("\x00", "\ufffd")
    return text.encode("utf-8", errors="replace").decode("utf-8", errors="replace")[:RAW_KEEP]


def parse_row(reading: Reading, fields: list[str], line_number: int, result: ImportResult) -> ParsedRow:
    if reading.format == "native":
        return reading.native(clean(fields, None, line_number, result))
    layout = reading.layout_of(fields)
    if layout is None:
        raise reading.shape_error(fields)
    return parse_layout(layout, clean(fields, layout, line_number, result), reading.time_format)


def too_long(dest) -> bool:
    """A dialled 'number' longer than the record's columns hold (E.164 numbers have at most 15 digits)."""
    return len(dest.number) > DESTINATION_MAX or len(dest.masked) > MASKED_MAX


def too_long_reason(other: str) -> str:
    return f"other party '{other.strip()[:32]}…' is too long to be a phone number"


def _started(row: ParsedRow, tz) -> datetime:
    if row.start.tzinfo is None:
        return row.start.replace(tzinfo=tz).astimezone(UTC)
    return row.start.astimezone(UTC)


def record(row: ParsedRow, reading: Reading, now: datetime) -> NewUsageRecord:
    directory = reading.directory
    # With a source the clock is known before the line is: identifiers are matched at the time of use.
    when = _started(row, reading.clock_tz) if reading.clock_tz is not None else None
    other_line = None
    if row.direction is None:  # PBX formats: whichever party is our line
        line = directory.match(row.calling, row.channel, row.accountcode, when)
        direction, other = "outbound", row.called
        if line is not None:
            other_line = (
                directory.match(row.called, row.dstchannel, "", when) if row.called.strip() or row.dstchannel else None
            )
        else:
            line = directory.match(row.called, row.dstchannel, "", when)
            direction, other = "inbound", row.calling
        if line is None:
            raise RowError(
                f"unknown line: neither src '{row.calling[:32]}' nor dst '{row.called[:32]}' is a line {reading.scope}"
            )
    else:
        line = directory.match(row.calling, "", "", when)
        direction, other = row.direction, row.called
        if line is None:
            raise RowError(f"unknown line '{row.calling[:32]}'")
    org = directory.orgs[line.organization_id]
    org_tz = directory.tz[org.id]
    started = when or _started(row, org_tz)
    if started > now + FUTURE_TOLERANCE:
        raise RowError(f"start {started:%Y-%m-%d %H:%M} UTC is in the future")
    if started < EARLIEST:
        raise RowError(f"start {started:%Y-%m-%d} is before 2000")
    local = started.astimezone(org_tz)
    local_date = local.date()
    if local_date < line.activated_on or (line.deactivated_on and local_date >= line.deactivated_on):
        raise RowError(f"line {line.number} was not active on {local_date}")
    person_id, location_id = directory.stamp(line.id, started)
    if other_line is not None and other_line.organization_id == org.id:
        # Between two of the organization's own lines: internal (not billed unless the plan prices it).
        dest = Destination(other_line.number, Category.INTERNAL, org.country, "", mask(other_line.number))
    else:
        dest = classify(other, line.number, org.country, dialplan=directory.dialplan) if other.strip() else None
    if dest is not None and too_long(dest):
        raise RowError(too_long_reason(other))
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
        source=reading.format,
        source_id=row.source_id[:128],
        import_batch_id=None,
    )


class Careful:
    """Rows (single or legs of one call) to records, collecting rejections and counts on ``result``."""

    def __init__(self, reading: Reading, now: datetime, batch_id: int, result: ImportResult):
        self.reading, self.now, self.batch_id, self.result = reading, now, batch_id, result

    def one(self, line_number: int, fields) -> NewUsageRecord | None:
        """A single row (a list of fields, or the RowError of an unreadable one)."""
        try:
            if isinstance(fields, RowError):
                raise fields
            rec = record(parse_row(self.reading, fields, line_number, self.result), self.reading, self.now)
        except RowError as exc:
            self.result.rejections.append(Rejection(line_number, str(exc), raw(fields), isinstance(exc, ShapeError)))
            return None
        rec.import_batch_id = self.batch_id
        return rec

    def group(self, group: legs.Group) -> NewUsageRecord | None:
        """Legs of one call: each read on its own (and rejected on its own line), then merged."""
        parsed = []
        for leg_line, leg_fields in group.legs:
            try:
                parsed.append(parse_row(self.reading, leg_fields, leg_line, self.result))
            except RowError as exc:
                self.result.rejections.append(Rejection(leg_line, str(exc), raw(leg_fields)))
        if not parsed:
            return None
        self.result.joined_legs += len(parsed) - 1  # rows = loaded + duplicates + rejected + joined legs
        first_line, first_fields = group.legs[0]
        try:
            rec = record(legs.merge(parsed), self.reading, self.now)
        except RowError as exc:
            self.result.rejections.append(Rejection(first_line, str(exc), raw(first_fields)))
            return None
        rec.import_batch_id = self.batch_id
        return rec
