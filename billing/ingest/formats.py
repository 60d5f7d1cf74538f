# Over 400 lines: every PBX layout (Asterisk 16-21 columns, FreeSWITCH templates, custom, header, native) and its field parsing in one table-driven place.
"""Where each field of a call record is in the files real phone systems write. Pure: fields in, a row or a reason out.

- Asterisk ``cdr_csv`` (Master.csv, cdr_csv.c ``build_csv_record``): no header; accountcode, src, dst,
  dcontext, clid, channel, dstchannel, lastapp, lastdata, start, answer, end, duration, billsec,
  disposition, amaflags (16), then ``uniqueid`` if ``loguniqueid=yes``, ``userfield`` if
  ``loguserfield=yes``, then peeraccount, linkedid, sequence if ``newcdrcolumns=yes``: 16–21 columns.
  17 and 20 columns are ambiguous (uniqueid or userfield): a field that looks like a uniqueid
  (``[system-]<epoch>.<n>``) is one. Times are local unless ``usegmtime=yes`` (then UTC).
- FreeSWITCH ``mod_cdr_csv`` shipped templates, told apart by their column count: ``example`` (the
  default; 15: caller_id_name, caller_id_number, destination_number, context, start_stamp,
  answer_stamp, end_stamp, duration, billsec, hangup_cause, uuid, bleg_uuid, accountcode, read_codec,
  write_codec), ``linksys`` (17) and ``snom`` (20) append to it; ``asterisk`` (18) mimics Asterisk's
  order with hangup causes as the disposition. Answered: answer_stamp set and billsec > 0.
- custom: no header, a declared mapping of our field -> 1-based column (cdr_custom, any template).
- header: a header row (e.g. Grandstream UCM's CDR export); a declared mapping of our field -> header
  name, else the Asterisk names (src, dst, start, answer, end, duration, billsec, disposition, …).
- native: our documented CSV with a header row (see README "Importing usage").
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

MAX_FIELD = 1000
MAX_DURATION = 48 * 3600

ASTERISK_COLUMNS = (16, 17, 18, 19, 20, 21)
FREESWITCH_COLUMNS = 15
NATIVE_REQUIRED = ("record_id", "line", "started_at", "usage_type")
NATIVE_OPTIONAL = ("direction", "other_party", "duration_seconds", "billable_seconds", "answered", "data_bytes")

# Our fields of a call record. Bad bytes in the text-only ones are replaced (a warning); in any other
# the row is rejected.
FIELDS = (
    "src",
    "dst",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "uniqueid",
    "sequence",
    "linkedid",
    "channel",
    "dstchannel",
    "accountcode",
    "bleg_uuid",
    "caller_name",
    "lastdata",
    "userfield",
)
TEXT_ONLY = frozenset({"caller_name", "lastdata", "userfield", "clid", "lastapp", "dcontext", "amaflags", "codec"})

ASTERISK_DISPOSITIONS = frozenset({"ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION", "UNKNOWN"})
_UNIQUEID = re.compile(r"^(?:[\w.-]*-)?\d{9,11}\.\d+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HANGUP_CAUSE = re.compile(r"^[A-Z]+(?:_[A-Z0-9]+)+$")  # NORMAL_CLEARING, ORIGINATOR_CANCEL, USER_BUSY


class RowError(ValueError):
    """Why a row was rejected; the importer adds the file line number."""


class ShapeError(RowError):
    """The row is not a row of this format at all (column count, encoding): if every row is like
    this, the file is not in this format and the import is refused as a whole."""


class FormatError(ValueError):
    """The file as a whole cannot be read in this format (e.g. a native file without its header)."""


@dataclass(frozen=True, slots=True)
class Layout:
    """Where our fields are (0-based) in one shape of row, and how to tell an answered call."""

    name: str
    width: int | None  # None: any width that holds every mapped column (custom/header)
    columns: dict[str, int]
    answered_by: str  # "disposition" (Asterisk: ANSWERED) or "answer" (answer time set and billsec > 0)
    text_columns: frozenset[int] = frozenset()  # columns whose bad bytes are replaced, not rejected
    legs: bool = False  # rows with one uniqueid and different sequence numbers are legs of one call

    def get(self, fields: list[str], name: str) -> str:
        i = self.columns.get(name)
        return fields[i] if i is not None and i < len(fields) else ""


_ASTERISK_BASE = {
    "accountcode": 0,
    "src": 1,
    "dst": 2,
    "clid": 4,
    "channel": 5,
    "dstchannel": 6,
    "lastdata": 8,
    "start": 9,
    "answer": 10,
    "end": 11,
    "duration": 12,
    "billsec": 13,
    "disposition": 14,
}
_ASTERISK_TEXT = frozenset({3, 4, 7, 8, 15})  # dcontext, clid, lastapp, lastdata, amaflags


def _asterisk_layout(width: int, has_uniqueid: bool) -> Layout | None:
    """cdr_csv.c appends uniqueid (loguniqueid), userfield (loguserfield), then peeraccount, linkedid,
    sequence (newcdrcolumns) to the 16 base columns: every width from 16 to 21 is one of them."""
    extra = width - 16
    new_columns = extra >= 3
    optional = extra - 3 if new_columns else extra
    if optional not in (0, 1, 2):
        return None
    columns = dict(_ASTERISK_BASE)
    text = set(_ASTERISK_TEXT)
    names = []
    if optional == 2:
        names = ["uniqueid", "userfield"]
    elif optional == 1:
        names = ["uniqueid" if has_uniqueid else "userfield"]
    if new_columns:
        names += ["peeraccount", "linkedid", "sequence"]
    for offset, name in enumerate(names):
        columns[name] = 16 + offset
        if name in ("userfield", "peeraccount"):
            text.add(16 + offset)
    described = ", ".join(n for n in names) or "no optional columns"
    return Layout(f"Asterisk cdr_csv, {width} columns ({described})", width, columns, "disposition",
                  frozenset(text), legs=new_columns)  # fmt: skip


_ASTERISK_LAYOUTS = {(w, u): _asterisk_layout(w, u) for w in ASTERISK_COLUMNS for u in (True, False)}


def asterisk_layout(fields: list[str]) -> Layout | None:
    width = len(fields)
    if width not in ASTERISK_COLUMNS:
        return None
    has_uniqueid = bool(_UNIQUEID.match(fields[16].strip())) if width in (17, 20) else True
    return _ASTERISK_LAYOUTS[width, has_uniqueid]


_FS_EXAMPLE = {
    "caller_name": 0,
    "src": 1,
    "dst": 2,
    "start": 4,
    "answer": 5,
    "end": 6,
    "duration": 7,
    "billsec": 8,
    "disposition": 9,
    "uniqueid": 10,
    "bleg_uuid": 11,
    "accountcode": 12,
}
FREESWITCH_LAYOUTS = {
    15: Layout("FreeSWITCH cdr_csv, template 'example' (15 columns)", 15, _FS_EXAMPLE, "answer", frozenset({0, 3, 13, 14})),
    17: Layout("FreeSWITCH cdr_csv, template 'linksys' (17 columns)", 17, _FS_EXAMPLE, "answer",
               frozenset({0, 3, 13, 14, 15, 16})),
    20: Layout("FreeSWITCH cdr_csv, template 'snom' (20 columns)", 20, _FS_EXAMPLE, "answer",
               frozenset({0, 3, 13, 14, 15, 16, 17, 18, 19})),
    18: Layout("FreeSWITCH cdr_csv, template 'asterisk' (18 columns)", 18,
               {**_ASTERISK_BASE, "uniqueid": 16, "userfield": 17}, "answer", frozenset({3, 4, 7, 8, 15, 17})),
}  # fmt: skip


def freeswitch_layout(fields: list[str]) -> Layout | None:
    return FREESWITCH_LAYOUTS.get(len(fields))


# Header names understood without a mapping (lower case): Asterisk's, FreeSWITCH's and common vendor ones.
HEADER_NAMES = {
    "src": ("src", "source", "caller", "caller_id_number", "callerid", "from", "call from", "caller number"),
    "dst": ("dst", "destination", "callee", "destination_number", "to", "call to", "callee number"),
    "start": ("start", "calldate", "start_stamp", "start time", "start_time", "call time", "date"),
    "answer": ("answer", "answer_stamp", "answer time", "answer_time"),
    "end": ("end", "end_stamp", "end time", "end_time"),
    "duration": ("duration", "call duration", "total duration"),
    "billsec": ("billsec", "billable", "talk time", "talk_time", "talk duration", "billable seconds"),
    "disposition": ("disposition", "status", "call status", "hangup_cause"),
    "uniqueid": ("uniqueid", "uuid", "acctid", "call id", "call_id"),
    "sequence": ("sequence",),
    "linkedid": ("linkedid", "session"),
    "channel": ("channel", "channel_name"),
    "dstchannel": ("dstchannel", "bridge_channel"),
    "accountcode": ("accountcode", "account code"),
    "bleg_uuid": ("bleg_uuid",),
    "caller_name": ("clid", "caller_name", "caller_id_name", "callername", "caller name"),
    "lastdata": ("lastdata",),
    "userfield": ("userfield",),
}


def check_mapping(mapping: dict, *, header: bool) -> None:
    """Refuse a column mapping that cannot describe a call (FormatError saying what is wrong)."""
    if not isinstance(mapping, dict):
        raise FormatError("the column mapping must be a JSON object: our field -> column")
    unknown = [k for k in mapping if k not in FIELDS]
    if unknown:
        raise FormatError(f"unknown field(s) {', '.join(unknown)} in the column mapping (known: {', '.join(FIELDS)})")
    for key, value in mapping.items():
        if header and not isinstance(value, str):
            raise FormatError(f"{key}: a header export maps fields to header names, got {value!r}")
        if not header and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise FormatError(f"{key}: columns are numbered from 1, got {value!r}")
    if header and not mapping:
        return  # the header's own names are used
    missing = [k for k in ("src", "dst", "start") if k not in mapping]
    if "duration" not in mapping and "end" not in mapping:
        missing.append("duration (or end)")
    if missing:
        raise FormatError(f"the column mapping lacks {', '.join(missing)}")


def custom_layout(mapping: dict) -> Layout:
    check_mapping(mapping, header=False)
    columns = {k: v - 1 for k, v in mapping.items()}
    answered = "disposition" if "disposition" in columns else "answer"
    text = frozenset(i for k, i in columns.items() if k in TEXT_ONLY)
    return Layout(f"custom columns ({len(columns)} mapped)", None, columns, answered, text,
                  legs="sequence" in columns)  # fmt: skip


def header_layout(header: list[str], mapping: dict) -> Layout:
    check_mapping(mapping, header=True)
    names = [h.strip().lower().lstrip("\ufeff") for h in header]
    index = {name: i for i, name in enumerate(names)}
    columns: dict[str, int] = {}
    if mapping:
        for key, name in mapping.items():
            if name.strip().lower() not in index:
                raise FormatError(f"the header row has no column '{name}' (mapped to {key})")
            columns[key] = index[name.strip().lower()]
    else:
        for key, candidates in HEADER_NAMES.items():
            for candidate in candidates:
                if candidate in index:
                    columns[key] = index[candidate]
                    break
    missing = [k for k in ("src", "dst", "start") if k not in columns]
    if "duration" not in columns and "end" not in columns:
        missing.append("duration (or end)")
    if missing:
        raise FormatError(f"the header row has no column for {', '.join(missing)} (declare a column mapping)")
    answered = "disposition" if "disposition" in columns else "answer"
    text = frozenset(i for k, i in columns.items() if k in TEXT_ONLY) | frozenset(
        i for i, n in enumerate(names) if i not in columns.values()
    )
    return Layout(f"export with a header row ({len(names)} columns)", len(names), columns, answered, text,
                  legs="sequence" in columns)  # fmt: skip


def looks_like_header(fields: list[str]) -> bool:
    """A first row naming columns rather than holding a call: no field is a number or a date."""
    names = {f.strip().lower().lstrip("\ufeff") for f in fields}
    known = {n for candidates in HEADER_NAMES.values() for n in candidates}
    return len(names & known) >= 3 and not any(any(c.isdigit() for c in f) for f in fields)


@dataclass(slots=True)
class ParsedRow:
    source_id: str
    calling: str  # the party that placed the call (or, in native files, our line)
    called: str
    start: datetime  # naive (the source's clock) for PBX formats, aware for native and epoch times
    duration: int
    billsec: int
    answered: bool
    usage_type: str = "voice"
    direction: str | None = None  # None: decided by which party is our line
    data_bytes: int = 0
    channel: str = ""
    dstchannel: str = ""
    accountcode: str = ""
    uniqueid: str = ""
    sequence: str = ""
    linkedid: str = ""
    bleg_uuid: str = ""
    legs: int = 1
    warnings: list[str] = field(default_factory=list)


_DECIMAL = re.compile(r"^\d{1,9}\.\d+$")
_CLOCK_DURATION = re.compile(r"^(\d+):([0-5]\d):([0-5]\d)$")  # vendor exports: 00:01:05


def _int(value: str, field: str) -> int:
    text = value.strip()
    try:
        number = int(text)
    except ValueError:
        if _DECIMAL.match(text):  # cdr_custom's ${CDR(duration,f)} writes 12.345
            number = round(float(text))
        elif hms := _CLOCK_DURATION.match(text):
            number = int(hms[1]) * 3600 + int(hms[2]) * 60 + int(hms[3])
        else:
            raise RowError(f"{field} '{value[:40]}' is not a whole number") from None
    if number < 0:
        raise RowError(f"{field} is negative ({number})")
    return number


_SLASHED = re.compile(r"^\d{4}/\d{2}/\d{2}")


def read_time(value: str, field: str, time_format: str = "text") -> datetime:
    """A start/answer/end time: text is naive (the source's clock) unless it carries an offset; epoch
    seconds (whole or fractional) are UTC."""
    text = value.strip()
    if time_format in ("epoch", "fractional"):
        try:
            seconds = float(text)
        except ValueError:
            raise RowError(f"{field} '{value[:40]}' is not seconds since 1970") from None
        if not 0 <= seconds < 32503680000:
            raise RowError(f"{field} '{value[:40]}' is not seconds since 1970")
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        if _SLASHED.match(text):  # 2026/10/06 09:15:00 (year first: never ambiguous)
            try:
                return datetime.fromisoformat(text.replace("/", "-", 2))
            except ValueError:
                pass
        raise RowError(f"{field} '{value[:40]}' is not a date and time (YYYY-MM-DD HH:MM:SS)") from None


def _durations(duration: int, billsec: int) -> None:
    if billsec > duration:
        raise RowError(f"billsec ({billsec}) is longer than duration ({duration})")
    if duration > MAX_DURATION:
        raise RowError(f"duration of {duration} s is absurd (more than 48 hours)")


def stable_id(fields: list[str]) -> str:
    """An id for rows that carry none: the same row always gets the same id."""
    return hashlib.sha256("\x1f".join(f.strip() for f in fields).encode()).hexdigest()[:32]


def parse_layout(layout: Layout, fields: list[str], time_format: str = "text") -> ParsedRow:
    """One row read by a layout (any format but native)."""
    if layout.width is not None and len(fields) != layout.width:
        raise ShapeError(f"expected {layout.width} columns, found {len(fields)}")
    needed = max(layout.columns.values()) + 1
    if len(fields) < needed:
        raise ShapeError(f"expected at least {needed} columns, found {len(fields)}")
    get = layout.get
    start = read_time(get(fields, "start"), "start", time_format)
    answer_text = get(fields, "answer").strip()
    if "duration" in layout.columns:
        duration = _int(get(fields, "duration"), "duration")
    else:
        end = read_time(get(fields, "end"), "end", time_format)
        duration = max(int((end - start).total_seconds()), 0)
    if "billsec" in layout.columns:
        billsec = _int(get(fields, "billsec"), "billsec")
    elif answer_text and get(fields, "end").strip():
        end = read_time(get(fields, "end"), "end", time_format)
        billsec = max(int((end - read_time(answer_text, "answer", time_format)).total_seconds()), 0)
    else:
        billsec = 0
    _durations(duration, billsec)
    if layout.answered_by == "disposition":
        answered = get(fields, "disposition").strip().upper() == "ANSWERED"
    else:
        answered = bool(answer_text) and billsec > 0
    uniqueid = get(fields, "uniqueid").strip()
    sequence = get(fields, "sequence").strip()
    return ParsedRow(
        source_id=uniqueid or stable_id(fields),
        calling=get(fields, "src"),
        called=get(fields, "dst"),
        start=start,
        duration=duration,
        billsec=billsec if answered else 0,
        answered=answered,
        channel=get(fields, "channel").strip(),
        dstchannel=get(fields, "dstchannel").strip(),
        accountcode=get(fields, "accountcode").strip(),
        uniqueid=uniqueid,
        sequence=sequence,
        linkedid=get(fields, "linkedid").strip(),
        bleg_uuid=get(fields, "bleg_uuid").strip(),
    )


def parse_asterisk(fields: list[str]) -> ParsedRow:
    layout = asterisk_layout(fields)
    if layout is None:
        raise ShapeError(f"expected 16 to 21 columns (Asterisk cdr_csv), found {len(fields)}")
    return parse_layout(layout, fields)


def parse_freeswitch(fields: list[str]) -> ParsedRow:
    layout = freeswitch_layout(fields)
    if layout is None:
        raise ShapeError(f"expected 15, 17, 18 or 20 columns (FreeSWITCH templates), found {len(fields)}")
    return parse_layout(layout, fields)


def mismatch_hint(format: str, sample: list[list[str]]) -> str | None:
    """Which format a sample of rows would match when it is not ``format`` (None: nothing to say)."""
    if not sample:
        return None
    widths = {len(f) for f in sample}
    if format == "asterisk":
        causes = [f[14].strip() for f in sample if len(f) == 18]
        uuids = [f[16].strip() for f in sample if len(f) == 18]
        if (
            causes
            and sum(bool(_HANGUP_CAUSE.match(c)) and c not in ASTERISK_DISPOSITIONS for c in causes) > len(causes) // 2
            and any(_UUID.match(u) for u in uuids)
        ):
            return (
                "the dispositions are FreeSWITCH hangup causes (e.g. "
                f"{next(c for c in causes if _HANGUP_CAUSE.match(c))}) and the ids are UUIDs: this is FreeSWITCH's "
                "'asterisk' template; import it as freeswitch"
            )
        if widths == {15} or (widths <= set(FREESWITCH_LAYOUTS) and any(_UUID.match(f[10].strip()) for f in sample
                                                                        if len(f) > 10)):  # fmt: skip
            return f"{sorted(widths)} columns with UUIDs: this looks like FreeSWITCH cdr_csv; import it as freeswitch"
    if format == "freeswitch" and widths <= set(ASTERISK_COLUMNS):
        ids = [f[16].strip() for f in sample if len(f) > 16]
        if ids and any(_UNIQUEID.match(i) for i in ids):
            return f"{sorted(widths)} columns with Asterisk uniqueids: this looks like Asterisk cdr_csv; import it as asterisk"
    return None


def uniqueid_epoch(uniqueid: str) -> int | None:
    """The epoch second in an Asterisk uniqueid (``[system-]1761300000.42``), None when it has none."""
    if not _UNIQUEID.match(uniqueid):
        return None
    return int(uniqueid.rsplit(".", 1)[0].rsplit("-", 1)[-1])


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
