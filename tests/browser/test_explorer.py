"""The usage explorer as a purchasing manager uses it, with a pinned clock: which site jumped against the
previous billing period (explorer and dashboard agree), exported and read back as typed values; on a
390 px phone; on the first day of a period. Set SCREENSHOTS=dir to keep the pages' screenshots."""

import csv
import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests import factories
from tests.web.usage_pages_data import Call, write_calls

MID_DECEMBER = datetime(2026, 12, 10, 9, tzinfo=UTC)
FIRST_OF_DECEMBER = datetime(2026, 12, 1, 14, tzinfo=UTC)  # 09:00 on 1 December in New York


def shot(page, name, tmp_path):
    folder = Path(os.environ.get("SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=name.endswith("-full"))


def harbor(now):
    """A US customer: Boston's cost jumps from October to November, Chicago's barely moves."""
    org = factories.organization(
        name="Harbor Freight Inc", locale="en-US", currency="USD", billing_day=1, time_zone="America/New_York"
    )
    sites = {name: factories.location(org, name=name) for name in ("Boston", "Chicago", "Denver", "Köln")}
    since = datetime(2026, 1, 1, tzinfo=UTC)
    lines = {
        name: factories.line(
            org, f"+1617709{8140 + i}", person=factories.person(org, name=f"{name} desk"), location=site, since=since
        )
        for i, (name, site) in enumerate(sites.items())
    }
    today = (now.astimezone(org.tz)).date()
    back = lambda day: (today - day).days  # noqa: E731 - days before "today" for write_calls

    def on(month, day):
        return back(datetime(2026, month, day).date())

    write_calls(
        org,
        [
            Call(lines["Boston"], 600, "4.00", day_offset=on(10, 8)),
            Call(lines["Boston"], 6588, "9.60", day_offset=on(11, 12)),
            Call(lines["Boston"], 60, "0.40", day_offset=on(11, 13)),
            Call(lines["Chicago"], 300, "5.00", day_offset=on(10, 9)),
            Call(lines["Chicago"], 320, "5.50", day_offset=on(11, 9)),
            Call(lines["Denver"], 90, "0.80", day_offset=on(11, 20)),
            Call(lines["Köln"], 45, "0.30", day_offset=on(11, 21), dest="+4922112345"),
        ],
    )
    return org


def test_which_site_jumped_against_the_previous_billing_period(page, sign_in, pin_clock, tmp_path, transactional_db):
    pin_clock(MID_DECEMBER)
    org = harbor(MID_DECEMBER)
    factories.membership(factories.user("buyer"), org, role="analyst")
    sign_in("buyer")
    dashboard_says = page.locator("li", has=page.get_by_role("link", name="Boston", exact=True)).last.inner_text()
    assert "+150.0 %" in dashboard_says and "was $4.00" in dashboard_says, dashboard_says

    page.goto("/usage/?period=last_month&dim=location")
    assert page.get_by_text("compared with the previous billing period, Oct 1, 2026 – Oct 31, 2026").is_visible()
    boston = page.locator("table.explorer-table tbody tr", has=page.get_by_role("link", name="Boston"))
    assert "+150.0 %" in boston.inner_text() and "+$6.00" in boston.inner_text()
    # The results sit above the fold of a 1280 x 900 window.
    assert page.locator("table.explorer-table").bounding_box()["y"] < 500
    shot(page, "usage-explorer", tmp_path)

    with page.expect_download() as xlsx:
        page.get_by_role("link", name="Export XLSX").click()
    rows = list(load_workbook(io.BytesIO(Path(xlsx.value.path()).read_bytes())).active.iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r[0] == "Location")
    table = {r[0]: dict(zip(rows[start], r, strict=True)) for r in rows[start + 1 :]}
    assert table["Boston"]["Change (%)"] == pytest.approx(150.0)
    assert table["Boston"]["Longest call (h:mm:ss)"] == timedelta(hours=1, minutes=49, seconds=48)
    assert table["Köln"]["Calls"] == 1 and table["Total"]["Cost (USD)"] == pytest.approx(16.6)

    with page.expect_download() as semicolon:
        page.get_by_role("link", name="CSV (semicolon; decimal comma)").click()
    text = Path(semicolon.value.path()).read_bytes().decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    header = lines[lines.index([]) + 1]
    koeln = dict(zip(header, next(r for r in lines if r and r[0] == "Köln"), strict=True))
    assert koeln["Cost (USD)"] == "0,30" and koeln["Minutes"] == "0,75"

    # Down to Boston's calls: the phone number of the line is a text cell, without an apostrophe.
    page.locator("table.explorer-table").get_by_role("link", name="Boston").click()
    page.wait_for_url("**/usage/records/**")
    shot(page, "drill-down", tmp_path)
    with page.expect_download() as calls:
        page.get_by_role("link", name="Export XLSX").click()
    rows = list(load_workbook(io.BytesIO(Path(calls.value.path()).read_bytes())).active.iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r[0] == "Start (local time)")
    record = dict(zip(rows[start], rows[start + 1], strict=True))
    assert record["Line"] == "+16177098140" and isinstance(record["Start (local time)"], datetime)


def test_on_a_phone_the_results_come_first_and_fit(phone, sign_in, pin_clock, tmp_path, transactional_db):
    pin_clock(MID_DECEMBER)
    org = harbor(MID_DECEMBER)
    factories.membership(factories.user("walker"), org, role="analyst")
    sign_in("walker", on=phone)
    phone.goto("/usage/?period=last_month&dim=location")
    table = phone.locator("table.explorer-table")
    box = table.bounding_box()
    assert box["y"] < 844 * 0.8, box  # above the fold of an 844 px high screen
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # nothing scrolls sideways
    assert box["width"] <= 390
    # Priority columns: the group, cost and change in percent; the others are left out on a phone.
    headers = [h for h in table.locator("thead th").all() if h.is_visible()]
    assert [h.inner_text() for h in headers] == ["Location", "Cost", "%"]
    for row in table.locator("tbody tr, tfoot tr").all():  # every row shows the same columns
        assert len([c for c in row.locator("th, td").all() if c.is_visible()]) == 3, row.inner_text()
    # The chart drawn for the phone: its labels are at least 11 CSS px high.
    label = phone.locator(".chart-phone svg text").first
    assert label.is_visible() and label.bounding_box()["height"] >= 11
    shot(phone, "usage-explorer-phone", tmp_path)


def test_on_the_first_day_the_default_view_is_the_last_complete_period(
    page, sign_in, pin_clock, tmp_path, transactional_db
):
    pin_clock(FIRST_OF_DECEMBER)
    org = harbor(FIRST_OF_DECEMBER)
    factories.membership(factories.user("early"), org, role="analyst")
    sign_in("early")
    assert page.get_by_role("heading", name="Top locations, last billing period").is_visible()
    page.goto("/usage/")
    notice = page.get_by_role("status")
    assert "No usage yet in this billing period" in notice.inner_text()
    assert page.get_by_text("Nov 1, 2026 – Nov 30, 2026, compared with the previous billing period").is_visible()
    assert page.locator("table.explorer-table").get_by_role("link", name="Boston").is_visible()
    with page.expect_download() as export:
        page.get_by_role("link", name="Export CSV", exact=True).click()
    text = Path(export.value.path()).read_bytes().decode("utf-8-sig")
    assert "Period,2026-11-01 – 2026-11-30" in text  # the export is what the page shows
