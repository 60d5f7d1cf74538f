# Over 400 lines: one test per shape of usage source (formats, column counts, clocks, legs, encodings, matching), sharing one set of fixture writers.
"""Usage sources: files as real phone systems write them, for a hosted-PBX customer whose lines are known
by extension, channel, account code and DID; every stored record checked field by field."""

import csv
import zoneinfo
from datetime import UTC, date, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.ingest.importer import ImportFileError, usage_import
from billing.models import ImportBatch, ImportRejection, UsageRecord
from billing.tasks import import_dropped_files
from tests.ingest.cdr import asterisk, freeswitch, q
from tests.ingest.conftest import NOW

AMS = zoneinfo.ZoneInfo("Europe/Amsterdam")
T = datetime(2026, 10, 6, 7, 15, tzinfo=UTC)  # 09:15 in Amsterdam (CEST)
LATE = datetime(2026, 10, 6, 22, 30, tzinfo=UTC)  # 00:30 on 7 October in Amsterdam


def seen(org, **filters):
    """What a purchasing department sees of each stored call, in time order."""
    return [
        (
            r.local_date,
            r.person.name if r.person else None,
            r.location.name if r.location else None,
            r.duration_seconds,
            r.billable_seconds,
            r.answered,
            r.direction,
            r.category,
        )
        for r in UsageRecord.objects.filter(organization=org, **filters)
        .select_related("person", "location")
        .order_by("started_at", "id")
    ]


def write(tmp_path, text: str | bytes, name="Master.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


# loguniqueid, loguserfield, newcdrcolumns -> the column count cdr_csv.c writes
COMBINATIONS = [
    (False, False, False, 16),
    (True, False, False, 17),
    (False, True, False, 17),
    (True, True, False, 18),
    (False, False, True, 19),
    (True, False, True, 20),
    (False, True, True, 20),
    (True, True, True, 21),
]


@pytest.mark.parametrize("uniqueid, userfield, newcolumns, width", COMBINATIONS)
@pytest.mark.parametrize("usegmtime", [True, False])
def test_asterisk_every_column_count_and_both_clocks(
    hosted, tmp_path, uniqueid, userfield, newcolumns, width, usegmtime
):
    tz = None if usegmtime else AMS
    source = hosted.source(clock="UTC" if usegmtime else "Europe/Amsterdam")

    def row(n, **kw):
        kw.setdefault("tz", tz)
        return asterisk(
            n=n,
            uniqueid="auto" if uniqueid else None,
            userfield="vip" if userfield else None,
            sequence=n if newcolumns else None,
            **kw,
        )

    text = (
        row(1, src="201", dst="0201234567", start=T, duration=65, billsec=60, channel="PJSIP/201-00000001")
        + row(2, src="+4930901820", dst="202", start=LATE, duration=125, billsec=120, dstchannel="PJSIP/202-0000002")
        + row(3, src="203", dst="0612345678", start=T, duration=20, billsec=0, disposition="NO ANSWER")
    )
    assert {len(fields) for fields in csv.reader(StringIO(text))} == {width}  # as cdr_csv.c writes them
    result = usage_import(path=write(tmp_path, text), source=source, now=NOW)
    assert (result.rows, result.loaded, result.rejected, result.failed) == (3, 3, 0, False)
    assert not [w for w in result.warnings if w.startswith("clock")]
    assert seen(hosted) == [
        (date(2026, 10, 6), "Anna", "Amsterdam", 65, 60, True, "outbound", "local"),
        (date(2026, 10, 6), "Carla", "Rotterdam", 20, 0, False, "outbound", "mobile"),
        (date(2026, 10, 7), "Bram", "Amsterdam", 125, 120, True, "inbound", "international"),
    ]
    assert UsageRecord.objects.filter(organization=hosted, started_at=T).count() == 2


def test_a_local_file_read_as_utc_says_which_zone_would_match_or_is_refused(hosted, tmp_path):
    text = asterisk(src="201", dst="0201234567", start=T, duration=65, billsec=60, tz=AMS, uniqueid="auto")
    text += asterisk(src="202", dst="0201234567", start=LATE, duration=65, billsec=60, tz=AMS, uniqueid="auto", n=2)
    path = write(tmp_path, text)
    warn = hosted.source("warn", clock="UTC", clock_check="warn")
    result = usage_import(path=path, source=warn, now=NOW)
    (verdict,) = [w for w in result.warnings if w.startswith("clock")]
    assert "2 of 2 rows checked have a start 2 h 00 min away from their uniqueid" in verdict
    assert "the times match Europe/Amsterdam (UTC+02:00)" in verdict
    assert ImportBatch.objects.get(pk=result.batch_id).warnings == result.warnings
    refuse = hosted.source("refuse", clock="UTC")  # the default: refuse
    with pytest.raises(ImportFileError, match="the times match Europe/Amsterdam"):
        usage_import(path=path, source=refuse, now=NOW)
    # A UTC file (usegmtime=yes) declared as local time: the import names UTC.
    utc = write(
        tmp_path, asterisk(src="201", dst="0201234567", start=T, duration=5, billsec=5, uniqueid="auto"), "u.csv"
    )
    local = hosted.source("local", clock="Europe/Amsterdam", clock_check="warn")
    (verdict,) = [w for w in usage_import(path=utc, source=local, now=NOW).warnings if w.startswith("clock")]
    assert "the times match UTC (Asterisk writes UTC with usegmtime=yes in cdr.conf)" in verdict


def test_parallel_dial_legs_are_one_answered_call(hosted, tmp_path):
    """Asterisk 13+ rings 201, 202 and 203 at once for a call to the ring group 600: three rows with
    one uniqueid and sequence 1, 2, 3; 202 answers. Before, the answered leg was a 'duplicate'."""
    uid = f"{int(T.timestamp())}.7"
    legs = [
        ("PJSIP/201-00000011", "NO ANSWER", 0),
        ("PJSIP/202-00000012", "ANSWERED", 40),
        ("PJSIP/203-00000013", "NO ANSWER", 0),
    ]
    text = "".join(
        asterisk(src="+4930901820", dst="600", start=T, duration=52, billsec=billsec, disposition=disp,
                 dstchannel=channel, uniqueid=uid, userfield="", linkedid=uid, sequence=10 + i)
        for i, (channel, disp, billsec) in enumerate(legs)
    )  # fmt: skip
    # a second, unanswered call later, that rang only 201
    text += asterisk(src="+4930901820", dst="600", start=LATE, duration=30, billsec=0, disposition="NO ANSWER",
                     dstchannel="PJSIP/201-00000014", uniqueid="auto", userfield="", sequence=20, n=8)  # fmt: skip
    source = hosted.source()
    result = usage_import(path=write(tmp_path, text), source=source, now=NOW)
    assert (result.rows, result.loaded, result.duplicates, result.rejected, result.joined_legs) == (4, 2, 0, 0, 2)
    assert seen(hosted) == [
        (date(2026, 10, 6), "Bram", "Amsterdam", 52, 40, True, "inbound", "international"),
        (date(2026, 10, 7), "Anna", "Amsterdam", 30, 0, False, "inbound", "international"),
    ]
    assert UsageRecord.objects.filter(organization=hosted, answered=True).get().source_id == uid
    again = usage_import(path=write(tmp_path, text, "again.csv"), source=source, now=NOW)
    assert (again.loaded, again.duplicates) == (0, 2)


def test_freeswitch_default_template_a_legs_and_ab_legs(hosted, tmp_path):
    a1, b1, a2, b2 = (f"{n:08x}-1111-4222-8333-444455556666" for n in (1, 2, 3, 4))
    a_legs = freeswitch(
        src="201", dst="202", start=T, duration=6, billsec=6, uuid=a1, bleg_uuid=b1, tz=AMS, name="Anna"
    ) + freeswitch(src="203", dst="0612345678", start=LATE, duration=95, billsec=90, uuid=a2, bleg_uuid=b2, tz=AMS)
    b_legs = freeswitch(
        src="201", dst="202", start=T, duration=6, billsec=6, uuid=b1, tz=AMS, name="Anna"
    ) + freeswitch(src="203", dst="0612345678", start=LATE, duration=95, billsec=90, uuid=b2, tz=AMS)
    source = hosted.source("fs", format="freeswitch", clock="Europe/Amsterdam")
    expected = [
        (date(2026, 10, 6), "Anna", "Amsterdam", 6, 6, True, "outbound", "internal"),
        (date(2026, 10, 7), "Carla", "Rotterdam", 95, 90, True, "outbound", "mobile"),
    ]
    only_a = usage_import(path=write(tmp_path, a_legs, "a.csv"), source=source, now=NOW)
    assert (only_a.rows, only_a.loaded, only_a.rejected) == (2, 2, 0)
    assert seen(hosted) == expected
    internal = UsageRecord.objects.get(organization=hosted, category="internal")
    assert (internal.destination, internal.line.number) == ("+31201234502", "+31201234501")
    # legs="ab", the b-leg of the first call written before its a-leg: still one call each
    both = b_legs[: b_legs.index("\n") + 1] + a_legs + b_legs[b_legs.index("\n") + 1 :]
    ab = usage_import(path=write(tmp_path, both, "ab.csv"), source=source, now=NOW)
    assert (ab.rows, ab.loaded, ab.duplicates, ab.joined_legs) == (4, 0, 2, 2)
    assert seen(hosted) == expected


def test_freeswitch_legs_ab_on_a_fresh_organization_loads_each_call_once(hosted, tmp_path):
    a1, b1 = "0000000a-1111-4222-8333-444455556666", "0000000b-1111-4222-8333-444455556666"
    text = freeswitch(src="201", dst="202", start=T, duration=6, billsec=6, uuid=b1, tz=AMS) + freeswitch(
        src="201", dst="202", start=T, duration=6, billsec=6, uuid=a1, bleg_uuid=b1, tz=AMS
    )
    source = hosted.source("fs", format="freeswitch", clock="Europe/Amsterdam")
    result = usage_import(path=write(tmp_path, text), source=source, now=NOW)
    assert (result.rows, result.loaded, result.joined_legs) == (2, 1, 1)
    assert seen(hosted) == [(date(2026, 10, 6), "Anna", "Amsterdam", 6, 6, True, "outbound", "internal")]
    assert any("joined" in w for w in result.warnings)


def test_freeswitch_asterisk_template_imported_as_asterisk_is_refused_and_loads_as_freeswitch(hosted, tmp_path):
    rows = "".join(
        freeswitch(src="201", dst="0201234567", start=T, duration=65 + i, billsec=60, uuid=f"{i:08x}-0000-4000-8000-000000000000",
                   tz=AMS, template="asterisk")
        for i in range(3)
    )  # fmt: skip
    path = write(tmp_path, rows)
    with pytest.raises(ImportFileError, match="FreeSWITCH's 'asterisk' template; import it as freeswitch"):
        usage_import(path=path, source=hosted.source("wrong", clock="Europe/Amsterdam"), now=NOW)
    result = usage_import(path=path, source=hosted.source("fs", format="freeswitch", clock="Europe/Amsterdam"), now=NOW)
    assert (result.loaded, result.rejected) == (3, 0)
    assert {r[4:] for r in seen(hosted)} == {(60, True, "outbound", "local")}


def test_custom_template_with_epoch_times(hosted, tmp_path):
    """A FreeSWITCH custom template: "${start_epoch}","${caller_id_number}","${destination_number}",
    "${duration}","${billsec}","${uuid}","${answer_epoch}"."""
    start = int(T.timestamp())
    text = (
        f'"{start}","201","+4930901820","65","60","c-1","{start + 5}"\n'
        f'"{int(LATE.timestamp())}","202","0201234567","30","0","c-2","0"\n'
        f'"yesterday","202","0201234567","30","0","c-3","0"\n'
    )
    source = hosted.source(
        "custom",
        format="custom",
        time_format="epoch",
        columns={"start": 1, "src": 2, "dst": 3, "duration": 4, "billsec": 5, "uniqueid": 6, "answer": 7},
    )
    result = usage_import(path=write(tmp_path, text), source=source, now=NOW)
    assert (result.loaded, result.rejected) == (2, 1)
    assert [(r.line_number, r.reason) for r in result.rejections] == [
        (3, "start 'yesterday' is not seconds since 1970")
    ]
    assert seen(hosted) == [
        (date(2026, 10, 6), "Anna", "Amsterdam", 65, 60, True, "outbound", "international"),
        (date(2026, 10, 7), "Bram", "Amsterdam", 30, 0, False, "outbound", "local"),
    ]


def test_header_export_like_grandstream(hosted, tmp_path):
    header = (
        "AcctId,accountcode,src,dst,dcontext,clid,channel,dstchannel,lastapp,lastdata,start,answer,end,duration,"
        "billsec,disposition,amaflags,uniqueid,userfield,channel_ext,dstchannel_ext,service,caller_name\n"
    )
    uid = int(T.timestamp())
    body = (
        f'1,,201,0612345678,from-internal,"""Anna"" <201>",PJSIP/201-00000001,PJSIP/trunk-00000002,Dial,x,'
        f"2026-10-06 09:15:00,2026-10-06 09:15:10,2026-10-06 09:17:10,130,120,ANSWERED,DOCUMENTATION,{uid}.1,,201,,s,Anna\n"
        f"2,,+4930901820,203,from-trunk,Caller,PJSIP/trunk-00000003,PJSIP/203-00000004,Dial,x,"
        f"2026-10-07 00:30:00,,2026-10-07 00:30:20,20,0,NO ANSWER,DOCUMENTATION,{int(LATE.timestamp())}.2,,,203,s,\n"
        f"3,,201,0612345678,from-internal,x,x,x,Dial,x,2026-10-06 10:00:00,,2026-10-06 10:00:20,abc,0,NO ANSWER,"
        f"DOCUMENTATION,{uid}.3,,201,,s,Anna\n"
    )
    source = hosted.source("ucm", format="header", clock="Europe/Amsterdam")
    result = usage_import(path=write(tmp_path, header + body), source=source, now=NOW)
    assert (result.rows, result.loaded, result.rejected) == (3, 2, 1)
    assert [(r.line_number, r.reason) for r in result.rejections] == [(4, "duration 'abc' is not a whole number")]
    assert not result.warnings
    assert seen(hosted) == [
        (date(2026, 10, 6), "Anna", "Amsterdam", 130, 120, True, "outbound", "mobile"),
        (date(2026, 10, 7), "Carla", "Rotterdam", 20, 0, False, "inbound", "international"),
    ]


def test_matching_by_extension_channel_account_code_and_national_did(hosted, tmp_path):
    def row(n, **kw):
        return asterisk(start=T.replace(minute=n), duration=65, billsec=60, uniqueid="auto", n=n, **kw)

    text = (
        row(1, src="201", dst="0201234567")  # extension
        + row(2, src="", dst="0201234567", channel="SIP/202-0000a1b2")  # channel user
        + row(3, src="", dst="0201234567", channel="Local/x@ctx-00000001;1", accountcode="ACC-CARLA")  # account code
        + row(4, src="0201234502", dst="0612345678")  # presented caller id: Bram's DID, national format
        + row(5, src="+4930901820", dst="0201234503")  # inbound to Carla's DID
        + row(6, src="201", dst="203")  # internal, by extensions
        + row(7, src="299", dst="0201234567")  # no such extension
    )
    result = usage_import(path=write(tmp_path, text), source=hosted.source(), now=NOW)
    assert [(r.line_number, r.reason) for r in result.rejections] == [
        (7, "unknown line: neither src '299' nor dst '0201234567' is a line of Praxis Amsterdam")
    ]
    assert seen(hosted) == [
        (date(2026, 10, 6), "Anna", "Amsterdam", 65, 60, True, "outbound", "local"),
        (date(2026, 10, 6), "Bram", "Amsterdam", 65, 60, True, "outbound", "local"),
        (date(2026, 10, 6), "Carla", "Rotterdam", 65, 60, True, "outbound", "local"),
        (date(2026, 10, 6), "Bram", "Amsterdam", 65, 60, True, "outbound", "mobile"),
        (date(2026, 10, 6), "Carla", "Rotterdam", 65, 60, True, "inbound", "international"),
        (date(2026, 10, 6), "Anna", "Amsterdam", 65, 60, True, "outbound", "internal"),
    ]


def test_an_extension_that_changed_hands_matches_by_the_time_of_the_call(hosted, tmp_path):
    from billing.models import LineIdentifier

    moved = datetime(2026, 10, 6, 8, 0, tzinfo=UTC)
    LineIdentifier.objects.filter(kind="extension", value="203").update(valid_to=moved)
    LineIdentifier.objects.create(organization=hosted, line=hosted.lines_["202"], kind="extension", value="203",
                                  valid_from=moved)  # fmt: skip
    text = asterisk(src="203", dst="0201234567", start=T, duration=5, billsec=5, uniqueid="auto") + asterisk(
        src="203", dst="0201234567", start=LATE, duration=5, billsec=5, uniqueid="auto", n=2
    )
    usage_import(path=write(tmp_path, text), source=hosted.source(match_by="extension"), now=NOW)
    assert [r[1] for r in seen(hosted)] == ["Carla", "Bram"]


@pytest.mark.parametrize(
    "encode, note",
    [
        (lambda t: b"\xef\xbb\xbf" + t.encode(), None),
        (lambda t: t.encode("utf-16"), "encoding: read as UTF-16 (byte order mark)"),
        (lambda t: t.encode("utf-16-le"), "encoding: read as UTF-16 little-endian (no byte order mark)"),
        (lambda t: t.encode("latin-1"), "encoding: read as Windows-1252 / Latin-1 (the file is not UTF-8)"),
    ],
)
def test_encodings(hosted, tmp_path, encode, note):
    text = asterisk(
        src="201", dst="0201234567", start=T, duration=65, billsec=60, clid='"Jürgen" <201>', uniqueid="auto"
    )
    result = usage_import(path=write(tmp_path, encode(text)), source=hosted.source(), now=NOW)
    assert (result.loaded, result.rejected) == (1, 0)
    assert result.warnings == ([note] if note else [])
    assert seen(hosted) == [(date(2026, 10, 6), "Anna", "Amsterdam", 65, 60, True, "outbound", "local")]


def test_stray_bytes_in_the_caller_name_warn_in_a_billing_field_reject_and_nul_rejects_its_row(hosted, tmp_path):
    good = asterisk(src="201", dst="0201234567", start=T, duration=65, billsec=60, clid="Zoë <201>", uniqueid="auto")
    stray = asterisk(
        src="202", dst="0201234567", start=T, duration=65, billsec=60, clid="J\udcfcrgen", uniqueid="auto", n=2
    )
    bad_src = asterisk(src="20\udcff", dst="0201234567", start=T, duration=65, billsec=60, uniqueid="auto", n=3)
    nul = asterisk(
        src="203", dst="0201234567", start=T, duration=65, billsec=60, lastdata="x\x00y", uniqueid="auto", n=4
    )
    data = (good + nul + stray + bad_src).encode("utf-8", errors="surrogateescape")
    result = usage_import(path=write(tmp_path, data), source=hosted.source(), now=NOW)
    assert (result.rows, result.loaded, result.rejected) == (4, 2, 2)
    assert [(r.line_number, r.reason) for r in result.rejections] == [
        (2, "column 9 (lastdata): NUL byte (bad encoding)"),
        (4, "column 2 (src): bytes that are not UTF-8 in a field billing uses"),
    ]
    assert result.warnings == ["line 3: column 5 (clid): 1 byte(s) not UTF-8, read as Windows-1252"]
    assert ImportBatch.objects.get(pk=result.batch_id).warnings == result.warnings
    assert [r[1] for r in seen(hosted)] == ["Anna", "Bram"]
    assert "x\ufffdy" in ImportRejection.objects.get(batch_id=result.batch_id, line_number=2).raw


def test_a_header_row_is_recognized(hosted, tmp_path):
    header = ",".join(q(h) for h in ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel",
                                      "lastapp", "lastdata", "start", "answer", "end", "duration", "billsec",
                                      "disposition", "amaflags", "uniqueid", "userfield")) + "\n"  # fmt: skip
    text = header + asterisk(
        src="201", dst="0201234567", start=T, duration=65, billsec=60, uniqueid="auto", userfield=""
    )
    result = usage_import(path=write(tmp_path, text), source=hosted.source(), now=NOW)
    assert (result.rows, result.loaded, result.rejected) == (1, 1, 0)
    assert result.warnings == ["line 1: a header row, skipped"]


@pytest.fixture
def pinned_now(monkeypatch):
    """The commands and tasks read the clock: pin it (the calls of these files are from October 2026)."""
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)


def test_no_row_loads_command_fails_and_drop_folder_moves_it_to_failed(hosted, tmp_path, settings, pinned_now):
    text = asterisk(src="299", dst="0201234567", start=T, duration=65, billsec=60, uniqueid="auto")
    text += asterisk(src="201", dst="0201234567", start=T, duration=65, billsec=90, uniqueid="auto", n=2)
    path = write(tmp_path, text)
    source = hosted.source("praxis")
    out = StringIO()
    with pytest.raises(CommandError, match="no row of .* was loaded"):
        call_command("import_usage", str(path), "--source", "praxis", stdout=out)
    printed = out.getvalue()
    assert "2 rows, 0 loaded, 0 duplicates, 2 rejected" in printed and "FAILED" in printed
    assert "  line 2: billsec (90) is longer than duration (65)" in printed
    batch = ImportBatch.objects.filter(source=source).latest("started_at")
    assert (batch.status, batch.loaded, batch.rejected) == ("failed", 0, 2)
    assert batch.rejections.count() == 2

    settings.USAGE_DROP_DIR = tmp_path / "drop"
    folder = tmp_path / "drop" / "praxis"
    folder.mkdir(parents=True)
    (folder / "bad.csv").write_text(text)
    (folder / "good.csv").write_text(
        asterisk(src="201", dst="0201234567", start=T, duration=65, billsec=60, uniqueid="auto", n=3)
    )
    assert import_dropped_files.apply().get() == 2
    drop = tmp_path / "drop"
    assert (drop / "failed" / "bad.csv").exists() and (drop / "processed" / "good.csv").exists()
    report = (drop / "failed" / "bad.csv.error.txt").read_text()
    assert "0 loaded" in report and "line 1: unknown line: neither src '299'" in report
    assert "1 loaded" in (drop / "processed" / "good.csv.report.txt").read_text()
    assert seen(hosted) == [(date(2026, 10, 6), "Anna", "Amsterdam", 65, 60, True, "outbound", "local")]


def test_usage_source_command_declares_identifies_and_imports(hosted, tmp_path, pinned_now):
    out = StringIO()
    call_command("usage_source", "add", "office-pbx", "--organization", hosted.account_number, "--format", "asterisk",
                 "--clock", "Europe/Amsterdam", "--match-by", "extension,number", stdout=out)  # fmt: skip
    assert "drop folder USAGE_DROP_DIR/office-pbx/" in out.getvalue()
    call_command("usage_source", "identify", "+31201234503", "--kind", "extension", "--value", "2033",
                 "--since", "2026-09-01T00:00:00+00:00", stdout=out)  # fmt: skip
    with pytest.raises(CommandError, match="already names a line"):
        call_command("usage_source", "identify", "+31201234501", "--kind", "extension", "--value", "2033",
                     "--since", "2026-10-01T00:00:00+00:00")  # fmt: skip
    with pytest.raises(CommandError, match="clock"):
        call_command("usage_source", "add", "x", "--organization", hosted.account_number, "--format", "asterisk",
                     "--clock", "Mars/Olympus")  # fmt: skip
    with pytest.raises(CommandError, match="--format is required"):
        call_command("usage_source", "add", "new-one", "--organization", hosted.account_number)
    fixed = StringIO()  # changing one setting keeps the others
    call_command("usage_source", "add", "office-pbx", "--organization", hosted.account_number, "--clock", "UTC",
                 stdout=fixed)  # fmt: skip
    assert "clock UTC, matched by extension,number" in fixed.getvalue()
    call_command("usage_source", "add", "office-pbx", "--organization", hosted.account_number, "--clock",
                 "Europe/Amsterdam", stdout=fixed)  # fmt: skip
    listing = StringIO()
    call_command("usage_source", "list", stdout=listing)
    assert "office-pbx" in listing.getvalue() and "clock Europe/Amsterdam" in listing.getvalue()
    path = write(
        tmp_path, asterisk(src="2033", dst="0201234567", start=T, duration=65, billsec=60, tz=AMS, uniqueid="auto")
    )
    report = StringIO()
    call_command("import_usage", str(path), "--source", "office-pbx", stdout=report)
    assert "(asterisk, source office-pbx): 1 rows, 1 loaded" in report.getvalue()
    assert seen(hosted) == [(date(2026, 10, 6), "Carla", "Rotterdam", 65, 60, True, "outbound", "local")]


def test_a_freeswitch_file_imported_as_asterisk_and_back_says_which_format_matches(hosted, tmp_path):
    fs = write(tmp_path, freeswitch(src="201", dst="0201234567", start=T, duration=5, billsec=5,
                                    uuid="0000000a-1111-4222-8333-444455556666", tz=AMS), "fs.csv")  # fmt: skip
    with pytest.raises(ImportFileError, match=r"\[15\] columns with UUIDs: this looks like FreeSWITCH cdr_csv"):
        usage_import(path=fs, source=hosted.source("a", clock="Europe/Amsterdam"), now=NOW)
    ast = write(tmp_path, asterisk(src="201", dst="0201234567", start=T, duration=5, billsec=5, uniqueid="auto",
                                   userfield=""), "ast.csv")  # fmt: skip
    with pytest.raises(ImportFileError, match=r"\[18\] columns with Asterisk uniqueids: .* import it as asterisk"):
        usage_import(path=ast, source=hosted.source("f", format="freeswitch"), now=NOW)
    assert not UsageRecord.objects.filter(organization=hosted).exists()


def test_one_identifier_names_one_line_at_a_time_and_the_admin_pages_open(hosted, admin_client):
    from django.core.exceptions import ValidationError

    from billing.models import LineIdentifier

    clash = LineIdentifier(organization=hosted, line=hosted.lines_["202"], kind="extension", value="201",
                           valid_from=datetime(2026, 6, 1, tzinfo=UTC))  # fmt: skip
    with pytest.raises(ValidationError, match="line_identifier_no_overlap|already exists|Constraint"):
        clash.full_clean()
    clash.kind = "did"  # another kind of the same value does not clash
    clash.full_clean()
    source = hosted.source()
    for url in ("/admin/billing/usagesource/", f"/admin/billing/usagesource/{source.pk}/change/",
                f"/admin/billing/line/{hosted.lines_['201'].pk}/change/", "/admin/billing/importbatch/"):  # fmt: skip
        assert admin_client.get(url).status_code == 200, url


def test_header_export_with_friendly_names_slashed_dates_and_clock_durations(hosted, tmp_path):
    text = (
        "Call Time,Call From,Call To,Call Duration,Talk Duration,Status,Caller Name\n"
        "2026/10/06 09:15:00,201,0612345678,00:02:10,00:02:00,ANSWERED,Anna\n"
        "2026/10/07 00:30:00,+4930901820,203,20,0,NO ANSWER,\n"
        "2026/10/07 00:40:00,+4930901820,203,1:5,0,NO ANSWER,\n"
    )
    source = hosted.source("ucm", format="header", clock="Europe/Amsterdam")
    result = usage_import(path=write(tmp_path, text), source=source, now=NOW)
    assert [(r.line_number, r.reason) for r in result.rejections] == [(4, "duration '1:5' is not a whole number")]
    assert seen(hosted) == [
        (date(2026, 10, 6), "Anna", "Amsterdam", 130, 120, True, "outbound", "mobile"),
        (date(2026, 10, 7), "Carla", "Rotterdam", 20, 0, False, "inbound", "international"),
    ]
    mapped = hosted.source("mapped", format="header", clock="Europe/Amsterdam",
                           columns={"src": "Call From", "dst": "Call To", "start": "Call Time", "end": "Hangup"})  # fmt: skip
    with pytest.raises(ImportFileError, match="line 1: the header row has no column 'Hangup' \\(mapped to end\\)"):
        usage_import(path=write(tmp_path, text, "m.csv"), source=mapped, now=NOW)


def test_a_first_file_checked_with_a_dry_run_shows_the_calls_as_stored(hosted, tmp_path, pinned_now):
    path = write(tmp_path, asterisk(src="201", dst="0612345678", start=T, duration=65, billsec=60, uniqueid="auto")
                 + asterisk(src="+4930901820", dst="203", start=LATE, duration=20, billsec=0, disposition="NO ANSWER",
                            uniqueid="auto", n=2))  # fmt: skip
    hosted.source("praxis")
    out = StringIO()
    call_command("import_usage", str(path), "--source", "praxis", "--dry-run", "--show-records", "5", stdout=out)
    assert out.getvalue().splitlines()[1:] == [
        "  2026-10-06 09:15:00 +31201234501 Anna @ Amsterdam: outbound mobile +31 6 •••••• 78 65 s (60 billable, answered)",
        "  2026-10-07 00:30:00 +31201234503 Carla @ Rotterdam: inbound international +49 30 •••• 20 20 s (0 billable, "
        "unanswered)",
        "dry run: nothing was stored",
    ]
    assert not UsageRecord.objects.filter(organization=hosted).exists() and not ImportBatch.objects.exists()


def test_the_admin_form_refuses_an_identifier_that_names_two_lines_at_once(hosted):
    from billing.admin import LineIdentifierForm
    from billing.models import LineIdentifier

    data = {"kind": "extension", "value": "201", "valid_from": "2026-06-01 00:00:00", "valid_to": ""}
    form = LineIdentifierForm(data=data, instance=LineIdentifier(line=hosted.lines_["202"]))
    assert not form.is_valid()
    assert form.non_field_errors() == ["extension 201 already names line +31201234501 in that period"]
    before = {**data, "valid_from": "2025-01-01 00:00:00", "valid_to": "2026-01-01 00:00:00"}  # before Anna's
    assert LineIdentifierForm(data=before, instance=LineIdentifier(line=hosted.lines_["202"])).is_valid()
