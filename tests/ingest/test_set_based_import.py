"""The set-based import as a user sees it: files in the exact shape Asterisk's cdr_csv and FreeSWITCH's
mod_cdr_csv write, thousands of rows, every row loaded or rejected with its line and reason, the batch
summary, and the proof that rows are not read one by one in Python: the SQL statements issued do not grow
with the file, and the row-by-row parser is called only for the rows that need it. All or nothing, twice
is once, and two organizations' files load side by side.

The rows are written here from the formats' definitions, not with the importer's helpers:
- Asterisk ``cdr_csv.c`` (``build_csv_record``): accountcode, src, dst, dcontext, clid, channel,
  dstchannel, lastapp, lastdata, start, answer, end, duration, billsec, disposition, amaflags, then
  uniqueid (``loguniqueid``), userfield (``loguserfield``), peeraccount, linkedid, sequence
  (``newcdrcolumns``); strings in ``"`` with inner quotes doubled, numbers bare, an unset time an
  empty unquoted field, ``%Y-%m-%d %T`` in UTC with ``usegmtime=yes``, one LF per record.
- FreeSWITCH ``cdr_csv.conf.xml`` template ``example``: "${caller_id_name}","${caller_id_number}",
  "${destination_number}","${context}","${start_stamp}","${answer_stamp}","${end_stamp}","${duration}",
  "${billsec}","${hangup_cause}","${uuid}","${bleg_uuid}","${accountcode}","${read_codec}","${write_codec}".
"""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection, transaction

from billing.ingest import careful, importer, setbased
from billing.ingest.importer import ImportFileError, usage_import
from billing.models import ImportBatch, ImportRejection, LineIdentifier, UsageDaily, UsageRecord, UsageSource
from tests.ingest.test_import_fast_path import snapshot

NOW = datetime(2026, 11, 15, tzinfo=UTC)
START = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)


def _s(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _t(moment: datetime | None) -> str:
    return "" if moment is None else _s(moment.strftime("%Y-%m-%d %H:%M:%S"))


def master_row(
    i: int, src: str, dst: str, *, ring=4, talk=60, disposition="ANSWERED", channel="", dstchannel="", billsec=None
):
    """One Master.csv record with usegmtime, loguniqueid, loguserfield and newcdrcolumns (21 columns)."""
    start = START + timedelta(minutes=7 * i)
    answer = start + timedelta(seconds=ring) if disposition == "ANSWERED" else None
    billsec = billsec if billsec is not None else talk if disposition == "ANSWERED" else 0
    end = start + timedelta(seconds=ring + talk)
    uniqueid = f"{int(start.timestamp())}.{i}"
    fields = [_s(""), _s(src), _s(dst), _s("from-internal"), _s(f'"Desk {src}" <{src}>'), _s(channel),
              _s(dstchannel), _s("Dial"), _s(f"PJSIP/{dst}@trunk,30,tT"), _t(start), _t(answer), _t(end),
              str(ring + talk if disposition == "ANSWERED" else ring), str(billsec), _s(disposition), _s("DOCUMENTATION"), _s(uniqueid), _s(""),
              _s(""), _s(uniqueid), str(i)]  # fmt: skip
    return ",".join(fields) + "\n"


@pytest.fixture
def office(make):
    """A hosted-PBX customer in Amsterdam: extensions 201-205 on five lines, one person each."""
    org = make.organization(name="Kantoor Amsterdam", country="NL", time_zone="Europe/Amsterdam")
    site = make.location(org, name="Amsterdam")
    since = datetime(2026, 1, 1, tzinfo=UTC)
    org.lines_ = {}
    for k in range(1, 6):
        person = make.person(org, name=f"Person {k}")
        line = make.line(org, f"+3120765430{k}", person=person, location=site, since=since)
        LineIdentifier.objects.create(organization=org, line=line, kind="extension", value=f"20{k}", valid_from=since)
        LineIdentifier.objects.create(organization=org, line=line, kind="sip_user", value=f"20{k}", valid_from=since)
        org.lines_[f"20{k}"] = line
    UsageSource.objects.create(organization=org, name="pbx", slug=f"pbx-{org.pk}", format="asterisk", clock="UTC",
                               match_by="number,extension,channel", outside_prefix="0")  # fmt: skip
    org.slug = f"pbx-{org.pk}"
    return org


def master_csv(rows: int) -> tuple[str, dict]:
    """``rows`` calls of a busy day at the office, with a known share of bad rows; the expected outcome."""
    text, expected = [], {"loaded": 0, "rejected": {}}
    dialled = ["00612345678", "0206241111", "000442079460123", "0800123456", "203", "00031687654321"]
    for i in range(rows):
        ext = f"20{i % 5 + 1}"
        if i % 97 == 13:
            text.append(master_row(i, "299", "0206241111"))  # an extension that is no line
            expected["rejected"][i + 1] = "unknown line: neither src '299' nor dst '0206241111' is a line of"
        elif i % 101 == 7:
            text.append(master_row(i, ext, dialled[i % 6], billsec=69))  # billsec longer than duration
            expected["rejected"][i + 1] = "billsec (69) is longer than duration (64)"
        elif i % 211 == 5:
            text.append('"","201","0206241111","from-internal"\n')  # a truncated record
            expected["rejected"][i + 1] = "expected 16 to 21 columns (Asterisk cdr_csv), found 4"
        elif i % 7 == 3:  # inbound, to the DID, answered at the extension's phone
            text.append(master_row(i, "0612345678", f"3120765430{i % 5 + 1}", dstchannel=f"PJSIP/{ext}-0000{i:04x}"))
            expected["loaded"] += 1
        else:
            disposition = "NO ANSWER" if i % 5 == 4 else "ANSWERED"
            text.append(master_row(i, ext, dialled[i % 6], disposition=disposition, channel=f"PJSIP/{ext}-{i:08x}"))
            expected["loaded"] += 1
    return "".join(text), expected


def test_a_busy_days_master_csv_loads_set_based_with_every_rejection_on_its_line(office, tmp_path, monkeypatch):
    text, expected = master_csv(3000)
    path = tmp_path / "Master.csv"
    path.write_text(text)
    parsed_one_by_one = []
    monkeypatch.setattr(careful, "parse_row", lambda *a, _p=careful.parse_row: parsed_one_by_one.append(a[2]) or _p(*a))
    result = usage_import(path=path, source=office.slug, now=NOW)

    assert (result.rows, result.loaded, result.duplicates) == (3000, expected["loaded"], 0)
    assert [r.line_number for r in result.rejections] == sorted(expected["rejected"])
    for rejection in result.rejections:
        assert expected["rejected"][rejection.line_number] in rejection.reason
    assert parsed_one_by_one == []  # no row needed Python's row-by-row reading
    assert result.careful_rows == 0
    batch = ImportBatch.objects.get(pk=result.batch_id)
    assert (batch.status, batch.rows, batch.loaded, batch.rejected) == ("done", 3000, result.loaded, result.rejected)
    stored = ImportRejection.objects.filter(batch=batch).order_by("line_number")
    assert [(r.line_number, r.reason) for r in stored] == [(r.line_number, r.reason) for r in result.rejections]
    assert stored.get(line_number=6).raw == ",201,0206241111,from-internal"  # the row's fields, as read

    records = UsageRecord.objects.filter(organization=office)
    first = records.get(source_id=f"{int(START.timestamp())}.0")  # line 1: 201 dials 00612345678
    assert (first.line_id, first.person.name, first.direction, first.category, first.destination) == (
        office.lines_["201"].id, "Person 1", "outbound", "mobile", "+31612345678")  # fmt: skip
    assert (first.local_date, first.local_hour, first.duration_seconds, first.billable_seconds) == (
        date(2026, 10, 1), 8, 64, 60)  # fmt: skip
    inbound = records.get(source_id=f"{int((START + timedelta(minutes=21)).timestamp())}.3")
    assert (inbound.direction, inbound.line_id, inbound.category) == ("inbound", office.lines_["204"].id, "mobile")
    internal = records.filter(destination="+31207654303", category="internal")
    assert (
        internal.exists()
        and not records.filter(category="internal").exclude(destination__startswith="+31207654").exists()
    )
    assert records.filter(answered=False, billable_seconds=0).count() == records.filter(answered=False).count() > 0
    day = UsageDaily.objects.filter(organization=office, local_date=date(2026, 10, 1))
    assert sum(d.records for d in day) == records.filter(local_date=date(2026, 10, 1)).count()

    again = usage_import(path=path, source=office.slug, now=NOW)  # the same file twice: nothing new
    assert (again.loaded, again.duplicates, again.rejected) == (0, result.loaded, result.rejected)
    assert records.count() == result.loaded


def test_the_set_based_path_issues_the_same_statements_for_300_or_3000_rows_and_equals_row_by_row(office, tmp_path,
                                                                                                   monkeypatch):  # fmt: skip
    counts = []
    for rows in (300, 3000):
        path = tmp_path / f"Master-{rows}.csv"
        path.write_text(master_csv(rows)[0])
        with transaction.atomic():
            result = usage_import(path=path, source=office.slug, now=NOW)
            counts.append(result.statements)
            fast = snapshot(office, result)
            transaction.set_rollback(True)
    assert counts[0] == counts[1] < 50
    monkeypatch.setattr(importer, "FAST_PATH", False)
    with transaction.atomic():
        reference = snapshot(office, usage_import(path=path, source=office.slug, now=NOW))
        transaction.set_rollback(True)
    assert fast == reference


def fs_row(name, src, dst, start, answer, end, billsec, cause, uuid, bleg=""):
    stamp = lambda t: t.strftime("%Y-%m-%d %H:%M:%S") if t else ""  # noqa: E731
    duration = int((end - start).total_seconds())
    values = [name, src, dst, "default", stamp(start), stamp(answer), stamp(end), str(duration), str(billsec), cause,
              uuid, bleg, "", "PCMA", "PCMA"]  # fmt: skip
    return ",".join(_s(v) for v in values) + "\n"


def test_a_freeswitch_file_with_both_legs_of_every_bridged_call(office, tmp_path):
    """legs="ab": each bridged call as its a-leg (naming the b-leg) and its b-leg; the b-legs are dropped."""
    source = UsageSource.objects.create(organization=office, name="fs", slug=f"fs-{office.pk}", format="freeswitch",
                                        clock="Europe/Amsterdam", match_by="number,extension")  # fmt: skip
    rows, calls = [], 0
    local = datetime(2026, 10, 5, 9, 0)  # the switch writes local time
    for i in range(600):
        start = local + timedelta(minutes=3 * i)
        a, b = f"{i:08x}-aaaa-4aaa-8aaa-aaaaaaaaaaaa", f"{i:08x}-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
        ext = f"20{i % 5 + 1}"
        if i % 4 == 0:  # unanswered: a single a-leg, no b-leg
            rows.append(fs_row("Desk", ext, "0612345678", start, None, start + timedelta(seconds=20), 0,
                               "NO_ANSWER", a))  # fmt: skip
        else:
            answer, end = start + timedelta(seconds=5), start + timedelta(seconds=65)
            rows.append(fs_row("Desk", ext, "0206241111", start, answer, end, 60, "NORMAL_CLEARING", a, b))
            rows.append(fs_row("Desk", ext, "0206241111", start, answer, end, 60, "NORMAL_CLEARING", b))
        calls += 1
    path = tmp_path / "Master.csv"
    path.write_text("".join(rows))
    result = usage_import(path=path, source=source, now=NOW)
    assert (result.rows, result.loaded, result.rejected, result.joined_legs) == (len(rows), calls, 0, len(rows) - calls)
    assert result.careful_rows == 0
    records = UsageRecord.objects.filter(organization=office, source="freeswitch")
    assert records.count() == calls and records.filter(answered=True).count() == 450
    first = records.order_by("started_at").first()
    assert (first.started_at, first.local_hour, first.category) == (
        datetime(2026, 10, 5, 7, 0, tzinfo=UTC),
        9,
        "mobile",
    )


def test_a_failed_import_writes_nothing_and_leaves_no_staging_table(office, tmp_path, monkeypatch):
    path = tmp_path / "Master.csv"
    path.write_text(master_csv(500)[0])
    batches = ImportBatch.objects.count()

    def broken(**kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(setbased, "rollups_rebuild", broken)  # fails after the records went in
    with pytest.raises(RuntimeError, match="disk full"):
        usage_import(path=path, source=office.slug, now=NOW)
    assert ImportBatch.objects.count() == batches
    assert not UsageRecord.objects.filter(organization=office).exists()
    assert not ImportRejection.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'import\\_%%'")
        assert cursor.fetchone()[0] == 0
    path.write_text('"a","b"\n"c","d"\n')  # refused as a whole: every row is misshapen
    with pytest.raises(ImportFileError, match="no row could be read as asterisk CSV"):
        usage_import(path=path, source=office.slug, now=NOW)
    assert ImportBatch.objects.count() == batches


@pytest.mark.django_db(transaction=True)
def test_two_organizations_files_import_side_by_side(make, tmp_path):
    """While one organization's import is still open (not committed), another organization's file
    loads to the end: nothing serialises imports of different organizations."""
    offices = []
    for k in (1, 2):
        org = make.organization(name=f"Office {k}", country="NL", time_zone="Europe/Amsterdam")
        site = make.location(org)
        since = datetime(2026, 1, 1, tzinfo=UTC)
        for e in range(1, 6):
            line = make.line(org, f"+312076543{k}{e}", person=make.person(org), location=site, since=since)
            LineIdentifier.objects.create(organization=org, line=line, kind="extension", value=f"20{e}",
                                          valid_from=since)  # fmt: skip
        UsageSource.objects.create(organization=org, name="pbx", slug=f"side-{k}", format="asterisk", clock="UTC",
                                   match_by="extension")  # fmt: skip
        offices.append(org)
    path = tmp_path / "Master.csv"
    path.write_text(master_csv(2000)[0])
    first_loaded, second_done, results, failures = threading.Event(), threading.Event(), {}, []

    def first():
        try:
            with transaction.atomic():
                results[1] = usage_import(path=path, source="side-1", now=NOW)
                first_loaded.set()
                if not second_done.wait(60):  # keep this import open until the other one has finished
                    raise AssertionError("the second organization's import waited for the first")
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
            first_loaded.set()
        finally:
            connection.close()

    def second():
        try:
            first_loaded.wait(60)
            results[2] = usage_import(path=path, source="side-2", now=NOW)
            second_done.set()
        except Exception as exc:  # noqa: BLE001
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures
    assert results[1].loaded == results[2].loaded > 1500
    for org, result in zip(offices, (results[1], results[2]), strict=True):
        assert UsageRecord.objects.filter(organization=org).count() == result.loaded
        assert sum(UsageDaily.objects.filter(organization=org).values_list("records", flat=True)) == result.loaded


@pytest.mark.parametrize("set_based", [True, False])
def test_an_unreadable_header_row_is_a_clear_refusal_on_both_paths(office, tmp_path, monkeypatch, set_based):
    """A vendor export whose first line the CSV reader cannot read (a bare CR inside a field): the file
    is refused naming line 1, not a database error from inside the COPY."""
    monkeypatch.setattr(importer, "FAST_PATH", set_based)
    source = UsageSource.objects.create(organization=office, name="ucm", slug=f"ucm-{office.pk}", format="header",
                                        clock="Europe/Amsterdam")  # fmt: skip
    path = tmp_path / "export.csv"
    path.write_bytes(
        b"Call\rTime,From\n"
        b"Call Time,Call From,Call To,Call Duration,Talk Duration,Status\n"
        b"2026/10/06 09:15:00,201,0612345678,00:02:10,00:02:00,ANSWERED\n"
    )
    with pytest.raises(ImportFileError, match="line 1: the header row cannot be read"):
        usage_import(path=path, source=source, now=NOW)
    assert not ImportBatch.objects.filter(source=source).exists()
