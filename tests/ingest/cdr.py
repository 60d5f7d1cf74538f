"""Writers of call-record rows byte for byte as the phone systems write them (for the tests' own files).

Asterisk: cdr/cdr_csv.c ``build_csv_record``: every string quoted with ``"`` doubled inside, numbers
(duration, billsec, and sequence) bare, an unset time an empty unquoted field, times ``%Y-%m-%d %T``
in local time or UTC (``usegmtime``), optional columns in the order uniqueid (``loguniqueid``),
userfield (``loguserfield``), peeraccount, linkedid, sequence (``newcdrcolumns``), then LF.
FreeSWITCH: mod_cdr_csv templates from the shipped ``cdr_csv.conf.xml``: every variable quoted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def q(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def stamp(moment: datetime | None, tz=None) -> str:
    """A time as cdr_csv writes it: in ``tz`` (None: UTC, as with usegmtime=yes)."""
    if moment is None:
        return ""
    shown = moment.astimezone(tz or UTC)
    return q(f"{shown:%Y-%m-%d %H:%M:%S}")


def asterisk(
    *,
    src: str,
    dst: str,
    start: datetime,  # aware
    duration: int,
    billsec: int,
    disposition: str = "ANSWERED",
    tz=None,
    accountcode: str = "",
    clid: str | None = None,
    channel: str = "",
    dstchannel: str = "",
    lastdata: str = "",
    uniqueid: str | None = None,
    userfield: str | None = None,
    linkedid: str | None = None,
    sequence: int | None = None,
    peeraccount: str = "",
    n: int = 1,
) -> str:
    """One Master.csv row; pass uniqueid="auto" for ``<epoch of start>.<n>``."""
    answered_at = start + timedelta(seconds=duration - billsec) if disposition == "ANSWERED" else None
    end = start + timedelta(seconds=duration)
    if uniqueid == "auto":
        uniqueid = f"{int(start.timestamp())}.{n}"
    fields = [
        q(accountcode),
        q(src),
        q(dst),
        q("from-internal"),
        q(clid if clid is not None else f'"Desk {src}" <{src}>'),
        q(channel),
        q(dstchannel),
        q("Dial"),
        q(lastdata or f"PJSIP/{dst}@trunk,60"),
        stamp(start, tz),
        stamp(answered_at, tz),
        stamp(end, tz),
        str(duration),
        str(billsec),
        q(disposition),
        q("DOCUMENTATION"),
    ]
    if uniqueid is not None:
        fields.append(q(uniqueid))
    if userfield is not None:
        fields.append(q(userfield))
    if sequence is not None:
        fields += [q(peeraccount), q(linkedid or uniqueid or ""), str(sequence)]
    return ",".join(fields) + "\n"


def freeswitch(
    *,
    src: str,
    dst: str,
    start: datetime,
    duration: int,
    billsec: int,
    uuid: str,
    bleg_uuid: str = "",
    tz=None,
    name: str = "",
    cause: str = "NORMAL_CLEARING",
    accountcode: str = "",
    template: str = "example",
) -> str:
    """One row of a shipped mod_cdr_csv template (``example`` is the default; ``asterisk`` mimics Asterisk)."""
    answered_at = start + timedelta(seconds=duration - billsec) if billsec else None
    end = start + timedelta(seconds=duration)
    times = [stamp(start, tz), stamp(answered_at, tz) or '""', stamp(end, tz)]
    if template == "example":
        values = [q(name), q(src), q(dst), q("default"), *times, q(str(duration)), q(str(billsec)), q(cause),
                  q(uuid), q(bleg_uuid), q(accountcode), q("PCMA"), q("PCMA")]  # fmt: skip
    elif template == "asterisk":
        values = [q(accountcode), q(src), q(dst), q("default"), q(f'"{name}" <{src}>'), q(f"sofia/internal/{src}@pbx"),
                  q(f"sofia/external/{dst}@gw"), q("bridge"), q(f"sofia/gateway/gw/{dst}"), *times, q(str(duration)),
                  q(str(billsec)), q(cause), q("DOCUMENTATION"), q(uuid), q("")]  # fmt: skip
    else:
        raise ValueError(template)
    return ",".join(values) + "\n"
