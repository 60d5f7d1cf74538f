"""Parsing usage exports of real phone systems, row by row. Pure functions: fields in, a row or a reason out.

- Asterisk ``cdr_csv`` (Master.csv): no header; accountcode, src, dst, dcontext, clid, channel,
  dstchannel, lastapp, lastdata, start, answer, end, duration, billsec, disposition, amaflags, then
  optionally uniqueid, userfield (17/18 columns) and peeraccount, linkedid, sequence (21 columns).
- FreeSWITCH ``mod_cdr_csv`` default template: no header; caller_id_name, caller_id_number,
  destination_number, context, start_stamp, answer_stamp, end_stamp, duration, billsec, hangup_cause,
  uuid, bleg_uuid, accountcode, read_codec, write_codec.
- native: our documented CSV with a header row (see README "Importing usage").

Asterisk and FreeSWITCH write local wall-clock times without a zone; the importer reads them in the
zone given on the command line, else in the matched line's organization's zone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

MAX_FIELD = 1000
MAX_DURATION = 48 * 3600

ASTERISK_COLUMNS = (16, 17, 18, 21)
FREESWITCH_COLUMNS = 15
NATIVE_REQUIRED = ("record_id", "line", "started_at", "usage_type")
NATIVE_OPTIONAL = ("direction", "other_party", "duration_seconds", "billable_seconds", "answered", "data_bytes")


class RowError(ValueError):
    """Why a row was rejected; the importer adds the file line number."""


class ShapeError(RowError):
    """The row is not a row of this format at all (column count, encoding): if every row is like
    this, the file is not in this format and the import is refused as a whole."""


class FormatError(ValueError):
    """The file as a whole cannot be read in this format (e.g. a native file without its header)."""


@dataclass(slots=True)
class ParsedRow:
    source_id: str
    calling: str  # the party that placed the call (or, in native files, our line)
    called: str
    start: datetime  # naive (local wall clock) for PBX formats, aware for native
    duration: int
    billsec: int
    answered: bool
    usage_type: str = "voice"
    direction: str | None = None  # None: decided by which party is our line
    data_bytes: int = 0


def _int(value: str, field: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise RowError(f"{field} '{value[:40]}' is not a whole number") from None
    if number < 0:
        raise RowError(f"{field} is negative ({number})")
    return number


def _naive_time(value: str, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise RowError(f"{field} '{value[:40]}' is not a date and time (YYYY-MM-DD HH:MM:SS)") from None
    return parsed.replace(tzinfo=None) if parsed.tzinfo is None else parsed


def _durations(duration: int, billsec: int) -> None:
    if billsec > duration:
        raise RowError(f"billsec ({billsec}) is longer than duration ({duration})")
    if duration > MAX_DURATION:
        raise RowError(f"duration of {duration} s is absurd (more than 48 hours)")


def stable_id(fields: list[str]) -> str:
    """An id for rows that carry none: the same row always gets the same id."""
    return hashlib.sha256("\x1f".join(f.strip() for f in fields).encode()).hexdigest()[:32]


def parse_asterisk(fields: list[str]) -> ParsedRow:
    if len(fields) not in ASTERISK_COLUMNS:
        raise ShapeError(f"expected 16, 17, 18 or 21 columns, found {len(fields)}")
    duration = _int(fields[12], "duration")
    billsec = _int(fields[13], "billsec")
    _durations(duration, billsec)
    uniqueid = fields[16].strip() if len(fields) > 16 else ""
    answered = fields[14].strip().upper() == "ANSWERED"
    return ParsedRow(
        source_id=uniqueid or stable_id(fields),
        calling=fields[1],
        called=fields[2],
        start=_naive_time(fields[9], "start"),
        duration=duration,
        billsec=billsec if answered else 0,
        answered=answered,
    )


def parse_freeswitch(fields: list[str]) -> ParsedRow:
    if len(fields) != FREESWITCH_COLUMNS:
        raise ShapeError(f"expected {FREESWITCH_COLUMNS} columns, found {len(fields)}")
    duration = _int(fields[7], "duration")
    billsec = _int(fields[8], "billsec")
    _durations(duration, billsec)
    answered = bool(fields[5].strip()) and billsec > 0
    return ParsedRow(
        source_id=fields[10].strip() or stable_id(fields),
        calling=fields[1],
        called=fields[2],
        start=_naive_time(fields[4], "start_stamp"),
        duration=duration,
        billsec=billsec if answered else 0,
        answered=answered,
    )


_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def native_parser(header: list[str]):
    """Build the row parser for a native file from its header row."""
    names = [h.strip().lower().lstrip("\ufeff") for h in header]
    missing = [name for name in NATIVE_REQUIRED if name not in names]
    if missing:
        raise FormatError(f"the header row lacks the column(s) {', '.join(missing)}")
    unknown = [name for name in names if name not in NATIVE_REQUIRED + NATIVE_OPTIONAL]
    if unknown:
        raise FormatError(f"unknown column(s) in the header row: {', '.join(unknown)}")
    index = {name: i for i, name in enumerate(names)}
    width = len(names)

    def get(fields, name, default=""):
        i = index.get(name)
        return fields[i].strip() if i is not None else default

    def parse(fields: list[str]) -> ParsedRow:
        if len(fields) != width:
            raise ShapeError(f"expected {width} columns, found {len(fields)}")
        record_id = get(fields, "record_id")
        if not record_id:
            raise RowError("record_id is empty")
        usage_type = get(fields, "usage_type").lower()
        if usage_type not in ("voice", "sms", "data"):
            raise RowError(f"usage_type '{usage_type[:20]}' is not voice, sms or data")
        direction = get(fields, "direction", "outbound").lower() or "outbound"
        if direction not in ("outbound", "inbound"):
            raise RowError(f"direction '{direction[:20]}' is not outbound or inbound")
        try:
            start = datetime.fromisoformat(get(fields, "started_at"))
        except ValueError:
            raise RowError(f"started_at '{get(fields, 'started_at')[:40]}' is not an ISO 8601 date and time") from None
        if start.tzinfo is None:
            raise RowError("started_at has no time zone (add an offset such as +01:00 or Z)")
        answered_text = get(fields, "answered", "true").lower() or "true"
        if answered_text not in _TRUE | _FALSE:
            raise RowError(f"answered '{answered_text[:20]}' is not true or false")
        answered = answered_text in _TRUE
        duration = _int(get(fields, "duration_seconds", "0") or "0", "duration_seconds")
        billable_text = get(fields, "billable_seconds")
        billsec = _int(billable_text, "billable_seconds") if billable_text else (duration if answered else 0)
        _durations(duration, billsec)
        data_bytes = _int(get(fields, "data_bytes", "0") or "0", "data_bytes")
        return ParsedRow(
            source_id=record_id,
            calling=get(fields, "line"),
            called=get(fields, "other_party"),
            start=start,
            duration=duration if usage_type == "voice" else 0,
            billsec=(billsec if answered else 0) if usage_type == "voice" else 0,
            answered=answered,
            usage_type=usage_type,
            direction=direction,
            data_bytes=data_bytes if usage_type == "data" else 0,
        )

    return parse
