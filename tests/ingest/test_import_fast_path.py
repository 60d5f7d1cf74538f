"""The set-based import (COPY into a staging table, then SQL over all rows) must give exactly what the
careful row-by-row path gives: the same records, rollups and rejections."""

import zoneinfo
from datetime import UTC, date, datetime

import pytest
from django.db import transaction

from billing.ingest import importer
from billing.ingest.importer import usage_import
from billing.models import ImportRejection, Line, LineAssignment, UsageDaily, UsageHourly, UsageRecord

ASTERISK = (
    '"","{src}","{dst}","from-internal","""Desk"" <{src}>","SIP/1-{n:08x}","SIP/trunk-{n:08x}","Dial",'
    '"SIP/trunk/{dst},60","{start}","","{start}",{duration},{billsec},"{disposition}","DOCUMENTATION"{tail}\n'
)
FREESWITCH = (
    '"Desk","{src}","{dst}","default","{start}","{answer}","{start}","{duration}","{billsec}",'
    '"NORMAL_CLEARING","{uuid}","","","PCMA","PCMA"\n'
)


def asterisk(src, dst, start, duration=65, billsec=60, disposition="ANSWERED", n=0, uniqueid=True, userfield=""):
    tail = f',"{1760000000 + n}.{n}","{userfield}"' if uniqueid else ""
    return ASTERISK.format(
        src=src, dst=dst, start=start, duration=duration, billsec=billsec, disposition=disposition, n=n, tail=tail
    )


def snapshot(org, result):
    """Everything a user can see of an import, without database ids."""
    line_numbers = dict(Line.objects.values_list("id", "number"))
    records = sorted(
        [(line_numbers[r.line_id], r.person_id, r.location_id, r.usage_type, r.started_at, r.local_date, r.local_hour,
         r.duration_seconds, r.billable_seconds, r.duration_band, r.direction, r.answered, r.destination,
         r.destination_masked, r.category, r.country, r.zone, r.data_bytes, r.source, r.source_id)
        for r in UsageRecord.objects.filter(organization=org)],
        key=repr,
    )  # fmt: skip
    rollups = [
        sorted(
            (tuple(v for k, v in row.items() if k != "id") for row in model.objects.filter(organization=org).values()),
            key=repr,
        )
        for model in (UsageDaily, UsageHourly)
    ]
    rejections = [(r.line_number, r.reason, r.raw) for r in result.rejections]
    return (result.rows, result.loaded, result.duplicates, result.rejected), rejections, records, rollups


@pytest.fixture
def anna_leaves(pbx):
    """Anna's line keeps no person from 1 November 00:00 Berlin (no one follows her)."""
    LineAssignment.objects.filter(line=pbx.lines_["anna"]).update(valid_to=datetime(2026, 10, 31, 23, 0, tzinfo=UTC))
    return pbx


def both_ways(monkeypatch, org, path, format, timezone_name=None):
    """Import with the fast path and without it (each in a savepoint that is rolled back)."""
    out = []
    for fast in (True, False):
        with monkeypatch.context() as patch:
            if not fast:
                patch.setattr(importer, "FAST_PATH", False)
            with transaction.atomic():
                result = usage_import(path=path, format=format, timezone_name=timezone_name)
                out.append(snapshot(org, result))
                transaction.set_rollback(True)
    return out


def varied_asterisk_rows() -> str:
    """Rows that take every turn: DST gap and overlap, a line whose person changes mid-file, unknown
    numbers, inbound calls, numbers in national format and with spaces, rows without uniqueid,
    duplicates, non-ASCII and CR in fields, aware timestamps, bad values of every kind."""
    rows = []
    n = 0
    starts = [
        "2026-03-29 01:59:59",  # Berlin: the hour before the spring-forward gap
        "2026-03-29 02:30:00",  # in the gap (does not exist in Berlin)
        "2026-03-29 03:00:00",
        "2026-10-25 01:59:59",
        "2026-10-25 02:30:00",  # happens twice in Berlin
        "2026-10-25 03:00:00",
        "2026-10-19 23:59:59",  # Ben's last second (Berlin)
        "2026-10-20 00:00:00",  # Cem from here on
        "2026-10-20 00:00:01",
        "2026-10-31 23:59:59",  # Carl's line starts on 1 November; Anna leaves
        "2026-11-01 00:00:00",
        "2026-11-01 00:30:00",
        "2026-11-01T10:00:00",  # ISO with T
        "2026-11-02 10:00:00.250000",
        "2026-11-02 10:00:00+05:30",  # an explicit offset
        "  2026-11-03 08:00:00 ",
        "1999-12-31 23:59:59",
        "2031-01-01 00:00:00",
        "2026-02-30 10:00:00",
        "not a date",
    ]
    parties = [
        ("+493012345601", "+493099887766"),
        ("03012345602", "+4989123456"),
        (" +49 30 12345602 ", "01701234567"),
        ("+14155550123", "+493012345602"),  # inbound
        ("+493012345603", "0800 1234567"),  # Carl
        ("+494011122233", "+494033344455"),  # neither is ours
        ("+493012345601", "202"),
        ("+493012345601", ""),
        ("", "+493012345601"),
    ]
    for start in starts:
        for src, dst in parties:
            n += 1
            rows.append(asterisk(src, dst, start, n=n, duration=30 + n * 37, billsec=20 + n * 37))
    for i, (duration, billsec, disposition) in enumerate(
        [(" 65 ", "60", "answered"), ("-1", "0", "ANSWERED"), ("65", "90", "ANSWERED"), ("1_000", "10", "BUSY"),
         ("x", "1", "ANSWERED"), ("200000", "1", "ANSWERED"), ("3600", "3600", " ANSWERED "), ("59", "0", "FAILED")]
    ):  # fmt: skip
        rows.append(asterisk("+493012345601", "+33142685300", f"2026-10-08 1{i}:00:00", duration, billsec, disposition,
                             n=500 + i))  # fmt: skip
    rows.append(asterisk("+493012345601", "+493099887766", "2026-10-09 10:00:00", n=600, uniqueid=False))
    rows.append(asterisk("+493012345601", "+493099887766", "2026-10-09 10:00:00", n=600, uniqueid=False))  # dup
    rows.append(asterisk("+493012345601", "+493099887766", "2026-10-09 11:00:00", n=601))
    rows.append(asterisk("+493012345601", "+493099887766", "2026-10-09 11:00:00", n=601))  # same uniqueid
    rows.append(asterisk("+493012345601", "+491701234567", "2026-10-09 12:00:00", n=602, userfield="Jürgen"))
    rows.append(asterisk("+493012345601", "+491701234567", "2026-10-09 12:30:00", n=603, userfield='a\rb\nc,"d"'))
    rows.append(asterisk("+493012345601", "+491701234567", "2026-10-09 12:40:00", n=604, userfield="x" * 1001))
    rows.append(asterisk("+493012345601", "+491701234567", "2026-10-09 12:50:00", n=605, userfield="nul\x00"))
    rows.append('"","+493012345601","+491701234567","too","few"\n')
    return "".join(rows)


@pytest.mark.parametrize("timezone_name", [None, "UTC", "Asia/Kolkata", "America/New_York"])
def test_asterisk_fast_path_equals_the_careful_path(anna_leaves, pbx, tmp_path, monkeypatch, timezone_name):
    path = tmp_path / "Master.csv"
    path.write_bytes(varied_asterisk_rows().encode() + b'"","+493012345601","x","\xff\xfe"\n')
    fast, careful = both_ways(monkeypatch, pbx, path, "asterisk", timezone_name)
    assert fast == careful
    counts, rejections, records, _rollups = fast
    assert counts[1] > 100 and counts[2] == 2 and len(rejections) > 50  # it covers loads, duplicates, rejections


def test_freeswitch_fast_path_equals_the_careful_path(pbx, tmp_path, monkeypatch):
    rows = []
    for i, (src, dst, start, answer, duration, billsec, uuid) in enumerate(
        [("+493012345601", "+493099887766", "2026-10-06 12:00:00", "2026-10-06 12:00:05", 125, 120, "a"),
         ("+493012345601", "+33142685300", "2026-10-06 12:10:00", "", 20, 0, "b"),
         ("+493012345601", "+33142685300", "2026-10-06 12:10:00", "2026-10-06 12:10:01", 20, 0, "c"),
         ("+14155550123", "+493012345601", "2026-03-29 02:30:00", "x", 600, 600, "d"),
         ("+14155550123", "+493012345601", "2026-10-25 02:30:00", "x", 600, 600, ""),
         ("+494011122233", "+494033344455", "2026-10-06 12:00:00", "x", 1, 1, "f"),
         ("+493012345601", "+491701234567", "2026-10-06 12:00:00", "x", 5, 9, "g"),
         ("+493012345601", "+491701234567", "2026-10-06 12:00:00", "x", 5, 5, "a")]
    ):  # fmt: skip
        rows.append(
            FREESWITCH.format(
                src=src,
                dst=dst,
                start=start,
                answer=answer,
                duration=duration,
                billsec=billsec,
                uuid=uuid and f"uuid-{uuid}-{i}",
            )  # fmt: skip
        )
    path = tmp_path / "freeswitch.csv"
    path.write_text("".join(rows) + '"too","few"\n')
    fast, careful = both_ways(monkeypatch, pbx, path, "freeswitch")
    assert fast == careful
    assert fast[0] == (9, 6, 0, 3)


def test_fast_path_on_the_shipped_sample_files(pbx, monkeypatch):
    from tests.ingest.conftest import DATA

    for name, format in (("asterisk_master.csv", "asterisk"), ("freeswitch.csv", "freeswitch")):
        fast, careful = both_ways(monkeypatch, pbx, DATA / name, format)
        assert fast == careful


def test_person_changes_mid_file_and_dst_in_one_file(anna_leaves, pbx, tmp_path):
    """The caches do not blur what changes within one file: Ben's line goes to Cem at midnight on
    20 October, and Berlin's clocks change on 29 March and 25 October."""
    path = tmp_path / "Master.csv"
    path.write_text(
        asterisk("+493012345602", "+4989123456", "2026-10-19 23:59:59", n=1)
        + asterisk("+493012345602", "+4989123456", "2026-10-20 00:00:00", n=2)
        + asterisk("+493012345602", "+4989123456", "2026-10-19 23:00:00", n=3)
        + asterisk("+493012345601", "+4989123456", "2026-03-29 01:30:00", n=4)
        + asterisk("+493012345601", "+4989123456", "2026-03-29 03:30:00", n=5)
        + asterisk("+493012345601", "+4989123456", "2026-10-25 02:30:00", n=6)
        + asterisk("+493012345601", "+4989123456", "2026-10-25 03:30:00", n=7)
        + asterisk("+491111111111", "+4989123456", "2026-10-25 03:30:00", n=8)
        + asterisk("+493012345601", "+4989123456", "2026-10-31 23:59:59", n=9)
        + asterisk("+493012345601", "+4989123456", "2026-11-01 00:00:00", n=10)
    )
    result = usage_import(path=path, format="asterisk")
    assert (result.loaded, result.rejected) == (9, 1)
    assert [(r.line_number, r.reason) for r in result.rejections] == [
        (8, "unknown line: neither src '+491111111111' nor dst '+4989123456' is a line of any organization")
    ]
    got = {
        r.source_id.split(".")[1]: (r.person and r.person.name, r.started_at, r.local_date, r.local_hour)
        for r in UsageRecord.objects.filter(organization=pbx).select_related("person")
    }
    assert got == {
        "1": ("Ben", datetime(2026, 10, 19, 21, 59, 59, tzinfo=UTC), date(2026, 10, 19), 23),
        "2": ("Cem", datetime(2026, 10, 19, 22, 0, tzinfo=UTC), date(2026, 10, 20), 0),
        "3": ("Ben", datetime(2026, 10, 19, 21, 0, tzinfo=UTC), date(2026, 10, 19), 23),
        "4": ("Anna", datetime(2026, 3, 29, 0, 30, tzinfo=UTC), date(2026, 3, 29), 1),
        "5": ("Anna", datetime(2026, 3, 29, 1, 30, tzinfo=UTC), date(2026, 3, 29), 3),  # CEST from 03:00
        "6": ("Anna", datetime(2026, 10, 25, 0, 30, tzinfo=UTC), date(2026, 10, 25), 2),  # the first 02:30
        "7": ("Anna", datetime(2026, 10, 25, 2, 30, tzinfo=UTC), date(2026, 10, 25), 3),  # CET again
        "9": ("Anna", datetime(2026, 10, 31, 22, 59, 59, tzinfo=UTC), date(2026, 10, 31), 23),
        "10": (None, datetime(2026, 10, 31, 23, 0, tzinfo=UTC), date(2026, 11, 1), 0),  # Anna has left
    }


def test_nul_byte_after_the_first_8_kib_is_a_rejected_row_not_a_crash(pbx, tmp_path):
    good = "".join(asterisk("+493012345601", "+4989123456", f"2026-10-05 {h:02d}:{m:02d}:00", n=h * 60 + m)
                   for h in range(8, 12) for m in range(0, 60, 2))  # fmt: skip
    assert len(good) > 8192
    path = tmp_path / "Master.csv"
    path.write_text(good + asterisk("+493012345601", "+4989123456", "2026-10-06 09:00:00", n=9999, userfield="a\x00b"))
    result = usage_import(path=path, format="asterisk")
    assert (result.loaded, result.rejected) == (120, 1)
    assert [(r.line_number, r.reason) for r in result.rejections] == [
        (121, "column 18 (userfield): NUL byte (bad encoding)")
    ]
    assert "a\ufffdb" in ImportRejection.objects.get(batch_id=result.batch_id).raw


def test_a_dialled_number_too_long_for_a_phone_number_is_rejected_not_a_crash(pbx, tmp_path, monkeypatch):
    path = tmp_path / "Master.csv"
    path.write_text(
        asterisk("+493012345601", "1" * 60, "2026-10-05 09:00:00", n=1)
        + asterisk("+493012345601", "+49" + "1" * 40, "2026-10-05 09:10:00", n=2)
        + asterisk("+493012345601", "+4989123456", "2026-10-05 09:20:00", n=3)
    )
    fast, careful = both_ways(monkeypatch, pbx, path, "asterisk")
    assert fast == careful
    result = usage_import(path=path, format="asterisk")
    assert (result.loaded, result.rejected) == (1, 2)
    assert [(r.line_number, r.reason) for r in result.rejections] == [
        (1, f"other party '{'1' * 32}…' is too long to be a phone number"),
        (2, f"other party '+49{'1' * 29}…' is too long to be a phone number"),
    ]


def both_ways_for(monkeypatch, org, path, source, careful_rows=None):
    out = []
    for fast in (True, False):
        with monkeypatch.context() as patch:
            if not fast:
                patch.setattr(importer, "FAST_PATH", False)
            with transaction.atomic():
                result = usage_import(path=path, source=source, now=datetime(2026, 11, 15, tzinfo=UTC))
                out.append(snapshot(org, result) + (result.warnings,))
                if fast and careful_rows is not None:
                    careful_rows.append(result.careful_rows)
                transaction.set_rollback(True)
    return out


@pytest.mark.parametrize(
    "clock, match_by",
    [
        ("UTC", "number,extension"),
        ("Europe/Amsterdam", "number,extension,channel"),
        ("America/New_York", "extension,channel,number"),
    ],
)
def test_fast_path_equals_the_careful_path_for_a_source_matching_extensions(
    hosted, tmp_path, monkeypatch, clock, match_by
):
    """Extensions (one that changes hands mid-file, one that starts mid-file), DIDs, national numbers,
    calls between two of the organization's lines, 16 to 21 columns, legs, DST changes."""
    from billing.models import LineIdentifier
    from tests.ingest.cdr import asterisk as row

    moved = datetime(2026, 10, 20, 10, 0, tzinfo=UTC)
    LineIdentifier.objects.filter(kind="extension", value="203").update(valid_to=moved)
    LineIdentifier.objects.create(organization=hosted, line=hosted.lines_["202"], kind="extension", value="203",
                                  valid_from=moved)  # fmt: skip
    LineIdentifier.objects.create(organization=hosted, line=hosted.lines_["201"], kind="extension", value="2010",
                                  valid_from=datetime(2026, 10, 10, tzinfo=UTC))  # fmt: skip
    LineIdentifier.objects.create(organization=hosted, line=hosted.lines_["201"], kind="did", value="+31201234599",
                                  valid_from=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
    parties = [("201", "0201234567"), ("202", "+4930901820"), ("203", "0612345678"), ("2010", "0800123456"),
               ("+4930901820", "202"), ("0201234501", "202"), ("201", "203"), ("299", "0201234567"),
               ("0201234599", "0201234567"), ("+31201234502", "0201234501"), ("", "201")]  # fmt: skip
    starts = [datetime(2026, 10, d, h, m, tzinfo=UTC) for d in (5, 15, 20, 25) for h, m in ((0, 30), (1, 30), (10, 5))]
    shapes = [dict(uniqueid="auto"), dict(), dict(uniqueid="auto", userfield=""), dict(userfield="x"),
              dict(uniqueid="auto", userfield="", sequence=1), dict(sequence=2)]  # fmt: skip
    text, n = "", 0
    tz = None if clock == "UTC" else zoneinfo.ZoneInfo(clock)
    for start in starts:
        for src, dst in parties:
            n += 1
            channels = dict(channel=f"PJSIP/{('201', '203', 'trunk', '')[n % 4]}-{n:08x}",
                            dstchannel=f"SIP/{('202', 'trunk', '2010', 'x')[n % 4]}-{n:08x}")  # fmt: skip
            if src == "" and n % 2:
                channels["channel"] = "SIP/202-0000beef"  # only the channel says it is Bram's
            text += row(src=src, dst=dst, start=start, duration=30 + n, billsec=n % 7 * 3, tz=tz, n=n,
                        disposition="ANSWERED" if n % 7 else "NO ANSWER", **channels, **shapes[n % len(shapes)])  # fmt: skip
    path = tmp_path / "Master.csv"
    path.write_text(text)
    source = hosted.source(clock=clock, match_by=match_by)
    careful_rows = []
    fast, careful = both_ways_for(monkeypatch, hosted, path, source, careful_rows)
    assert fast == careful
    counts, rejections, records, _rollups, _warnings = fast
    categories = {r[14] for r in records}
    assert counts[1] > 100 and len(rejections) >= 4 and {"internal", "local", "international"} <= categories
    assert careful_rows[0] < counts[0] / 4  # most rows were matched set-based, by channel too
