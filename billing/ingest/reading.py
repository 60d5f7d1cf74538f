"""How a file is read: its source's settings (format, clock, dial plan, line directory), its rows, and
what its first rows say before anything is written (header row, format mismatch, clock, legs)."""

from __future__ import annotations

import csv
import hashlib
import itertools
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

from billing.ingest import clock, encoding
from billing.ingest.directory import Directory
from billing.ingest.formats import (
    FormatError,
    Layout,
    RowError,
    ShapeError,
    asterisk_layout,
    custom_layout,
    freeswitch_layout,
    header_layout,
    looks_like_header,
    mismatch_hint,
)
from billing.ingest.result import ImportFileError, ImportResult
from billing.models import UsageSource

FORMATS = ("native", "asterisk", "freeswitch")
SNIFF_ROWS = 500

csv.field_size_limit(10_000_000)  # we reject long fields ourselves, with a clear reason


@dataclass
class Reading:
    """How to read this file: the source's settings, or those of the older ``format`` path."""

    format: str
    source: UsageSource | None
    directory: Directory
    clock_tz: zoneinfo.ZoneInfo | None  # None: the matched line's organization's zone (no source)
    time_format: str = "text"
    layout: Layout | None = None  # fixed (custom, header); None: by row (asterisk, freeswitch)
    native: object = None
    b_legs_seen: bool = False  # FreeSWITCH rows name their b-leg (legs="ab"): b-leg rows are dropped
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
        return ShapeError(self.shape_reason(len(fields)))

    def shape_reason(self, width: int) -> str:
        if self.format == "asterisk":
            return f"expected 16 to 21 columns (Asterisk cdr_csv), found {width}"
        if self.format == "freeswitch":
            return f"expected 15, 17, 18 or 20 columns (FreeSWITCH templates), found {width}"
        return f"expected {self.layout.width} columns, found {width}"

    @property
    def scope(self) -> str:
        """How an unknown line's rejection names where it looked."""
        return "of any organization" if self.source is None else f"of {self.source.organization.name}"


def open_text(path: Path, text_encoding: encoding.TextEncoding):
    # Text mode ending lines at LF only, as in the file's bytes; in UTF-8, undecodable bytes become
    # lone surrogates (surrogateescape), which are repaired or rejected per field. LF never occurs
    # inside a UTF-8 sequence, so this decodes exactly as decoding each line on its own would.
    return path.open("r", encoding=text_encoding.codec, errors=text_encoding.errors, newline="\n")


def rows(path: Path, text_encoding: encoding.TextEncoding):
    """Yield (line_number, fields) for each CSV row, or (line_number, RowError) for unreadable ones."""
    with open_text(path, text_encoding) as handle:
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


def readable(path: Path) -> encoding.TextEncoding:
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


def reading_for(*, format, source, timezone_name) -> tuple[str, Reading]:
    if source is not None:
        if isinstance(source, str):
            try:
                source = UsageSource.objects.select_related("organization").get(slug=source)
            except UsageSource.DoesNotExist:
                known = ", ".join(UsageSource.objects.values_list("slug", flat=True)) or "none declared"
                raise ImportFileError(f"unknown usage source '{source}' (known: {known})") from None
        format = source.format
        zone = timezone_name or source.clock
        directory = Directory(source.organization, source.match_methods(), source.dial_plan())
    else:
        if format not in FORMATS:
            raise ImportFileError(f"unknown format '{format}': use one of {', '.join(FORMATS)}")
        zone = timezone_name
        directory = Directory()
    clock_tz = None
    if zone:
        try:
            clock_tz = zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ImportFileError(f"unknown time zone '{zone}' (use an IANA name such as Europe/Berlin)") from None
    reading = Reading(format, source, directory, clock_tz, source.time_format if source else "text")
    if source is not None and format == "custom":
        try:
            reading.layout = custom_layout(source.columns)
        except FormatError as exc:
            raise ImportFileError(f"usage source {source.slug}: {exc}") from None
    return format, reading


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def sniff(path: Path, text_encoding, reading: Reading, result: ImportResult) -> None:
    """Before anything is written: the header row, the format and the clock, from the first rows."""
    sample: list[tuple[int, list[str]]] = []
    for line_number, fields in rows(path, text_encoding):
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
    # or in none, so the first rows tell (and files without it skip the grouping's cost).
    reading.legs = any((layout := reading.layout_of(f)) is not None and layout.legs for _n, f in sample)
    if reading.format in ("asterisk", "custom", "header"):
        verdict = clock.check(sample, reading)
        if verdict is not None:
            if reading.source is not None and reading.source.clock_check == UsageSource.ClockCheck.REFUSE:
                raise ImportFileError(f"{path}: {verdict} (the source refuses files whose clock disagrees)")
            result.warn(verdict)
    if reading.format == "freeswitch":
        reading.b_legs_seen = any(len(f) in (15, 17, 20) and f[11].strip() for _n, f in sample)
