"""Dashboard, usage explorer, drill-down, saved views and exports: pages per role, isolation, exports."""

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from portal.models import AuditLog, ExportJob, SavedView
from portal.tasks import export_usage_records
from tests import factories
from tests.web.usage_pages_data import Call, firm, sign_in_as, write_calls


@pytest.fixture
def acme(db):
    return firm("Acme")


@pytest.fixture
def other(db):
    return firm("Rival", numbers="2222")


def results(response) -> str:
    """The explorer's result table or the drill-down's calls (not the filter choices above them)."""
    page = response.content.decode()
    for marker in ('id="result-h"', 'id="calls-h"'):
        if marker in page:
            return page.split(marker, 1)[1].split('class="explorer-side"', 1)[0]
    return ""


def csv_rows(response):
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


# --- Dashboard -------------------------------------------------------------------------------------


def test_dashboard_for_an_analyst(client, acme):
    sign_in_as(client, acme.org, "analyst")
    page = client.get("/").content.decode()
    assert "Usage charges so far" in page and "€15.00" in page
    assert "Acme Berlin" in page and "Anna Acme" in page and "Acme Munich" in page
    assert "1:06:40" in page  # the call over 60 minutes
    assert "+4930123456" not in page and "•" in page  # masked for analysts
    assert "No statement issued yet" in page
    assert 'class="chart"' in page and "Usage cost per month" in page


def test_dashboard_of_a_location_manager_and_a_member(client, acme):
    sign_in_as(client, acme.org, "location_manager", locations=[acme.munich])
    page = client.get("/").content.decode()
    assert "Acme Munich" in page and "€2.10" in page
    assert "Acme Berlin" not in page and "Anna Acme" not in page and "€15.00" not in page
    assert "Last statement" not in page  # billing-only
    client.logout()
    sign_in_as(client, acme.org, "member", person=acme.anna)
    page = client.get("/").content.decode()
    assert "€12.90" in page and "Ben Acme" not in page and "Acme Munich" not in page


def test_dashboard_shows_the_last_statement_with_its_pdf(client, billed_org):
    statement = factories.issued_statement(billed_org)
    sign_in_as(client, billed_org, "analyst")
    page = client.get("/").content.decode()
    assert statement.number in page and f"/statements/{statement.id}/pdf" in page


# --- Explorer --------------------------------------------------------------------------------------


def test_explorer_by_location_person_and_band(client, acme):
    sign_in_as(client, acme.org, "analyst")
    page = client.get("/usage/", {"dim": "location"}).content.decode()
    assert "Acme Berlin" in page and "Acme Munich" in page and "€15.00" in page
    assert f"location={acme.berlin.id}" in page  # drill-down link of the group
    page = results(client.get("/usage/", {"dim": "person", "location": acme.berlin.id}))
    assert "Anna Acme" in page and "Ben Acme" not in page
    page = client.get("/usage/", {"dim": ["duration_band", "location"]}).content.decode()
    assert "Over 60 min" in page and "1–5 min" in page


def test_explorer_compares_with_the_previous_period(client, acme):
    write_calls(acme.org, [Call(acme.ben_line, 60, "1.00", day_offset=5)])
    sign_in_as(client, acme.org, "analyst")
    today = __import__("portal.web.usage_forms", fromlist=["today_for"]).today_for(acme.org)
    start = today.fromordinal(today.toordinal() - 3)
    page = client.get("/usage/", {"dim": "location", "start": start, "end": today}).content.decode()
    # Munich: 2.10 now against 1.00 in the 4 days before: +1.10, +110.0 %
    assert "+€1.10" in page and "+110.0 %" in page


def test_explorer_top_n_has_all_others(client, acme):
    sign_in_as(client, acme.org, "analyst")
    page = client.get("/usage/", {"dim": "location", "top": 10}).content.decode()
    assert "All others" not in page
    factories_locations = [factories.location(acme.org, name=f"Branch {i}") for i in range(12)]
    lines = [factories.line(acme.org, person=acme.ben, location=loc) for loc in factories_locations]
    write_calls(acme.org, [Call(line, 60, "0.05") for line in lines])
    page = client.get("/usage/", {"dim": "location", "top": 10}).content.decode()
    assert "All others" in page


@pytest.mark.parametrize(
    "params, message",
    [
        ({"dim": "planet"}, "Select a valid choice"),
        ({"start": "2026-05-01", "end": "2026-04-01"}, "ends (2026-04-01) before it starts"),
        ({"start": "2020-01-01", "end": "2026-01-01"}, "longer than 732 days"),
        ({"start": "not-a-date", "end": "2026-01-01"}, "Enter a valid date"),
        ({"dim": ["location", "person", "line", "hour", "category", "direction"]}, "at most 5"),
        ({"min_minutes": 10, "max_minutes": 5}, "shorter than the shortest"),
        ({"top": 7}, "Select a valid choice"),
    ],
)
def test_bad_explorer_urls_are_form_errors(client, acme, params, message):
    sign_in_as(client, acme.org, "analyst")
    response = client.get("/usage/", params)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "€15.00" not in response.content.decode()


def test_bad_cursor_is_a_form_error(client, acme):
    sign_in_as(client, acme.org, "analyst")
    response = client.get("/usage/records/", {"after": "bm9wZQ=="})
    assert response.status_code == 200 and "not a cursor" in response.content.decode()


def test_location_manager_sees_only_their_locations(client, acme):
    sign_in_as(client, acme.org, "location_manager", locations=[acme.berlin])
    page = client.get("/usage/", {"dim": "location"}).content.decode()
    assert "Acme Berlin" in page and "Acme Munich" not in page
    # Another location's id in the URL: not a choice, no numbers of it.
    response = client.get("/usage/", {"dim": "person", "location": acme.munich.id})
    page = response.content.decode()
    assert response.status_code == 200 and "Select a valid choice" in page and "Ben Acme" not in page
    page = client.get("/usage/records/", {"location": acme.munich.id}).content.decode()
    assert "+498911110002" not in page and "Select a valid choice" in page
    page = client.get("/usage/records/", {}).content.decode()
    assert "+493011110001" in page and "+498911110002" not in page


def test_member_sees_only_their_own_lines(client, acme):
    sign_in_as(client, acme.org, "member", person=acme.ben)
    page = client.get("/usage/", {"dim": "line"}).content.decode()
    assert "+498911110002" in page and "+493011110001" not in page
    page = client.get("/usage/records/", {"person": acme.anna.id}).content.decode()
    assert "+493011110001" not in page


def test_another_organizations_ids_lead_nowhere(client, acme, other):
    sign_in_as(client, acme.org, "analyst")
    for params in ({"location": other.berlin.id}, {"person": other.anna.id}, {"line": other.anna_line.id}):
        for url in ("/usage/", "/usage/records/"):
            page = client.get(url, {"dim": "location", **params}).content.decode()
            assert "Rival" not in page and "Select a valid choice" in page
        response = client.get("/usage/records/export/", {**params, "format": "csv"})
        assert response.status_code == 400 and "Rival" not in response.content.decode()


def test_explorer_and_drill_down_queries_do_not_grow_with_page_size(client, acme):
    branches = [factories.location(acme.org, name=f"Branch {i}") for i in range(30)]
    people = [factories.person(acme.org, name=f"Worker {i}") for i in range(30)]
    lines = [factories.line(acme.org, person=p, location=b) for p, b in zip(people, branches, strict=True)]
    write_calls(acme.org, [Call(line, 60 + i, "0.10") for i, line in enumerate(lines * 4)])
    sign_in_as(client, acme.org, "analyst")
    counts = {}
    for top in (10, 100):
        with CaptureQueriesContext(connection) as ctx:
            page = client.get("/usage/", {"dim": ["location", "person"], "top": top}).content.decode()
        counts[top] = len(ctx.captured_queries)
    assert "Branch 29" in page
    assert counts[10] == counts[100]
    for size in (25, 100):
        with CaptureQueriesContext(connection) as ctx:
            page = client.get("/usage/records/", {"size": size}).content.decode()
        counts[size] = len(ctx.captured_queries)
    assert page.count("<tr>") > 100
    assert counts[25] == counts[100]


def test_drill_down_masks_numbers_and_pages_back_and_forth(client, acme):
    write_calls(acme.org, [Call(acme.anna_line, 30 + i, "0.01") for i in range(30)])
    sign_in_as(client, acme.org, "analyst")
    response = client.get("/usage/records/", {"location": acme.berlin.id, "size": 25, "by": "duration"})
    page = response.content.decode()
    assert "+33 1 •••••• 00" in page or "•" in page
    assert "+33142685300" not in page and "1:06:40" in page
    assert response.context["page"].next_query and not response.context["page"].previous_query
    second = client.get("/usage/records/?" + response.context["page"].next_query)
    assert len(second.context["page"].records) == 7 and second.context["page"].previous_query
    back = client.get("/usage/records/?" + second.context["page"].previous_query)
    assert [r.id for r in back.context["page"].records] == [r.id for r in response.context["page"].records]
    # Administrators see full numbers.
    client.logout()
    sign_in_as(client, acme.org, "admin")
    page = client.get("/usage/records/", {"location": acme.berlin.id, "size": 100}).content.decode()
    assert "+33142685300" in page


# --- Saved views -----------------------------------------------------------------------------------


def test_saved_views_are_per_user_and_organization(client, acme):
    user = sign_in_as(client, acme.org, "analyst")
    response = client.post(
        "/usage/views/", {"name": "Berlin by person", "query": f"dim=person&location={acme.berlin.id}"}
    )
    assert response.status_code == 302 and "dim=person" in response.url
    view = SavedView.objects.get(user=user, organization=acme.org)
    page = client.get("/usage/").content.decode()
    assert "Berlin by person" in page and f"?dim=person&amp;location={acme.berlin.id}" in page
    client.logout()
    sign_in_as(client, acme.org, "analyst")
    assert "Berlin by person" not in client.get("/usage/").content.decode()
    assert client.post(f"/usage/views/{view.id}/delete").status_code == 404
    client.logout()
    client.force_login(user)
    assert client.post(f"/usage/views/{view.id}/delete").status_code == 302
    assert not SavedView.objects.exists()


# --- Exports ---------------------------------------------------------------------------------------


def csv_table(response, delimiter=","):
    """A CSV download read back: its header block (what, value) and its table (header row first)."""
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte-order mark, so Excel reads umlauts right
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=delimiter))
    blank = lines.index([])
    return dict(lines[:blank]), lines[blank + 1 :]


def xlsx_table(response):
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    blank = next(i for i, r in enumerate(rows) if all(v is None for v in r))
    return {r[0]: r[1] for r in rows[:blank]}, rows[blank + 1 :]


def test_csv_exports_guard_only_formula_starts_and_are_audited(client, acme):
    evil = factories.person(acme.org, name='=HYPERLINK("http://x")')
    line = factories.line(acme.org, person=evil, location=acme.berlin)
    write_calls(acme.org, [Call(line, 90, "1.00")])
    sign_in_as(client, acme.org, "analyst")
    about, rows = csv_table(client.get("/usage/export/", {"dim": "person", "format": "csv"}))
    assert about["Organization"].startswith("Acme") and about["Filters"] == "none"
    assert rows[0][0] == "Person" and rows[-1][0] == "Total"
    names = [r[0] for r in rows[1:]]
    assert '\'=HYPERLINK("http://x")' in names and '=HYPERLINK("http://x")' not in names
    assert "Anna Acme" in names  # nothing else is touched
    change = rows[0].index("Change: Cost")
    assert any(r[change].startswith("-") for r in rows[1:]) or all(r[change] for r in rows[1:])  # numbers bare
    about, rows = csv_table(client.get("/usage/records/export/", {"person": evil.id, "format": "csv"}))
    assert f"People: {evil.name}" in about["Filters"]
    assert len(rows) == 2 and rows[1][2] == '\'=HYPERLINK("http://x")'
    assert rows[1][7].startswith("'+") and "•" in rows[1][7]  # other party masked, and guarded: it starts with +
    actions = set(AuditLog.objects.filter(organization=acme.org).values_list("action", flat=True))
    assert {"export.usage_summary", "export.usage_records"} <= actions


def test_exports_read_back_as_typed_values(client, db, monkeypatch):
    """A German customer: headers in German, a phone number and "Köln" as text, numbers, dates and
    durations typed; CSV with BOM and its semicolon / decimal-comma variant."""
    monkeypatch.setattr("django.utils.timezone.now", lambda: datetime(2026, 11, 20, 9, tzinfo=UTC))
    org = factories.organization(name="Rheinland AG", locale="de-DE", billing_day=1, currency="EUR")
    koeln = factories.location(org, name="Köln")
    person = factories.person(org, name="Jürgen Weiß")
    line = factories.line(org, "+16177098147", person=person, location=koeln)
    write_calls(org, [Call(line, 3725, "1.234567", dest="+4922112345"), Call(line, 59, "0.105")])
    sign_in_as(client, org, "admin")

    about, rows = xlsx_table(client.get("/usage/records/export/", {"format": "xlsx"}))
    assert set(about) == {"Organisation", "Zeitraum", "Filter", "Erstellt am"}
    header, first = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert header[:4] == ("Beginn (Ortszeit)", "Anschluss", "Person", "Standort")
    longest = max(rows[1:], key=lambda r: r[header.index("Dauer (Minuten)")])
    record = dict(zip(header, longest, strict=True))
    assert record["Anschluss"] == "+16177098147" and record["Standort"] == "Köln"
    assert record["Dauer (h:mm:ss)"] == timedelta(hours=1, minutes=2, seconds=5)
    assert record["Dauer (Minuten)"] == pytest.approx(62.08)
    assert record["Kosten (EUR)"] == pytest.approx(1.23)
    assert record["Bewertete Kosten (EUR, 6 Nachkommastellen)"] == pytest.approx(1.234567)
    assert isinstance(first["Beginn (Ortszeit)"], datetime)
    assert record["Gegenstelle"] == "+4922112345"  # an administrator sees full numbers; a text cell

    response = client.get("/usage/records/export/", {"format": "csv", "csv": "semicolon"})
    about, rows = csv_table(response, delimiter=";")
    record = dict(zip(rows[0], max(rows[1:], key=lambda r: r[rows[0].index("Dauer (h:mm:ss)")]), strict=True))
    assert record["Standort"] == "Köln" and record["Dauer (h:mm:ss)"] == "1:02:05"
    assert record["Dauer (Minuten)"] == "62,08" and record["Kosten (EUR)"] == "1,23"
    assert record["Anschluss"] == "'+16177098147"  # CSV: a text starting with + is guarded (README)

    about, rows = xlsx_table(client.get("/usage/export/", {"dim": "location", "format": "xlsx"}))
    # 1–20 November so far, against 1–20 October.
    assert about["Verglichen mit"] == "2026-10-01 – 2026-10-20 (dieselben Tage des vorigen Abrechnungszeitraums)"
    header = rows[0]
    koeln_row = dict(zip(header, rows[1], strict=True))
    assert koeln_row["Standort"] == "Köln" and koeln_row["Anrufe"] == 2
    assert koeln_row["Längster Anruf (h:mm:ss)"] == timedelta(hours=1, minutes=2, seconds=5)
    assert koeln_row["Kosten (EUR)"] == pytest.approx(1.34)
    assert rows[-1][0] == "Gesamt"  # the German "Total", as the pivot's


def test_xlsx_export_is_readable(client, acme):
    sign_in_as(client, acme.org, "analyst")
    response = client.get("/usage/export/", {"dim": "location", "format": "xlsx"})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    about, rows = xlsx_table(response)
    assert rows[0][0] == "Location" and rows[1][0] == "Acme Berlin" and rows[-1][0] == "Total"
    assert rows[-1][rows[0].index("Cost (EUR)")] == pytest.approx(15.0)
    assert rows[-1][rows[0].index("Calls")] == 3


def test_large_drill_down_export_runs_in_celery(client, acme, settings, tmp_path, django_capture_on_commit_callbacks):
    settings.PORTAL_EXPORT_SYNC_MAX_RECORDS = 2
    settings.MEDIA_ROOT = tmp_path
    sign_in_as(client, acme.org, "analyst")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.get("/usage/records/export/", {"period": "this_period", "format": "xlsx"})
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response.url == f"/exports/{job.id}/"
    assert len(callbacks) == 1 and job.rows_total == 3 and job.params["start"] <= job.params["end"]
    status = client.get(f"/exports/{job.id}/status").json()
    assert status["status"] == "pending" and status["download_url"] is None
    page = client.get(f"/exports/{job.id}/").content.decode()
    assert "<progress" in page and 'http-equiv="refresh"' in page
    assert client.get(f"/exports/{job.id}/download").status_code == 404

    export_usage_records(job.id)
    job.refresh_from_db()
    assert job.status == "ready" and job.rows_done == 3 and job.progress == 100
    path = Path(tmp_path) / "exports" / job.file
    sheet = load_workbook(path).active
    assert len(list(sheet.iter_rows(values_only=True))) == 4 + 5  # the header block, a blank row, the table
    first_bytes = path.read_bytes()
    export_usage_records(job.id)  # idempotent: a ready job is left alone
    assert path.read_bytes() == first_bytes
    status = client.get(f"/exports/{job.id}/status").json()
    assert status == {**status, "status": "ready", "progress": 100, "download_url": f"/exports/{job.id}/download"}
    download = client.get(f"/exports/{job.id}/download")
    assert download.status_code == 200 and b"".join(download.streaming_content) == first_bytes
    assert AuditLog.objects.filter(action="export.download").count() == 1
    assert AuditLog.objects.filter(action="export.usage_records_queued").count() == 1

    # Another user of the organization, or of another organization: not found.
    client.logout()
    sign_in_as(client, acme.org, "analyst")
    for url in (f"/exports/{job.id}/", f"/exports/{job.id}/status", f"/exports/{job.id}/download"):
        assert client.get(url).status_code == 404


def test_export_task_rebuilds_the_scope_from_the_membership(client, acme, settings, tmp_path):
    settings.PORTAL_EXPORT_SYNC_MAX_RECORDS = 0
    settings.MEDIA_ROOT = tmp_path
    sign_in_as(client, acme.org, "location_manager", locations=[acme.munich])
    client.get("/usage/records/export/", {"format": "csv"})
    job = ExportJob.objects.get()
    export_usage_records(job.id)
    job.refresh_from_db()
    text = (Path(tmp_path) / "exports" / job.file).read_text()
    assert "+498911110002" in text and "+493011110001" not in text


@pytest.mark.parametrize(
    "locale, words",
    [
        ("de-DE", ["Verbrauchsanalyse", "Gruppieren nach", "verglichen mit", "Kosten nach Standort", "Anrufe"]),
        ("fr-FR", ["Explorateur de consommation", "Regrouper par", "comparé", "Coût par Site", "Appels"]),
        ("nl-NL", ["Verbruiksverkenner", "Groeperen op", "vergeleken met", "Kosten per Locatie", "Gesprekken"]),
    ],
)
def test_explorer_pages_speak_the_organizations_language(client, db, monkeypatch, locale, words):
    monkeypatch.setattr("django.utils.timezone.now", lambda: datetime(2026, 11, 20, 9, tzinfo=UTC))
    org = factories.organization(name="Polyglot", locale=locale, billing_day=1)
    line = factories.line(
        org, "+4930555000", person=factories.person(org, name="Eva"), location=factories.location(org)
    )
    write_calls(org, [Call(line, 75, "0.50")])
    sign_in_as(client, org, "analyst")
    page = client.get("/usage/").content.decode()
    assert all(word in page for word in words), [w for w in words if w not in page]
    assert f'lang="{locale[:2]}"' in page
    page = client.get("/usage/", {"dim": "weekday", "start": "2026-11-20", "end": "2026-11-01"}).content.decode()
    assert "Please correct" not in page and "(2026-11-01)" in page  # the error, in the language of the page
    calls = client.get("/usage/records/").content.decode()
    assert "Eva" in calls and "Calls, times in" not in calls
