"""Clock sanity: does the file's clock agree with what the source says it is?

Asterisk's uniqueid is ``[system-]<epoch>.<n>``: the UTC second the calling channel was created,
which is the call's start. Read in the source's clock, the start must fall on that second (give or
take a minute). When most rows disagree by the same whole number of hours (or quarter hours), the
file was written in another clock; the import says which one would match (UTC when Asterisk's
``usegmtime=yes``, else the zone whose offset it is) and warns or refuses, per the source's setting.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from billing.ingest.formats import RowError, read_time, uniqueid_epoch

QUARTER = 900
SLACK = 120  # seconds between channel creation and the logged start
MAX_OFFSET = 15 * 3600  # zones are UTC-12 to UTC+14: a larger gap is not a clock setting


def _offset_text(seconds: int) -> str:
    sign = "+" if seconds >= 0 else "-"
    hours, rest = divmod(abs(seconds), 3600)
    return f"UTC{sign}{hours:02d}:{rest // 60:02d}"


def check(sample, reading) -> str | None:
    """A warning (or the reason for refusing) when the uniqueids contradict the clock; else None."""
    seen = []
    for line_number, fields in sample:
        layout = reading.layout_of(fields)
        if layout is None or "uniqueid" not in layout.columns:
            continue
        uniqueid = layout.get(fields, "uniqueid").strip()
        epoch = uniqueid_epoch(uniqueid)
        if epoch is None:
            continue
        try:
            start = read_time(layout.get(fields, "start"), "start", reading.time_format)
        except RowError:
            continue
        if start.tzinfo is None:
            tz = reading.clock_tz
            if tz is None:  # no source: the zone of the organization of the line the row names
                line = reading.directory.by_number_text(layout.get(fields, "src")) or reading.directory.by_number_text(
                    layout.get(fields, "dst")
                )
                if line is None:
                    continue
                tz = reading.directory.tz[line.organization_id]
            started = start.replace(tzinfo=tz)
        else:
            started = start
        diff = epoch - started.timestamp()
        seen.append((line_number, uniqueid, epoch, layout.get(fields, "start").strip(), started, round(diff)))
    if not seen:
        return None
    off = [s for s in seen if SLACK < abs(s[5]) <= MAX_OFFSET and abs(s[5] - round(s[5] / QUARTER) * QUARTER) <= SLACK]
    if len(off) * 2 <= len(seen):
        return None
    shift, _count = Counter(round(s[5] / QUARTER) * QUARTER for s in off).most_common(1)[0]
    line_number, uniqueid, epoch, start_text, started, _diff = next(
        s for s in off if round(s[5] / QUARTER) * QUARTER == shift
    )
    naive = datetime.fromisoformat(start_text) if reading.time_format == "text" else None
    real_utc = datetime.fromtimestamp(epoch, UTC)
    if naive is not None and naive.tzinfo is None:
        actual = round((naive - real_utc.replace(tzinfo=None)).total_seconds() / QUARTER) * QUARTER
    else:
        actual = None
    clock_name = str(reading.clock_tz) if reading.clock_tz is not None else "the organization's time zone"
    if actual == 0:
        suggestion = "UTC (Asterisk writes UTC with usegmtime=yes in cdr.conf)"
    elif actual is not None:
        zones = {
            str(tz)
            for tz in reading.directory.tz.values()
            if real_utc.astimezone(tz).utcoffset() == timedelta(seconds=actual)
        }
        suggestion = (
            (", ".join(sorted(zones)) + f" ({_offset_text(actual)})") if zones else f"a zone at {_offset_text(actual)}"
        )
    else:
        suggestion = f"a clock {_offset_text(-shift)} from this one"
    return (
        f"clock: {len(off)} of {len(seen)} rows checked have a start {abs(shift) // 3600} h "
        f"{abs(shift) % 3600 // 60:02d} min away from their uniqueid (line {line_number}: uniqueid {uniqueid} "
        f"is {real_utc:%Y-%m-%d %H:%M:%S} UTC, start '{start_text}' read in {clock_name} is "
        f"{started.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC); the times match {suggestion}"
    )
