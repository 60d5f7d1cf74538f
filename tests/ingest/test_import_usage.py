from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from billing.ingest.importer import ImportFileError, usage_import
from billing.models import ImportBatch, ImportRejection, UsageRecord
from billing.tasks import import_dropped_files, import_usage_file
from tests.ingest.conftest import DATA


def records(org):
    return UsageRecord.objects.filter(organization=org).order_by("started_at")


def test_asterisk_master_csv(pbx):
    result = usage_import(path=DATA / "asterisk_master.csv", format="asterisk")
    assert (result.rows, result.loaded, result.duplicates, result.rejected) == (18, 10, 0, 8)
    assert [(r.line_number, r.reason) for r in result.rejections] == [
        (9, "unknown line: neither src '+494011122233' nor dst '+494033344455' is a line of any organization"),
        (10, "duration is negative (-65)"),
        (11, "billsec (90) is longer than duration (65)"),
        (12, "start '2026-13-01 10:00:00' is not a date and time (YYYY-MM-DD HH:MM:SS)"),
        (13, "expected 16 to 21 columns (Asterisk cdr_csv), found 12"),
        (15, "start 2030-01-01 09:00 UTC is in the future"),
        (16, "line +493012345603 was not active on 2026-10-10"),
        (18, "expected 16 to 21 columns (Asterisk cdr_csv), found 3"),
    ]
    by_id = {r.source_id: r for r in records(pbx)}
    local = by_id["1759647600.1"]
    assert (local.direction, local.category, local.duration_seconds, local.billable_seconds) == (
        "outbound",
        "local",
        305,
        300,
    )
    assert local.started_at == datetime(2026, 10, 5, 7, 0, tzinfo=UTC)  # 09:00 CEST
    assert local.destination == "+493099887766" and local.destination_masked == "+49 30 •••••• 66"
    unanswered = by_id["1759648200.2"]
    assert (unanswered.answered, unanswered.billable_seconds, unanswered.category) == (False, 0, "mobile")
    inbound = by_id["1759761000.4"]
    assert (inbound.direction, inbound.country, inbound.line.number) == ("inbound", "US", "+493012345602")
    assert by_id["1759831200.6"].category == "internal"
    assert by_id["1759904100.8"].category == "toll_free"
    # 02:30 on 25 Oct happens twice in Berlin; the first (summer time) is taken: 00:30 UTC.
    assert by_id["1761352200.7"].started_at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    # The 16-column row has no uniqueid: a stable hash of the row is its id; national src format matched.
    long_call = records(pbx).get(duration_seconds=3700)
    assert len(long_call.source_id) == 32 and long_call.duration_band == 4
    # Stamped as at the time of use: Ben before the move, Cem after.
    assert long_call.person == pbx.people["ben"] and by_id["1761030000.16"].person == pbx.people["cem"]
    batch = ImportBatch.objects.get(pk=result.batch_id)
    assert (batch.status, batch.loaded, batch.rejected) == ("done", 10, 8)
    assert "+494011122233" in ImportRejection.objects.get(batch=batch, line_number=9).raw  # the raw row is kept
    # A Latin-1 byte in the caller name (clid), and no UTF-8 anywhere: the file is read as Windows-1252.
    assert batch.warnings == ["encoding: read as Windows-1252 / Latin-1 (the file is not UTF-8)"]
    assert records(pbx).filter(started_at=datetime(2026, 10, 8, 8, 30, tzinfo=UTC)).count() == 1


def test_reimport_is_a_no_op_and_rollups_equal_records(pbx):
    usage_import(path=DATA / "asterisk_master.csv", format="asterisk")
    again = usage_import(path=DATA / "asterisk_master.csv", format="asterisk")
    assert (again.loaded, again.duplicates, again.rejected) == (0, 10, 8)
    assert records(pbx).count() == 10
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), sum(duration_seconds), sum(billable_seconds) FROM billing_usagerecord WHERE organization_id = %s",
            [pbx.id],
        )
        raw = cursor.fetchone()
        cursor.execute(
            "SELECT sum(records), sum(duration_seconds), sum(billable_seconds) FROM billing_usagedaily WHERE organization_id = %s",
            [pbx.id],
        )
        rolled = cursor.fetchone()
        cursor.execute(
            "SELECT sum(records), sum(duration_seconds), sum(billable_seconds) FROM billing_usagemonthly "
            "WHERE organization_id = %s",
            [pbx.id],
        )
        assert cursor.fetchone() == rolled
    assert (
        raw
        == rolled
        == (10, 305 + 25 + 3700 + 120 + 10 + 60 + 183 + 45 + 184 + 65, 300 + 3690 + 115 + 58 + 180 + 40 + 180 + 60)
    )


def test_freeswitch_csv(pbx):
    result = usage_import(path=DATA / "freeswitch.csv", format="freeswitch")
    assert (result.rows, result.loaded, result.rejected) == (5, 4, 1)
    assert (
        result.rejections[0].line_number == 5
        and "expected 15, 17, 18 or 20 columns (FreeSWITCH templates), found 14" in result.rejections[0].reason
    )
    by_id = {r.source_id[-3:]: r for r in records(pbx)}
    assert (by_id["001"].billable_seconds, by_id["001"].category) == (120, "local")
    assert (by_id["002"].answered, by_id["002"].billable_seconds, by_id["002"].zone) == (False, 0, "EU")
    assert (by_id["003"].direction, by_id["003"].line.number, by_id["003"].billable_seconds) == (
        "inbound",
        "+493012345601",
        600,
    )
    assert by_id["004"].category == "mobile"


def test_native_csv_with_sms_and_data(pbx):
    result = usage_import(path=DATA / "native.csv", format="native")
    assert (result.rows, result.loaded, result.rejected) == (6, 3, 3)
    assert [(r.line_number, r.reason) for r in result.rejections] == [
        (5, "started_at has no time zone (add an offset such as +01:00 or Z)"),
        (6, "usage_type 'fax' is not voice, sms or data"),
        (7, "direction 'sideways' is not outbound or inbound"),
    ]
    kinds = {r.usage_type: r for r in records(pbx)}
    assert kinds["voice"].country == "GB" and kinds["voice"].started_at == datetime(2026, 10, 7, 7, tzinfo=UTC)
    assert kinds["sms"].category == "mobile" and kinds["sms"].duration_seconds == 0
    assert kinds["data"].data_bytes == 52428800 and kinds["data"].person == pbx.people["ben"]


def test_timezone_option_overrides_the_organization_zone(pbx):
    usage_import(path=DATA / "freeswitch.csv", format="freeswitch", timezone_name="UTC")
    first = records(pbx).first()
    assert first.started_at == datetime(2026, 10, 6, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no such file"),
        (b"", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a text file"),
        (
            b"just,some,words\nand,more,words\n",
            "no row could be read as asterisk CSV (line 1: expected 16 to 21 columns (Asterisk cdr_csv), found 3)",
        ),
    ],
)
def test_unreadable_files_change_nothing(pbx, tmp_path, content, message):
    path = tmp_path / "cdr.csv"
    if content is not None:
        path.write_bytes(content)
    batches = ImportBatch.objects.count()
    with pytest.raises(ImportFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        usage_import(path=path, format="asterisk")
    assert ImportBatch.objects.count() == batches and not records(pbx).exists()


def test_native_without_its_header_is_unreadable(pbx, tmp_path):
    path = tmp_path / "native.csv"
    path.write_text("n-1,+493012345601,2026-10-07T09:00:00+02:00,voice\n")
    with pytest.raises(ImportFileError, match="lacks the column"):
        usage_import(path=path, format="native")


def test_huge_fields_are_rejected_not_loaded(pbx, tmp_path):
    path = tmp_path / "native.csv"
    path.write_text(
        "record_id,line,started_at,usage_type,other_party\n"
        f"n-1,+493012345601,2026-10-07T09:00:00+02:00,voice,{'9' * 5000}\n"
        "n-2,+493012345601,2026-10-07T09:00:00+02:00,sms,+491701234567\n"
    )
    result = usage_import(path=path, format="native")
    assert (result.loaded, result.rejected) == (1, 1)
    assert result.rejections[0].reason == "column 5 is 5000 characters long (at most 1000)"


def test_command_prints_a_summary_and_rejections(pbx):
    out = StringIO()
    call_command(
        "import_usage", str(DATA / "asterisk_master.csv"), "--format", "asterisk", "--show-rejections", "2", stdout=out
    )
    text = out.getvalue()
    assert "18 rows, 10 loaded, 0 duplicates, 8 rejected" in text
    assert "  line 9: unknown line" in text and "  line 10: duration is negative (-65)" in text
    assert "… and 6 more" in text
    assert "  warning: encoding: read as Windows-1252 / Latin-1" in text
    with pytest.raises(CommandError, match="nothing imported: .*no such file"):
        call_command("import_usage", "/nonexistent.csv", "--format", "asterisk")


def test_celery_tasks_import_and_sweep_the_drop_folder(pbx, settings, tmp_path):
    assert import_usage_file.apply(args=[str(DATA / "freeswitch.csv"), "freeswitch"]).get()["loaded"] == 4
    settings.USAGE_DROP_DIR = tmp_path
    (tmp_path / "native").mkdir()
    (tmp_path / "native" / "today.csv").write_bytes((DATA / "native.csv").read_bytes())
    (tmp_path / "asterisk").mkdir()
    (tmp_path / "asterisk" / "broken.csv").write_bytes(b"")
    assert import_dropped_files.apply().get() == 2
    assert (tmp_path / "processed" / "today.csv").exists() and (tmp_path / "failed" / "broken.csv").exists()
    assert "empty" in (tmp_path / "failed" / "broken.csv.error.txt").read_text()
    assert records(pbx).count() == 7
