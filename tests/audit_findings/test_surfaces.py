"""Findings stored and worked through: refresh keeps people's statuses, statuses are audited, and the
dashboard, the findings page and the API show each caller their scope only."""

from datetime import timedelta
from decimal import Decimal as D

from billing.audit import Actor
from billing.audit_findings.services import finding_set_status, findings_refresh
from billing.audit_findings.tasks import refresh_findings
from billing.models import AuditLog, BillFinding
from portal.api.core.auth import token_create
from portal.api.core.nodes import encode_id
from tests.audit_findings.conftest import NOW, one_more_day


def _values(org):
    label_of = {line.id: label for label, line in org.lines_by_label.items()}
    return {
        (f.kind, label_of[f.line_id]): (f.monthly_value, f.status, f.active)
        for f in BillFinding.objects.filter(organization=org)
    }


def test_refresh_keeps_statuses_and_retires_what_is_no_longer_found(planted, make):
    findings_refresh(organization=planted, now=NOW)
    assert _values(planted) == {
        ("overage", "A"): (D("15.00"), "open", True),
        ("idle_line", "B"): (D("10.00"), "open", True),
        ("unassigned", "C"): (D("10.00"), "open", True),
        ("rate_differs", "D"): (D("0.50"), "open", True),
    }
    boss = make.membership(make.user(), planted, role="admin")
    idle = BillFinding.objects.get(organization=planted, kind="idle_line")
    finding_set_status(finding=idle, status="dismissed", note="spare line for the lift", actor=Actor(user=boss.user))
    row = AuditLog.objects.get(action="finding.status_changed")
    assert row.details == {
        "before": "open",
        "after": "dismissed",
        "note": "spare line for the lift",
        "monthly_value": "10.00",
    }
    assert row.user == boss.user and row.target == f"idle_line {planted.lines_by_label['B'].number}"
    # Twice, and once more through the beat task: the same findings, the dismissed one still dismissed.
    findings_refresh(organization=planted, now=NOW)
    from unittest import mock

    with mock.patch("billing.audit_findings.services.timezone.now", return_value=NOW):
        assert refresh_findings.apply().get() == 4
    assert _values(planted)[("idle_line", "B")] == (D("10.00"), "dismissed", True)
    assert BillFinding.objects.filter(organization=planted).count() == 4
    assert AuditLog.objects.filter(action="findings.refreshed", organization=planted).count() == 3
    # Line B is used again: no longer idle (kept, inactive, with its status).
    one_more_day(planted, planted.lines_by_label["B"], NOW - timedelta(days=2))
    findings_refresh(organization=planted, now=NOW)
    assert _values(planted)[("idle_line", "B")] == (D("10.00"), "dismissed", False)


def test_page_dashboard_and_status_for_each_role(planted, client, make):
    findings_refresh(organization=planted, now=NOW)
    analyst = make.membership(make.user(), planted, role="analyst")
    client.force_login(analyst.user)
    page = client.get("/findings/").content.decode()
    for line in planted.lines_by_label.values():
        assert line.number in page
    assert "4 open findings" in page and "€35.50" in page and "€15.00" in page
    assert "Paid 20.00 a month over its allowance for 3 months; Large (large) costs less." in page
    assert "Lena held it until 2026-10-01; nobody since, still paying the fee." in page
    home = client.get("/").content.decode()
    assert "Bill audit findings" in home and "€35.50" in home

    overage = BillFinding.objects.get(organization=planted, kind="overage")
    done = client.post(
        f"/findings/{overage.pk}/status", {"status": "done", "note": "moved to Large", "next": "/findings/"}
    )
    assert done.status_code == 302
    overage.refresh_from_db()
    assert (overage.status, overage.note, overage.status_changed_by) == ("done", "moved to Large", analyst.user)
    assert "3 open findings" in client.get("/findings/").content.decode()
    assert "moved to Large" in client.get("/findings/?status=done").content.decode()

    manager = make.membership(make.user(), planted, role="location_manager")
    manager.locations.set([planted.munich])
    client.force_login(manager.user)
    page = client.get("/findings/?status=all").content.decode()
    assert planted.lines_by_label["D"].number in page and planted.lines_by_label["A"].number not in page
    # A finding outside the manager's locations is "not found", and nothing changes.
    assert client.post(f"/findings/{overage.pk}/status", {"status": "open"}).status_code == 404
    overage.refresh_from_db()
    assert overage.status == "done"

    member = make.membership(make.user(), planted, role="member", person=planted.persons.get(name="Anna"))
    client.force_login(member.user)
    assert client.get("/findings/").status_code == 403
    assert "Bill audit findings" not in client.get("/").content.decode()


def test_api_lists_and_sets_status_within_scope(planted, make, api):
    findings_refresh(organization=planted, now=NOW)
    admin = make.membership(make.user(), planted, role="admin")
    _t, raw = token_create(membership=admin, name="erp", scopes=["usage:read", "findings:manage"])
    data = api(raw).data(
        "{ billAuditFindings(status: OPEN) { openCount openMonthlyValue findings { kind lineNumber monthlyValue "
        "currency suggestedPlan status details } } }"
    )["billAuditFindings"]
    assert (data["openCount"], data["openMonthlyValue"]) == (4, "35.50")
    assert [(f["kind"], f["monthlyValue"]) for f in data["findings"]] == [
        ("OVERAGE", "15.00"),
        ("IDLE_LINE", "10.00"),
        ("UNASSIGNED", "10.00"),
        ("RATE_DIFFERS", "0.50"),
    ]
    assert data["findings"][0]["suggestedPlan"] == "large" and data["findings"][0]["currency"] == "EUR"
    differs = BillFinding.objects.get(organization=planted, kind="rate_differs")
    answer = api(raw).data(
        'mutation($id: ID!) { setFindingStatus(id: $id, status: DISMISSED, note: "price rise accepted") '
        "{ finding { status note } errors { code message } } }",
        {"id": encode_id("BillFinding", differs.pk)},
    )["setFindingStatus"]
    assert answer == {"finding": {"status": "DISMISSED", "note": "price rise accepted"}, "errors": []}
    # Another organization's finding: not found, not changed.
    other = make.organization()
    their_admin = make.membership(make.user(), other, role="admin")
    _t2, theirs = token_create(membership=their_admin, name="x", scopes=["usage:read", "findings:manage"])
    answer = api(theirs).data(
        "mutation($id: ID!) { setFindingStatus(id: $id, status: OPEN) { finding { status } errors { code } } }",
        {"id": encode_id("BillFinding", differs.pk)},
    )["setFindingStatus"]
    assert answer == {"finding": None, "errors": [{"code": "NOT_FOUND"}]}
    assert api(theirs).data("{ billAuditFindings { openCount findings { id } } }")["billAuditFindings"] == {
        "openCount": 0,
        "findings": [],
    }
