# Over 400 lines: the fast path and the careful row-by-row path are kept side by side so they stay identical (a test compares them); next step: move the line directory (matching) into its own module.
"""``usage_import``: load a usage file, one transaction, idempotent, honest about every rejected row.

A file is read for a usage source (``billing.models.UsageSource``: its organization, format, clock,
dial plan and how rows name lines) or, without one, by ``format`` over all organizations' lines by
number (the older command line). Each row is decoded (``encoding``), read by its layout (``formats``),
legs of one call are joined (``legs``), the row is matched to one of the organization's lines, read in
the source's clock, checked, stamped with the line's person and location at the time of use,
classified, and written with COPY (``billing.usage.writer``), which skips records already loaded and
rebuilds the touched rollups. Rows that fail are stored as ``ImportRejection`` with their file line
number, the field and the reason. A file that cannot be read at all raises ``ImportFileError`` and
changes nothing; a file of which no row loads is kept as a failed batch with its rejections
(``ImportResult.failed``), so the command exits non-zero and the drop folder moves it to ``failed/``.
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

from billing.ingest import clock, encoding, legs
from billing.ingest.formats import (
    ASTERISK_COLUMNS,
    MAX_DURATION,
    MAX_FIELD,
    FormatError,
    Layout,
    ParsedRow,
    RowError,
    ShapeError,
    asterisk_layout,
    custom_layout,
    freeswitch_layout,
    header_layout,
    looks_like_header,
    mismatch_hint,
    native_parser,
    parse_layout,
    stable_id,
)
from billing.models import (
    ImportBatch,
    ImportRejection,
    Line,
    LineAssignment,
    LineIdentifier,
    Organization,
    UsageRecord,
    UsageSource,
)
from billing.models.choices import DURATION_BAND_BOUNDS, Category, duration_band
from billing.numbers import Destination, classify, mask, normalize
from billing.usage.writer import NewUsageRecord, record_line_renderer, usage_lines_write

FORMATS = ("native", "asterisk", "freeswitch")
SOURCE_FORMATS = ("native", "asterisk", "freeswitch", "custom", "header")
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(minutes=5)
RAW_KEEP = 1000
MAX_WARNINGS = 200  # stored one by one on the batch; beyond that they are counted
FAST_PATH = True  # tests switch it off to compare the two paths
SNIFF_ROWS = 500

_fromisoformat = datetime.fromisoformat
_UNDECODABLE = encoding.UNDECODABLE
_CHANNEL_USER = re.compile(r"^[A-Za-z0-9_]+/([^/@;\-]+)")

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
    source: str = ""
    rows: int = 0
    loaded: int = 0
    duplicates: int = 0
    rejected: int = 0
    joined_legs: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    warning_count: int = 0
    failed: bool = False  # no row loaded (or was already loaded): the batch is kept as failed, with its report

    def warn(self, text: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(text)


@dataclass(frozen=True, slots=True)
class _LineInfo:
    id: int
    number: str
    organization_id: int
    activated_on: date
    deactivated_on: date | None


def channel_user(channel: str) -> str:
    """``SIP/1001-0000a1b2`` -> ``1001``; ``PJSIP/201-00000003`` -> ``201``; ``sofia/internal/1001@host`` -> ``1001``."""
    channel = channel.strip()
    if channel.lower().startswith("sofia/"):
        parts = channel.split("/")
        return parts[2].split("@")[0] if len(parts) > 2 else ""
    match = _CHANNEL_USER.match(channel)
    return match.group(1) if match else ""


class _Directory:
    """The lines (of one organization, with a source; else of all), their identifiers and assignments,
    loaded once per import."""

    def __init__(self, organization: Organization | None = None, methods=("number",), dialplan=None):
        orgs = Organization.objects.all() if organization is None else Organization.objects.filter(pk=organization.pk)
        self.orgs = {o.id: o for o in orgs}
        self.tz = {oid: zoneinfo.ZoneInfo(o.time_zone) for oid, o in self.orgs.items()}
        self.regions = sorted({o.country for o in self.orgs.values()}) or ["US"]
        self.methods = tuple(methods)
        self.dialplan = dialplan
        lines = Line.objects.all() if organization is None else Line.objects.filter(organization=organization)
        self.by_id: dict[int, _LineInfo] = {}
        self.by_number: dict[str, _LineInfo] = {}
        for pk, number, org, on, off in lines.values_list(
            "id", "number", "organization_id", "activated_on", "deactivated_on"
        ):
            self.by_id[pk] = self.by_number[number] = _LineInfo(pk, number, org, on, off)
        # (kind, value) -> [(valid_from, valid_to, line)], only with a source
        self.identifiers: dict[tuple[str, str], list] = defaultdict(list)
        if organization is not None:
            for line_id, kind, value, start, end in (
                LineIdentifier.objects.filter(organization=organization)
                .order_by("valid_from")
                .values_list("line_id", "kind", "value", "valid_from", "valid_to")
            ):
                if line_id in self.by_id:
                    self.identifiers[kind, value.strip()].append((start, end, self.by_id[line_id]))
        self.assignments: dict[int, list] = defaultdict(list)
        for line_id, start, end, person, location in (
            LineAssignment.objects.filter(line_id__in=self.by_id)
            .order_by("line_id", "valid_from")
            .values_list("line_id", "valid_from", "valid_to", "person_id", "location_id")
        ):
            self.assignments[line_id].append((start, end, person, location))
        self.starts = {line_id: [a[0] for a in rows] for line_id, rows in self.assignments.items()}
        self._number_cache: dict[str, _LineInfo | None] = {}

    def by_number_text(self, party: str) -> _LineInfo | None:
        """A line by its number written any way (E.164, national, with spaces), in each customer country."""
        party = (party or "").strip()
        if party in self._number_cache:
            return self._number_cache[party]
        found = None
        if party:
            for region in self.regions:
                e164 = normalize(party, region, dialplan=self.dialplan)
                if e164 and e164 in self.by_number:
                    found = self.by_number[e164]
                    break
        self._number_cache[party] = found
        return found

    def identifier(self, kind: str, value: str, when: datetime | None) -> _LineInfo | None:
        for start, end, line in self.identifiers.get((kind, value), ()):
            if when is None or (start <= when and (end is None or when < end)):
                return line
        return None

    def match(self, party: str, channel: str, accountcode: str, when: datetime | None) -> _LineInfo | None:
        """The line a party of a row names, by the source's methods in their order (None: not ours)."""
        party = (party or "").strip()
        for method in self.methods:
            found = None
            if method == "number" and party:
                found = self.by_number_text(party)
                if found is None and self.identifiers:
                    for region in self.regions:
                        e164 = normalize(party, region, dialplan=self.dialplan)
                        if e164:
                            found = self.identifier("did", e164, when)
                            break
            elif method == "extension" and party:
                found = self.identifier("extension", party, when)
            elif method == "channel" and channel:
                user = channel_user(channel)
                if user:
                    found = self.identifier("sip_user", user, when) or self.identifier("extension", user, when)
            elif method == "account_code" and accountcode:
                found = self.identifier("account_code", accountcode, when)
            if found is not None:
                return found
        return None

    def fast_match(self, party: str) -> tuple[_LineInfo, datetime | None] | None:
        """For the fast path: the line of a party when it does not depend on time (a number), or the
        line of an extension with one open-ended identifier (and its start); else None."""
        party = (party or "").strip()
        for method in self.methods:
            if method == "number" and party:
                found = self.by_number_text(party)
                if found is not None:
                    return found, None
                if self.identifiers:
                    for region in self.regions:
                        e164 = normalize(party, region, dialplan=self.dialplan)
                        if e164 and ("did", e164) in self.identifiers:
                            return _UNSURE
            elif method == "extension" and party:
                entries = self.identifiers.get(("extension", party))
                if entries:
                    if len(entries) == 1 and entries[0][1] is None:
                        return entries[0][2], entries[0][0].astimezone(UTC).replace(tzinfo=None)
                    return _UNSURE
        return None

    def known_channel(self, channel: str) -> bool:
        """Whether a channel's user is a SIP user or extension of some line (at any time)."""
        user = channel_user(channel)
        return bool(user) and (("sip_user", user) in self.identifiers or ("extension", user) in self.identifiers)

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


_UNSURE = object()  # fast_match: the answer depends on the time: the careful path decides


@dataclass
class _Reading:
    """How to read this file: the source's settings, or those of the older ``format`` path."""

    format: str
    source: UsageSource | None
    directory: _Directory
    clock_tz: zoneinfo.ZoneInfo | None  # None: the matched line's organization's zone (no source)
    time_format: str = "text"
    layout: Layout | None = None  # fixed (custom, header); None: by row (asterisk, freeswitch)
    native: object = None
    b_legs: frozenset = frozenset()
    legs: bool = False  # rows may be legs of one call (Asterisk newcdrcolumns, a mapped sequence column)

    def layout_of(self, fields: list[str]) -> Layout | None:
        if self.layout is not None:
            return self.layout
        if self.format == "asterisk":
            return asterisk_layout(fields)
        if self.format == "freeswitch":
            return freeswitch_layout(fields)
        return None

    def shape_error(self, fields: list[str]) -> ShapeError:
        if self.format == "asterisk":
            return ShapeError(f"expected 16 to 21 columns (Asterisk cdr_csv), found {len(fields)}")
        if self.format == "freeswitch":
            return ShapeError(f"expected 15, 17, 18 or 20 columns (FreeSWITCH templates), found {len(fields)}")
        return ShapeError(f"expected {self.layout.width} columns, found {len(fields)}")


def _rows(path: Path, text_encoding: encoding.TextEncoding):
    """Yield (line_number, fields) for each CSV row, or (line_number, RowError) for unreadable ones."""
    # Text mode ending lines at LF only, as in the file's bytes; in UTF-8, undecodable bytes become
    # lone surrogates (surrogateescape), which _clean repairs or rejects per field. LF never occurs
    # inside a UTF-8 sequence, so this decodes exactly as decoding each line on its own would.
    with path.open("r", encoding=text_encoding.codec, errors=text_encoding.errors, newline="\n") as handle:
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


def _column_name(layout: Layout | None, i: int) -> str:
    if layout is not None:
        for name, index in layout.columns.items():
            if index == i:
                return f"column {i + 1} ({name})"
    return f"column {i + 1}"


def _clean(fields: list[str], layout: Layout | None, line_number: int, result: ImportResult) -> list[str]:
    """Check every field; repair stray bytes in text-only fields (a warning), reject the row for any
    other bad field, naming it."""
    repaired = None
    for i, value in enumerate(fields):
        if len(value) > MAX_FIELD:
            raise RowError(f"column {i + 1} is {len(value)} characters long (at most {MAX_FIELD})")
        if "\x00" in value:
            raise ShapeError(f"{_column_name(layout, i)}: NUL byte (bad encoding)")
        # Undecodable bytes arrive as lone surrogates (surrogateescape), never in ASCII text: the
        # isascii() fast path skips the per-character scan for almost every field.
        if not value.isascii() and _UNDECODABLE.search(value):
            if layout is None or i not in layout.text_columns:
                raise RowError(f"{_column_name(layout, i)}: bytes that are not UTF-8 in a field billing uses")
            fixed, count = encoding.repair(value)
            if repaired is None:
                repaired = list(fields)
            repaired[i] = fixed
            result.warn(
                f"line {line_number}: {_column_name(layout, i)}: {count} byte(s) not UTF-8, read as Windows-1252"
            )
    return fields if repaired is None else repaired


def _raw(fields) -> str:
    text = ",".join(fields) if isinstance(fields, list) else str(fields)
    # PostgreSQL text cannot hold NUL: kept as U+FFFD like undecodable bytes, so the rejection can be stored.
    text = text.replace("\x00", "\ufffd")
    return text.encode("utf-8", errors="replace").decode("utf-8", errors="replace")[:RAW_KEEP]


def _readable(path: Path) -> encoding.TextEncoding:
    if not path.exists():
        raise ImportFileError(f"{path}: no such file")
    if not path.is_file():
        raise ImportFileError(f"{path}: not a regular file")
    with path.open("rb") as handle:
        head = handle.read(8192)
    if not head.strip():
        raise ImportFileError(f"{path}: the file is empty")
    try:
        return encoding.detect(path)
    except encoding.EncodingError as exc:
        raise ImportFileError(f"{path}: {exc}") from None


def _reading_for(*, format, source, timezone_name) -> tuple[str, _Reading]:
    if source is not None:
        if isinstance(source, str):
            try:
                source = UsageSource.objects.select_related("organization").get(slug=source)
            except UsageSource.DoesNotExist:
                known = ", ".join(UsageSource.objects.values_list("slug", flat=True)) or "none declared"
                raise ImportFileError(f"unknown usage source '{source}' (known: {known})") from None
        format = source.format
        zone = timezone_name or source.clock
        directory = _Directory(source.organization, source.match_methods(), source.dial_plan())
    else:
        if format not in FORMATS:
            raise ImportFileError(f"unknown format '{format}': use one of {', '.join(FORMATS)}")
        zone = timezone_name
        directory = _Directory()
    clock_tz = None
    if zone:
        try:
            clock_tz = zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ImportFileError(f"unknown time zone '{zone}' (use an IANA name such as Europe/Berlin)") from None
    reading = _Reading(format, source, directory, clock_tz, source.time_format if source else "text")
    if source is not None and format == "custom":
        try:
            reading.layout = custom_layout(source.columns)
        except FormatError as exc:
            raise ImportFileError(f"usage source {source.slug}: {exc}") from None
    return format, reading


def usage_import(
    *,
    path: Path,
    format: str | None = None,
    timezone_name: str | None = None,
    source: UsageSource | str | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Import one file, for a usage source (its slug or itself) or, without one, in ``format`` over
    all organizations. Raises ImportFileError (and changes nothing) when the file cannot be read."""
    path = Path(path)
    format, reading = _reading_for(format=format, source=source, timezone_name=timezone_name)
    text_encoding = _readable(path)
    digest = _sha256(path)
    now = now or timezone.now()
    result = ImportResult(
        batch_id=None, path=str(path), format=format, source=reading.source.slug if reading.source else ""
    )
    if text_encoding.note:
        result.warn(f"encoding: {text_encoding.note}")
    _sniff(path, text_encoding, reading, result)

    with transaction.atomic():
        # The batch comes first so its id can go straight into the COPY lines; a file refused as a
        # whole raises inside this transaction, so the batch and everything else is rolled back.
        batch = ImportBatch.objects.create(
            filename=str(path)[:500], format=format, sha256=digest, source=reading.source
        )
        fast = None
        if (
            FAST_PATH
            and format in ("asterisk", "freeswitch")
            and reading.time_format == "text"
            and _fast_methods(reading.directory.methods)
        ):
            fast = _FastPbx(reading, now, batch.id)
        lines = _lines(path, text_encoding, reading, fast, now, batch.id, result)
        written = usage_lines_write(lines=lines)
        ImportRejection.objects.bulk_create(
            ImportRejection(batch=batch, line_number=r.line_number, reason=r.reason[:300], raw=r.raw)
            for r in result.rejections
        )
        result.loaded, result.duplicates, result.rejected = written.inserted, written.duplicates, len(result.rejections)
        if result.joined_legs:
            result.warn(f"legs: {result.joined_legs} row(s) were further legs of a call already read, joined to it")
        if result.warning_count > len(result.warnings):
            result.warnings.append(f"… and {result.warning_count - len(result.warnings)} more warnings")
        result.failed = result.loaded + result.duplicates == 0
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportBatch.Status.FAILED if result.failed else ImportBatch.Status.DONE,
            rows=result.rows,
            loaded=result.loaded,
            duplicates=result.duplicates,
            rejected=result.rejected,
            warnings=result.warnings,
            error="no row of the file could be loaded" if result.failed else "",
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


def _sniff(path: Path, text_encoding, reading: _Reading, result: ImportResult) -> None:
    """Before anything is written: the header row, the format and the clock, from the first rows;
    FreeSWITCH's b-legs from the whole file."""
    sample: list[tuple[int, list[str]]] = []
    for line_number, fields in _rows(path, text_encoding):
        if isinstance(fields, RowError):
            continue
        sample.append((line_number, fields))
        if len(sample) >= SNIFF_ROWS:
            break
    if not sample:
        return
    if reading.format == "header":
        try:
            reading.layout = header_layout(sample[0][1], reading.source.columns if reading.source else {})
        except FormatError as exc:
            raise ImportFileError(f"{path}: line {sample[0][0]}: {exc}") from None
        sample = sample[1:]
    elif reading.format in ("asterisk", "freeswitch"):
        if looks_like_header(sample[0][1]):
            sample = sample[1:]
        hint = mismatch_hint(reading.format, [f for _n, f in sample])
        if hint:
            raise ImportFileError(f"{path}: not {reading.format} cdr_csv: {hint}")
    # Legs need a sequence column (newcdrcolumns): a file written with one cdr.conf has it in every row
    # or in none, so the first rows tell (and files without it skip the grouping's per-row cost).
    reading.legs = any((layout := reading.layout_of(f)) is not None and layout.legs for _n, f in sample)
    if reading.format in ("asterisk", "custom", "header"):
        verdict = clock.check(sample, reading)
        if verdict is not None:
            if reading.source is not None and reading.source.clock_check == UsageSource.ClockCheck.REFUSE:
                raise ImportFileError(f"{path}: {verdict} (the source refuses files whose clock disagrees)")
            result.warn(verdict)
    if reading.format == "freeswitch" and any(len(f) in (15, 17, 20) and f[11].strip() for _n, f in sample):
        reading.b_legs = legs.freeswitch_b_legs(_rows(path, text_encoding))


def _fast_methods(methods) -> bool:
    """The fast path matches by number and extension (cached per party text), and defers to the
    careful path any row a channel might decide: so channel may come only after those two."""
    methods = list(methods)
    return set(methods) <= {"number", "extension", "channel"} and ("channel" not in methods or methods[-1] == "channel")


def _lines(path, text_encoding, reading: _Reading, fast, now, batch_id, result) -> Iterator[str]:
    """The COPY line of every good row; rejections go to ``result``. Raises ImportFileError at the end
    when the file as a whole cannot be read (nothing is inserted then: the caller rolls back)."""
    misshapen = 0
    rejections = result.rejections
    render = record_line_renderer()
    header_done = reading.format not in ("native", "header")
    b_legs = reading.b_legs
    rows = _rows(path, text_encoding)
    if reading.legs:
        rows = legs.group_asterisk(rows, reading)
    first_pbx_row = reading.format in ("asterisk", "freeswitch")  # it may be a header row
    group_type = legs.Group
    fast_line = fast.line if fast is not None else None
    count = 0
    for line_number, fields in rows:
        if not header_done:  # native and header exports: the first row is the header
            header_done = True
            if isinstance(fields, RowError):
                raise ImportFileError(f"{path}: line {line_number}: the header row cannot be read")
            if reading.format == "native":
                try:
                    reading.native = native_parser(fields)
                except FormatError as exc:
                    raise ImportFileError(f"{path}: line {line_number}: {exc}") from None
            continue
        kind = type(fields)
        if kind is list:
            if first_pbx_row:
                first_pbx_row = False
                if looks_like_header(fields):
                    result.warn(f"line {line_number}: a header row, skipped")
                    continue
            count += 1
            if b_legs and len(fields) > 10 and fields[10].strip() in b_legs:
                result.joined_legs += 1
                continue
            if fast_line is not None:
                line = fast_line(fields)
                if line is not None:
                    yield line
                    continue
        elif kind is group_type:
            first_pbx_row = False
            parsed = []
            for leg_line, leg_fields in fields.legs:
                try:
                    parsed.append(parse_row(reading, leg_fields, leg_line, result))
                except RowError as exc:
                    rejections.append(Rejection(leg_line, str(exc), _raw(leg_fields)))
            count += len(fields.legs)
            if not parsed:
                continue
            result.joined_legs += len(parsed) - 1  # rows = loaded + duplicates + rejected + joined legs
            try:
                record = _record(legs.merge(parsed), reading, now)
            except RowError as exc:
                rejections.append(Rejection(line_number, str(exc), _raw(fields.legs[0][1])))
                continue
            record.import_batch_id = batch_id
            yield render(record)
            continue
        else:
            first_pbx_row = False
            count += 1
        # Anything the fast path does not take (or rejects) goes the one careful way, which says why.
        try:
            if isinstance(fields, RowError):
                raise fields
            row = parse_row(reading, fields, line_number, result)
            record = _record(row, reading, now)
        except RowError as exc:
            misshapen += isinstance(exc, ShapeError)
            rejections.append(Rejection(line_number, str(exc), _raw(fields)))
            continue
        record.import_batch_id = batch_id
        yield render(record)
    result.rows = count
    if not header_done:
        raise ImportFileError(f"{path}: no header row")
    if result.rows and misshapen == result.rows:
        first = rejections[0]
        raise ImportFileError(
            f"{path}: no row could be read as {reading.format} CSV (line {first.line_number}: {first.reason})"
        )


def parse_row(reading: _Reading, fields: list[str], line_number: int, result: ImportResult) -> ParsedRow:
    if reading.format == "native":
        return reading.native(_clean(fields, None, line_number, result))
    layout = reading.layout_of(fields)
    if layout is None:
        raise reading.shape_error(fields)
    return parse_layout(layout, _clean(fields, layout, line_number, result), reading.time_format)


# The fast path's view of a layout: src, dst, start, duration, billsec, the answered test's column, the id column.
def _fast_layout(layout: Layout) -> tuple:
    c = layout.columns
    return (
        c["src"],
        c["dst"],
        c["start"],
        c["duration"],
        c["billsec"],
        c["disposition"] if layout.answered_by == "disposition" else c["answer"],
        c.get("uniqueid", 10**6),
        layout.answered_by == "disposition",
        c.get("channel", -1),
        c.get("dstchannel", -1),
    )


_MISSING = object()


def _csv_fields(values) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()[:-2]


class _FastPbx:
    """The common case of an Asterisk or FreeSWITCH row, straight to its COPY line.

    CDR files repeat the same numbers, lines, hours and dispositions over and over, so everything
    that depends only on those is computed once per distinct value: the line a number or extension
    belongs to, the other party's classification, a wall-clock hour's UTC offset and local day and
    hour. ``line()`` returns None for any row that is not plainly good (bad field, unknown line, time
    zone change in that hour, an identifier that changed hands, a call between two of our lines, ...);
    the importer then runs it through ``_record``, which rejects it with its reason or loads it, so
    both paths give exactly the same records and rejections.
    """

    def __init__(self, reading: _Reading, now: datetime, batch_id: int):
        self.reading = reading
        self.directory = reading.directory
        self.forced_tz = reading.clock_tz
        self.tail = f",0,{reading.format},"
        self.batch = f",{batch_id}\r\n"
        self.latest = (now + FUTURE_TOLERANCE).replace(tzinfo=None)
        self.earliest = EARLIEST.replace(tzinfo=None)
        self.matches: dict[str, tuple | None] = {}
        self.lines: dict[int, _FastLine] = {}
        self.hours: dict[int, dict[tuple, tuple | None]] = {}  # per organization
        self.destinations: dict[tuple[str, int], str | None] = {}
        self.layouts: dict[tuple[int, bool], tuple | None] = {}
        self.line = self._line_function()

    def _hour(self, org_id: int, key: tuple) -> tuple | None:
        """(UTC offset, local date, ",local date,local hour,") of a wall-clock hour read in the source's
        clock (else the line's organization's zone), or None when some time of that hour does not map
        that simply (a zone change in the hour, an offset not whole hours apart from the organization's, ...)."""
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

    def _destination(self, other: str, line: _LineInfo) -> tuple[str, datetime | None] | None:
        """The other party's columns and, when it is one of the organization's lines by an identifier,
        the time from which that holds; None: the careful path decides (too long, time-dependent)."""
        org = self.directory.orgs[line.organization_id]
        if other.strip():
            ours = self.directory.fast_match(other)
            if ours is _UNSURE:
                return None
            if ours is not None and ours[0].organization_id == org.id:
                number = ours[0].number  # between two of the organization's lines: internal
                return _csv_fields([number, mask(number), Category.INTERNAL, org.country, ""]), ours[1]
        dest = classify(other, line.number, org.country, dialplan=self.directory.dialplan) if other.strip() else None
        if dest is None:
            return _csv_fields(["", "", "other", "", ""]), None
        if _too_long(dest):
            return None  # the careful path rejects the row
        return _csv_fields([dest.number, dest.masked, dest.category, dest.country, dest.zone]), None

    def _party(self, party: str):
        """(line info, valid from (naive UTC) or None, its _FastLine, its organization's hour cache),
        _UNSURE (time-dependent), or None (not ours)."""
        found = self.directory.fast_match(party)
        if found is None or found is _UNSURE:
            return found
        info, since = found
        line = self.lines.get(info.id)
        if line is None:
            line = self.lines[info.id] = _FastLine(info, self.directory)
        return info, since, line, self.hours.setdefault(info.organization_id, {})

    def _layout(self, fields: list[str]) -> tuple | None:
        layout = self.reading.layout_of(fields)
        return None if layout is None else _fast_layout(layout)

    def _line_function(self):
        """``line(fields)``: a closure over locals, as this runs once per row of files of millions."""
        tail, batch = self.tail, self.batch
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
        fixed_width = {}
        layout_of = self._layout
        asterisk = self.reading.format == "asterisk"
        ambiguous = (17, 20) if asterisk else ()
        for width in ASTERISK_COLUMNS if asterisk else (15, 17, 18, 20):
            if width not in ambiguous:
                fixed_width[width] = layout_of([""] * width)
        unsure = _UNSURE
        by_channel = "channel" in self.directory.methods and bool(self.directory.identifiers)
        known_channel, fast_match = self.directory.known_channel, self.directory.fast_match

        def line(fields: list[str]) -> str | None:
            width = len(fields)
            layout = fixed_width.get(width, _MISSING)
            if layout is _MISSING:
                if width not in ambiguous:
                    return None
                layout = layout_of(fields)
            if layout is None:
                return None
            src, dst, start_col, duration_col, billsec_col, answer_col, id_col, by_disposition, chan, dstchan = layout
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
            if by_disposition:
                answered = fields[answer_col].strip().upper() == "ANSWERED"
            else:
                answered = bool(fields[answer_col].strip()) and billsec > 0
            source_id = fields[id_col].strip() if width > id_col else ""
            source_id = (source_id or stable_id(fields))[:128].replace('"', '""')  # always quoted below

            calling = fields[src]
            party = matches.get(calling, _MISSING)
            if party is _MISSING:
                party = matches[calling] = party_of(calling)
            if party is unsure:
                return None
            if party is not None:
                direction, other = "outbound", fields[dst]
                # matching by channel: a called party that is ours only by its channel is internal
                if by_channel and dstchan >= 0 and known_channel(fields[dstchan]) and fast_match(other) is None:
                    return None
            else:
                if by_channel and chan >= 0 and known_channel(fields[chan]):
                    return None  # ours by its channel: the careful path
                called = fields[dst]
                party = matches.get(called, _MISSING)
                if party is _MISSING:
                    party = matches[called] = party_of(called)
                if party is None or party is unsure:
                    return None
                direction, other = "inbound", calling
            info, since, fast_line, hours = party

            key = (naive.year, naive.month, naive.day, naive.hour)
            hour = hours.get(key, _MISSING)
            if hour is _MISSING:
                hour = hours[key] = hour_of(info.organization_id, key)
            if hour is None:
                return None
            offset, local_date, local_text = hour
            started = naive - offset  # UTC, naive
            if started > latest or started < earliest or (since is not None and started < since):
                return None
            if local_date < info.activated_on or (info.deactivated_on and local_date >= info.deactivated_on):
                return None

            dest_key = (other, info.id)
            dest = destinations.get(dest_key, _MISSING)
            if dest is _MISSING:
                dest = destinations[dest_key] = destination_of(other, info)
            if dest is None:
                return None
            dest, other_since = dest
            if other_since is not None and started < other_since:
                return None
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


def _started(row: ParsedRow, tz) -> datetime:
    if row.start.tzinfo is None:
        return row.start.replace(tzinfo=tz).astimezone(UTC)
    return row.start.astimezone(UTC)


def _record(row: ParsedRow, reading: _Reading, now: datetime) -> NewUsageRecord:
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
            scope = "of any organization" if reading.source is None else f"of {reading.source.organization.name}"
            raise RowError(
                f"unknown line: neither src '{row.calling[:32]}' nor dst '{row.called[:32]}' is a line {scope}"
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
        source=reading.format,
        source_id=row.source_id[:128],
        import_batch_id=None,
    )
