"""Findings and scheduled reports in a real browser: an analyst sees the findings on the dashboard, dismisses
one with a note, and schedules a monthly report of a saved view for herself."""

import os
from datetime import UTC, datetime
from decimal import Decimal

from billing.models import BillFinding
from portal.models import SavedView, ScheduledReport
from tests import factories

SHOTS = os.environ.get("SCREENSHOT_DIR")  # set it to look at the pages


def _shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


def test_findings_and_a_scheduled_report(page, sign_in, billed_org, make):
    org = billed_org
    factories.issued_statement(org)
    at = datetime(2026, 11, 3, tzinfo=UTC)
    idle = BillFinding.objects.create(
        organization=org,
        kind="idle_line",
        line=org.lines.get(number="+493011113333"),
        monthly_value=Decimal("20.00"),
        currency="EUR",
        details={"idle_days": 60, "last_usage": "2026-08-14", "plan": "flex-eur"},
        first_found_at=at,
        last_found_at=at,
    )
    analyst = make.membership(make.user("hand-analyst", email="a@example.com"), org, role="analyst")
    SavedView.objects.create(user=analyst.user, organization=org, name="By person", query="dim=person")

    sign_in("hand-analyst")
    card = page.get_by_role("region", name="Bill audit findings")
    assert card.get_by_text("€20.00").first.is_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Findings").click()
    assert page.get_by_text("No usage for 60 days (last on 2026-08-14), still paying the flex-eur fee.").is_visible()
    page.get_by_label("Status +493011113333").select_option("dismissed")
    page.get_by_label("Note +493011113333").fill("spare line for the lift")
    _shot(page, "findings.png")
    page.get_by_role("button", name="Save Line with no usage").click()
    assert page.get_by_text("The finding for +493011113333 was saved.").is_visible()
    idle.refresh_from_db()
    assert (idle.status, idle.note) == ("dismissed", "spare line for the lift")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    page.get_by_label("Name").fill("People monthly")
    page.get_by_label("Report").select_option(label="Saved usage view: By person")
    page.get_by_label("File").select_option("xlsx")
    page.get_by_label("When").select_option("monthly")
    page.get_by_label("hand-analyst (Analyst)").check()
    page.get_by_role("button", name="Schedule").click()
    assert page.get_by_text("The report “People monthly” is scheduled.").is_visible()
    assert page.get_by_role("table", name="Schedules").get_by_role("rowheader", name="People monthly").is_visible()
    _shot(page, "reports.png")
    report = ScheduledReport.objects.get(name="People monthly")
    assert (report.kind, report.frequency, list(report.recipients.all())) == ("saved_view", "monthly", [analyst])
