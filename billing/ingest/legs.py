"""Legs: one call that a phone system writes as several rows, joined into one usage record.

- Asterisk 12+ with ``newcdrcolumns=yes`` writes one row per leg of a parallel (or sequential) dial:
  the same ``uniqueid`` (the calling channel), one ``sequence`` number per row, written one after
  another when the call ends. Those rows are one call: it starts with its first leg and ends with its
  last, it is answered if any leg was, and its billable time is that of its answered legs; the line
  and other party are those of the answered leg (else the first). A row repeating a (uniqueid,
  sequence) already read is a repeat, not a leg. Without a sequence column a repeated uniqueid is a
  duplicate, as before.
- FreeSWITCH with ``legs="ab"`` writes the a-leg (the caller's) and the b-leg (the callee's) of a
  bridged call as two rows; the a-leg names the b-leg in ``bleg_uuid``. The b-leg row is dropped: the
  a-leg already describes the call from the caller's side.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from billing.ingest.formats import ParsedRow, RowError


@dataclass(slots=True)
class Group:
    """Consecutive rows that are legs of one Asterisk call: [(line number, fields), ...]."""

    legs: list


def _leg_key(reading, fields):
    if type(fields) is not list:
        return None
    layout = reading.layout_of(fields)
    if layout is None or not layout.legs:
        return None
    uniqueid = layout.get(fields, "uniqueid").strip()
    sequence = layout.get(fields, "sequence").strip()
    return uniqueid if uniqueid and sequence else None


def group_asterisk(rows, reading):
    """Yield rows as they come, except that consecutive rows with one uniqueid (and a sequence
    column) come as one ``Group``."""
    pending: list = []
    pending_key = None
    for line_number, fields in rows:
        key = _leg_key(reading, fields)
        if key is not None and key == pending_key:
            pending.append((line_number, fields))
            continue
        if pending:
            yield (pending[0][0], pending[0][1]) if len(pending) == 1 else (pending[0][0], Group(pending))
        pending, pending_key = ([(line_number, fields)], key) if key is not None else ([], None)
        if key is None:
            yield line_number, fields
    if pending:
        yield (pending[0][0], pending[0][1]) if len(pending) == 1 else (pending[0][0], Group(pending))


def merge(parsed: list[ParsedRow]) -> ParsedRow:
    """One call from its legs (each read on its own)."""
    seen = {}
    for row in parsed:
        seen.setdefault(row.sequence, row)  # a repeated (uniqueid, sequence) is the same leg again
    rows = list(seen.values())
    answered = [r for r in rows if r.answered]
    main = max(answered, key=lambda r: r.billsec) if answered else rows[0]
    start = min(r.start for r in rows)
    try:
        end = max(r.start + timedelta(seconds=r.duration) for r in rows)
    except TypeError:  # naive and aware starts mixed: not legs of one call after all
        raise RowError("legs of one uniqueid mix times with and without a zone") from None
    duration = int((end - start).total_seconds())
    billsec = min(sum(r.billsec for r in answered), duration)
    return replace(main, start=start, duration=duration, billsec=billsec, answered=bool(answered), legs=len(rows))


def freeswitch_b_legs(rows) -> frozenset[str]:
    """The uuids that some row names as its ``bleg_uuid`` (FreeSWITCH templates with that column)."""
    found = set()
    for _line, fields in rows:
        if type(fields) is list and len(fields) in (15, 17, 20):
            value = fields[11].strip()
            if value:
                found.add(value)
    return frozenset(found)
