"""Usage that arrives after its period's statement was issued is billed on the next statement, under
"usage from earlier periods", rated under its own period's plan after what that statement charged."""

from datetime import UTC, date, datetime
from decimal import Decimal as D
from io import StringIO

from billing.ingest.batches import import_batch_late_records
from billing.ingest.importer import usage_import
from billing.models import Statement, UsageDaily, UsageRecord
from billing.periods import billing_period
from billing.statements.services import statement_issue

OCT_ISSUE = datetime(2026, 11, 3, 8, tzinfo=UTC)
NOV_ISSUE = datetime(2026, 12, 3, 8, tzinfo=UTC)

LATE_FILE = (
    "record_id,line,started_at,usage_type,direction,other_party,duration_seconds\n"
    # Anna's October allowance (10 national/local minutes) is used up: 3 minutes at 0.10 = 0.30.
    "late-1,+493011112222,2026-10-21T10:00:00+02:00,voice,outbound,+498912345678,180\n"
    # Ben's allowance, prorated to 16 of 31 days, is 10 * 16/31 = 5.161290 minutes, 2 of them used in
    # October: 4 minutes, 3.161290 covered, 0.838710 paid at 0.10 = 0.083871.
    "late-2,+493011113333,2026-10-25T10:00:00+01:00,voice,outbound,+498912345678,240\n"
    # November usage arriving in the same file is simply November's.
    "nov-1,+493011112222,2026-11-10T10:00:00+01:00,voice,outbound,+498912345678,60\n"
)


def _import(tmp_path, text, name="late.csv"):
    path = tmp_path / name
    path.write_text(text)
    return usage_import(path=path, format="native")


def test_late_usage_goes_on_the_next_statement_in_its_own_section(billed_org, tmp_path):
    october = statement_issue(organization=billed_org, period=billing_period(billed_org, 2026, 10), now=OCT_ISSUE)
    october_total = october.total
    result = _import(tmp_path, LATE_FILE)
    assert result.loaded == 3
    assert import_batch_late_records(batch_id=result.batch_id) == 2

    november = statement_issue(organization=billed_org, period=billing_period(billed_org, 2026, 11), now=NOV_ISSUE)
    late_lines = list(november.lines.filter(usage_period_start__isnull=False))
    assert [(x.usage_period_start, x.usage_period_end, x.quantity, x.exact_amount, x.amount) for x in late_lines] == [
        (date(2026, 10, 1), date(2026, 10, 31), D("3.839"), D("0.383871"), D("0.38"))
    ]
    assert late_lines[0].description.endswith("Calls: National — 2 records")
    assert "10/01/2026" in late_lines[0].description and "10/31/2026" in late_lines[0].description
    # November's own usage: two national minutes, both inside November's fresh allowance.
    own = november.lines.filter(kind="usage", usage_period_start__isnull=True)
    assert [(x.description, x.amount) for x in own] == [("Calls: National — 2 records", D("0.00"))]
    assert november.usage_total == D("0.38")
    assert november.total == sum(x.amount for x in november.lines.all()) + november.tax_amount

    # October's statement did not change; every record is charged exactly once.
    october.refresh_from_db()
    assert october.total == october_total
    billed = dict(UsageRecord.objects.filter(organization=billed_org).values_list("source_id", "billed_on_id"))
    assert billed["late-1"] == billed["late-2"] == billed["nov-1"] == november.pk
    assert set(billed.values()) == {october.pk, november.pk}
    costs = dict(UsageRecord.objects.filter(source_id__startswith="late").values_list("source_id", "cost"))
    assert costs == {"late-1": D("0.300000"), "late-2": D("0.083871")}
    # The daily rollup carries the late records' cost on their own days.
    assert UsageDaily.objects.filter(organization=billed_org, local_date=date(2026, 10, 21)).get().cost == D("0.3")
    # Nothing is left unbilled, and a second run changes nothing.
    assert import_batch_late_records(batch_id=result.batch_id) == 0
    again = statement_issue(organization=billed_org, period=billing_period(billed_org, 2026, 11), now=NOV_ISSUE)
    assert again.pk == november.pk and again.lines.count() == november.lines.count()


def test_usage_before_the_first_statement_is_not_late(billed_org, tmp_path):
    """Billing started in October: a September call is not 'late usage' of a statement that never was."""
    statement_issue(organization=billed_org, period=billing_period(billed_org, 2026, 10), now=OCT_ISSUE)
    result = _import(
        tmp_path,
        "record_id,line,started_at,usage_type,other_party,duration_seconds\n"
        "sep-1,+493011112222,2026-09-21T10:00:00+02:00,voice,+498912345678,180\n",
    )
    assert result.loaded == 1 and import_batch_late_records(batch_id=result.batch_id) == 0
    november = statement_issue(organization=billed_org, period=billing_period(billed_org, 2026, 11), now=NOV_ISSUE)
    assert not november.lines.filter(usage_period_start__isnull=False).exists()
    assert Statement.objects.filter(organization=billed_org).count() == 2


def test_the_statement_pdf_and_page_show_the_earlier_period_section(billed_org, tmp_path, settings, make, client):
    from pypdf import PdfReader

    from billing.statements.pdf import statement_render

    settings.MEDIA_ROOT = tmp_path
    billed_org.locale = "de-DE"
    billed_org.save()
    statement_issue(organization=billed_org, period=billing_period(billed_org, 2026, 10), now=OCT_ISSUE)
    _import(tmp_path, LATE_FILE)
    november = statement_issue(organization=billed_org, period=billing_period(billed_org, 2026, 11), now=NOV_ISSUE)
    text = "\n".join(page.extract_text() for page in PdfReader(statement_render(statement=november)).pages)
    assert "Nutzung aus früheren Abrechnungszeiträumen" in text
    assert "01.10.2026–31.10.2026: Anrufe: National" in text.replace("\n", " ")

    user = make.user("late-admin")
    make.membership(user, billed_org, role="admin")
    client.force_login(user)
    page = client.get(f"/statements/{november.pk}/").content.decode()
    assert page.count("Nutzung aus früheren Abrechnungszeiträumen") == 1  # the page is in German too


def test_a_wrong_import_is_voided_and_the_corrected_file_loads(billed_org, tmp_path, make):
    from django.core.management import CommandError, call_command

    from billing.models import AuditLog, ImportBatch

    statement_issue(organization=billed_org, period=billing_period(billed_org, 2026, 10), now=OCT_ISSUE)
    staff = make.user("ops", is_staff=True)
    # Read in the wrong zone: the PBX wrote UTC, the file says +05:00, so every call is five hours off.
    wrong = _import(tmp_path, LATE_FILE.replace("+02:00", "+05:00").replace("+01:00", "+05:00"), "wrong.csv")
    assert wrong.loaded == 3
    before = UsageDaily.objects.filter(organization=billed_org).count()

    with_reason = None
    try:
        call_command("void_import", str(wrong.batch_id), "--reason", "")
    except CommandError as exc:
        with_reason = str(exc)
    assert with_reason and "say why" in with_reason
    call_command("void_import", str(wrong.batch_id), "--reason", "PBX clock is UTC", "--by", "ops")
    batch = ImportBatch.objects.get(pk=wrong.batch_id)
    assert (batch.status, batch.voided_by, batch.void_reason, batch.voided_records) == (
        "voided",
        staff,
        "PBX clock is UTC",
        3,
    )
    assert not UsageRecord.objects.filter(import_batch_id=wrong.batch_id).exists()
    assert UsageDaily.objects.filter(organization=billed_org).count() <= before
    assert not UsageDaily.objects.filter(organization=billed_org, local_date=date(2026, 11, 10)).exists()
    audit = AuditLog.objects.get(action="import.voided")
    assert (audit.organization, audit.user, audit.details["records"]) == (billed_org, staff, 3)
    try:
        call_command("void_import", str(wrong.batch_id), "--reason", "again")
    except CommandError as exc:
        assert "already voided" in str(exc)
    else:
        raise AssertionError("a second void must be refused")

    # The corrected file (same record ids) loads in full: the voided records count nowhere.
    right = _import(tmp_path, LATE_FILE, "right.csv")
    assert (right.loaded, right.duplicates) == (3, 0)
    november = statement_issue(organization=billed_org, period=billing_period(billed_org, 2026, 11), now=NOV_ISSUE)
    assert november.usage_total == D("0.38")

    # Usage on an issued statement is never voided: that correction is an adjustment.
    try:
        call_command("void_import", str(right.batch_id), "--reason", "too late")
    except CommandError as exc:
        assert november.number in str(exc) and "adjustment" in str(exc)
    else:
        raise AssertionError("voiding billed usage must be refused")
    assert UsageRecord.objects.filter(import_batch_id=right.batch_id).count() == 3


def test_the_import_summary_says_how_many_records_were_late(billed_org, tmp_path):
    from django.core.management import call_command

    statement_issue(organization=billed_org, period=billing_period(billed_org, 2026, 10), now=OCT_ISSUE)
    path = tmp_path / "late.csv"
    path.write_text(LATE_FILE)
    out = StringIO()
    call_command("import_usage", str(path), "--format", "native", stdout=out)
    assert "3 loaded" in out.getvalue()
    assert "late: 2 records are from periods already billed" in out.getvalue()


def test_staff_void_an_import_in_the_admin_with_a_reason(billed_org, tmp_path, admin_client):
    from billing.models import ImportBatch

    batch = _import(tmp_path, LATE_FILE).batch_id
    url = "/admin/billing/importbatch/"
    asked = admin_client.post(url, {"action": "void_imports", "_selected_action": [batch]})
    assert asked.status_code == 200 and "Void these imports" in asked.content.decode()
    assert ImportBatch.objects.get(pk=batch).status == "done"  # nothing happens before the reason is given
    done = admin_client.post(
        url,
        {"action": "void_imports", "_selected_action": [batch], "apply": "1", "reason": "wrong source"},
        follow=True,
    )
    assert "records removed" in done.content.decode()
    voided = ImportBatch.objects.get(pk=batch)
    assert (voided.status, voided.void_reason, voided.voided_by.username) == ("voided", "wrong source", "admin")
    assert admin_client.get(f"{url}{batch}/change/").status_code == 200
