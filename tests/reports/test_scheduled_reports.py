"""Scheduled reports delivered by the Celery tasks (run eagerly) on a pinned clock; attachments read back."""

import base64
import csv
import io
import re
import shutil
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail
from openpyxl import load_workbook

from billing.audit import Actor
from billing.models import AuditLog, BillFinding, WebhookAttempt, WebhookEndpoint
from billing.usage.writer import usage_records_write
from portal.models import ReportDelivery, SavedView
from portal.reports.services import ReportError, report_schedule
from portal.reports.tasks import deliver_due_reports
from tests import factories

SCHEDULED = datetime(2026, 11, 1, 8, tzinfo=UTC)
NOV_3 = datetime(2026, 11, 3, 12, tzinfo=UTC)  # October closed and billed
DEC_3 = datetime(2026, 12, 3, 12, tzinfo=UTC)  # November closed


@pytest.fixture
def eager():
    from portal.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def _run(now, capture):
    with mock.patch("portal.reports.delivery.timezone.now", return_value=now), capture(execute=True):
        return deliver_due_reports.apply().get()


@pytest.fixture
def hand(billed_org, make):
    """billed_org with a second site: Munich, where Max called 10 minutes in October."""
    org = billed_org
    org.munich = make.location(org, name="Munich")
    org.max = make.person(org, name="Max")
    line = make.line(org, "+498912340000", person=org.max, location=org.munich, since=datetime(2025, 1, 1, tzinfo=UTC))
    make.line_plan(line, org.lines.get(number="+493011112222").plans.get().plan)
    usage_records_write(
        records=[
            factories.usage_record(
                org,
                line,
                datetime(2026, 10, 7, 9, tzinfo=UTC),
                seconds=600,
                dest="+493099887766",
                location=org.munich,
                person=org.max,
            )
        ]
    )
    factories.issued_statement(org)
    return org


def _attachment(message):
    (attachment,) = message.attachments
    return attachment


def test_monthly_saved_view_to_members_in_the_owners_scope(hand, make, eager, django_capture_on_commit_callbacks):
    berlin = hand.locations.get(name="Berlin")
    owner = make.membership(make.user("lm", email="lm@example.com"), hand, role="location_manager")
    owner.locations.set([berlin])
    analyst = make.membership(make.user("numbers", email="numbers@example.com"), hand, role="analyst")
    colleague = make.membership(make.user("lm2", email="lm2@example.com"), hand, role="location_manager")
    colleague.locations.set([berlin])
    view = SavedView.objects.create(
        user=owner.user, organization=hand, name="By person", query="dim=person&period=this_period"
    )
    report = report_schedule(
        owner=owner,
        name="Berlin by person",
        kind="saved_view",
        source=str(view.pk),
        file_format="xlsx",
        frequency="monthly",
        recipients=[owner, analyst, colleague],
        actor=Actor(user=owner.user),
        now=SCHEDULED,
    )
    assert _run(NOV_3, django_capture_on_commit_callbacks) == 1
    assert sorted(m.to[0] for m in mail.outbox) == ["lm2@example.com", "lm@example.com", "numbers@example.com"]
    name, content, content_type = _attachment(mail.outbox[0])
    assert name == "Berlin-by-person-2026-10-01-2026-10-31.xlsx" and content_type.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Person"
    people = {row[0] for row in rows[1:]}
    assert {"Anna", "Ben"} <= people and "Max" not in people  # Munich is outside the owner's scope
    assert "Berlin by person" in mail.outbox[0].subject and "Oct" in mail.outbox[0].subject
    # The same period again (the beat runs every quarter hour): nothing new.
    assert _run(NOV_3, django_capture_on_commit_callbacks) == 0 and len(mail.outbox) == 3

    # The owner now manages Munich only: November's report covers Munich, and the Berlin colleague, who
    # does not see Munich, is skipped (named in the log); the analyst still gets it.
    owner.locations.set([hand.munich])
    mail.outbox.clear()
    assert _run(DEC_3, django_capture_on_commit_callbacks) == 1
    assert sorted(m.to[0] for m in mail.outbox) == ["lm@example.com", "numbers@example.com"]
    rows = list(load_workbook(io.BytesIO(_attachment(mail.outbox[0])[1])).active.iter_rows(values_only=True))
    assert "Anna" not in {row[0] for row in rows[1:]}  # Anna's November call was in Berlin
    delivery = ReportDelivery.objects.get(report=report, key="month:2026-11-01")
    assert (delivery.status, delivery.skipped, delivery.attempts) == ("sent", ["lm2"], 1)
    assert AuditLog.objects.filter(action="report.delivered", organization=hand).count() == 2


def test_after_each_statement_findings_to_a_webhook_with_retries(
    billed_org, make, eager, django_capture_on_commit_callbacks, monkeypatch, settings
):
    settings.DEBUG = False
    monkeypatch.setattr("billing.webhooks.resolve_addresses", lambda host, port: ["93.184.215.14"])
    org = billed_org
    admin = make.membership(make.user("boss"), org, role="admin")
    endpoint = WebhookEndpoint.objects.create(
        organization=org, url="https://erp.example.com/reports", secret="s" * 32, events=["statement.issued"]
    )
    report = report_schedule(
        owner=admin,
        name="Findings",
        kind="findings",
        file_format="csv",
        frequency="statement",
        channel="webhook",
        webhook=endpoint,
        actor=Actor(user=admin.user),
        now=SCHEDULED,
    )
    statement = factories.issued_statement(org)  # issued on 2026-11-03, after the schedule was made
    line = org.lines.get(number="+493011113333")
    BillFinding.objects.create(
        organization=org,
        kind="idle_line",
        line=line,
        monthly_value=Decimal("20.00"),
        currency="EUR",
        details={"idle_days": 60, "last_usage": "2026-08-14", "plan": "flex-eur"},
        first_found_at=NOV_3,
        last_found_at=NOV_3,
    )
    answers = iter([(503, "HTTP 503"), (None, "timed out"), (200, "")])
    sent = []

    def post(url, body, headers):
        sent.append((url, body, headers))
        return next(answers)

    monkeypatch.setattr("billing.webhooks._post", post)
    assert _run(NOV_3, django_capture_on_commit_callbacks) == 1
    delivery = ReportDelivery.objects.get(report=report)
    assert (delivery.key, delivery.status, delivery.attempts) == (f"statement:{statement.pk}", "sent", 3)
    assert delivery.sent_to == ["https://erp.example.com/reports"]
    assert WebhookAttempt.objects.filter(delivery__endpoint=endpoint).count() == 3
    import json

    payload = json.loads(sent[-1][1])["data"]
    assert sent[-1][2]["X-Portal-Event"] == "report.delivered" and payload["filename"].endswith(".csv")
    rows = list(
        csv.reader(io.StringIO(base64.b64decode(payload["content_base64"]).decode("utf-8-sig")))
    )  # UTF-8 with BOM, as every CSV export
    assert rows[0][:2] == ["Finding", "Line"]
    assert rows[1][1] == "'+493011113333"  # the exports' formula guard
    assert rows[1][1] and rows[1][4] == "20.00" and "No usage for 60 days" in rows[1][3]


def test_email_retries_then_fails_and_the_log_says_so(
    billed_org, make, eager, django_capture_on_commit_callbacks, settings
):
    settings.REPORT_MAX_ATTEMPTS = 3
    org = billed_org
    factories.issued_statement(org)
    admin = make.membership(make.user("boss", email="boss@example.com"), org, role="admin")
    report = report_schedule(
        owner=admin,
        name="Findings weekly",
        kind="findings",
        file_format="pdf",
        frequency="weekly",
        recipients=[admin],
        actor=Actor(user=admin.user),
        now=SCHEDULED,
    )
    with mock.patch("django.core.mail.EmailMessage.send", side_effect=OSError("smtp down")):
        assert _run(NOV_3, django_capture_on_commit_callbacks) == 1
    delivery = ReportDelivery.objects.get(report=report)
    assert (delivery.key, str(delivery.period_start), str(delivery.period_end)) == (
        "week:2026-W44",
        "2026-10-26",
        "2026-11-01",
    )
    assert (delivery.status, delivery.attempts) == ("failed", 3) and "smtp down" in delivery.error
    assert not mail.outbox
    # The next week goes out (a PDF that reads back).
    assert _run(datetime(2026, 11, 10, 9, tzinfo=UTC), django_capture_on_commit_callbacks) == 1
    name, content, content_type = _attachment(mail.outbox[0])
    assert content[:5] == b"%PDF-" and content_type == "application/pdf"
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-", "-"], input=content, capture_output=True, check=True).stdout.decode()
        assert "Bill audit findings" in text and "Open findings: 0" in text


def test_unsubscribe_link_takes_the_recipient_off(billed_org, make, eager, client, django_capture_on_commit_callbacks):
    org = billed_org
    admin = make.membership(make.user("boss", email="boss@example.com"), org, role="admin")
    analyst = make.membership(make.user("numbers", email="numbers@example.com"), org, role="analyst")
    report = report_schedule(
        owner=admin,
        name="Findings",
        kind="findings",
        file_format="csv",
        frequency="monthly",
        recipients=[admin, analyst],
        actor=Actor(user=admin.user),
        now=SCHEDULED,
    )
    _run(NOV_3, django_capture_on_commit_callbacks)
    message = next(m for m in mail.outbox if m.to == ["numbers@example.com"])
    link = re.search(r"http://localhost:8000(/reports/unsubscribe/\S+/)", message.body).group(1)
    assert message.extra_headers["List-Unsubscribe"] == f"<http://localhost:8000{link}>"
    page = client.get(link)
    assert page.status_code == 200 and "Stop sending “Findings” to numbers?" in page.content.decode()
    assert report.recipients.filter(pk=analyst.pk).exists()  # a GET (a link scanner) changes nothing
    done = client.post(link, follow=True)
    assert "You will no longer receive “Findings”." in done.content.decode()
    assert not report.recipients.filter(pk=analyst.pk).exists()
    assert AuditLog.objects.get(action="report.unsubscribed").user == analyst.user
    assert client.post(link[:-5] + "xx/").status_code == 404  # a changed token
    mail.outbox.clear()
    _run(DEC_3, django_capture_on_commit_callbacks)
    assert [m.to for m in mail.outbox] == [["boss@example.com"]]


def test_recipients_must_see_all_the_owner_sees(billed_org, make, client):
    org = billed_org
    berlin = org.locations.get(name="Berlin")
    munich = make.location(org, name="Munich")
    owner = make.membership(make.user("lm"), org, role="location_manager")
    owner.locations.set([berlin])
    munich_manager = make.membership(make.user("lm-munich"), org, role="location_manager")
    munich_manager.locations.set([munich])
    member = make.membership(make.user("anna"), org, role="member", person=org.persons.get(name="Anna"))
    for recipients in ([munich_manager], [member]):
        with pytest.raises(ReportError, match="do not see everything"):
            report_schedule(
                owner=owner,
                name="x",
                kind="findings",
                frequency="monthly",
                recipients=recipients,
                actor=Actor(user=owner.user),
            )
    client.force_login(owner.user)
    response = client.post(
        "/reports/",
        {
            "name": "x",
            "what": "findings:",
            "file_format": "csv",
            "frequency": "monthly",
            "channel": "email",
            "recipients": [member.pk],
        },
    )
    assert response.status_code == 400 and "do not see everything this report shows" in response.content.decode()
    ok = client.post(
        "/reports/",
        {
            "name": "Mine",
            "what": "findings:",
            "file_format": "csv",
            "frequency": "monthly",
            "channel": "email",
            "recipients": [owner.pk],
        },
    )
    assert ok.status_code == 302
    assert "Mine" in client.get("/reports/").content.decode()
    assert AuditLog.objects.filter(action="report.scheduled", target="Mine").count() == 1
