"""A purchasing manager in headless Chromium: cost per person per month as a pivot (exported to XLSX and CSV
and read back as typed values), the forecast to the period end, what is unusual this month, and cost per day
stacked by location in the explorer. The clock is pinned to 20 November 2026.

Screenshots go to ``$PORTAL_SCREENSHOTS`` when it is set (the README's come from
``PORTAL_SCREENSHOTS=docs/screenshots``), otherwise to the test's temporary folder."""

import csv
import io
import os
import random
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
from openpyxl import load_workbook

from tests import factories
from tests.usage.analysis_data import days, firm, write_daily

TODAY = date(2026, 11, 20)


def costs(seed: int, weekday: str, weekend: str, start: date, extra: dict | None = None) -> dict:
    rnd = random.Random(seed)
    out = {}
    for d in days(start, TODAY):
        base = Decimal(weekday if d.isoweekday() <= 5 else weekend)
        out[d] = (base * Decimal(rnd.randint(80, 120)) / 100).quantize(Decimal("0.01"))
    out.update(extra or {})
    return out


@pytest.fixture
def northwind(transactional_db):
    org = firm(factories, name="Northwind Ltd", time_zone="Europe/London", currency="GBP", locale="en-GB", country="GB")
    write_daily(org, org.line_a, costs(1, "18.00", "2.00", date(2026, 9, 1), {date(2026, 11, 10): Decimal("240.00")}))
    write_daily(org, org.line_b, costs(2, "9.00", "0.50", date(2026, 9, 1)))
    write_daily(org, org.line_c, costs(3, "12.00", "1.00", date(2026, 9, 14), {date(2026, 11, 16): Decimal("95.00")}))
    factories.membership(factories.user("mia"), org, role="analyst")
    return org


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("PORTAL_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def pinned_clock():
    now = datetime(2026, 11, 20, 15, tzinfo=UTC)
    with mock.patch("portal.web.usage_forms.timezone", SimpleNamespace(now=lambda: now)):
        yield


def test_pivot_forecast_and_unusual_usage_walk(page, sign_in, northwind, shots, pinned_clock):
    sign_in("mia")
    dashboard = page.locator("#anomalies-h").locator("xpath=..")
    assert dashboard.get_by_role("link", name="Anna").first.is_visible()

    # Cost per person per month as a pivot.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Usage", exact=True).click()
    page.get_by_role("navigation", name="Usage analysis").get_by_role("link", name="Pivot").click()
    page.get_by_label("Rows").select_option("person")
    page.get_by_label("Columns").select_option("month")
    page.get_by_label("Values").select_option("cost")
    page.get_by_label("Period").select_option("last_3_months")
    page.get_by_role("button", name="Show pivot").click()
    table = page.locator("table.pivot-table")
    header = table.locator("thead th").all_inner_texts()
    assert header == ["Person", "Aug 2026", "Sept 2026", "Oct 2026", "Total"]
    assert table.locator("tbody th").all_inner_texts() == ["Anna", "Cem", "Ben"]
    page.screenshot(path=shots / "usage-pivot.png", full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="Export XLSX").click()
    workbook = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    rows = [[c.value for c in r] for r in workbook.active.iter_rows()]
    head = next(i for i, r in enumerate(rows) if r and r[0] == "Person")
    body, total = rows[head + 1 : -1], rows[-1]
    assert [r[0] for r in body] == ["Anna", "Cem", "Ben"] and total[0] == "Total"
    assert all(isinstance(v, (int, float)) for r in body for v in r[1:])
    assert sum(r[-1] for r in body) == pytest.approx(total[-1]) == pytest.approx(sum(total[1:-1]))
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    with open(download.value.path(), encoding="utf-8-sig") as fh:
        lines = [line for line in csv.reader(fh) if line]
    assert lines[-1][0] == "Total" and float(lines[-1][-1]) == pytest.approx(total[-1])

    # Forecast to the period end, per location.
    page.get_by_role("navigation", name="Usage analysis").get_by_role("link", name="Forecast").click()
    page.get_by_label("Forecast per").select_option("location")
    page.get_by_role("button", name="Show forecast").click()
    assert page.get_by_text("Weekday-seasonal run rate").is_visible()
    forecast = page.locator("table.forecast-table")
    assert forecast.locator("tbody th").all_inner_texts() == ["HQ", "Depot"]
    footer = forecast.locator("tfoot td").all_inner_texts()
    so_far, (projected, band) = footer[0], footer[1].split("\n")
    assert so_far.startswith("£") and projected.startswith("£") and " – " in band
    low, high = (Decimal(x.strip().lstrip("£").replace(",", "")) for x in band.split("–"))
    # The band is the back-tested error: here the history under-forecast (a new line, two spikes), so it may
    # lie above the projection; it is never inverted.
    assert Decimal(so_far.lstrip("£").replace(",", "")) <= low <= high
    page.screenshot(path=shots / "usage-forecast.png", full_page=True)

    # What is unusual this month.
    page.get_by_role("navigation", name="Usage analysis").get_by_role("link", name="Unusual usage").click()
    page.get_by_role("button", name="Show unusual usage").click()
    unusual = page.locator("table.anomaly-table tbody tr")
    first = unusual.first.locator("td").all_inner_texts()
    assert first[0] == "10 Nov 2026" and first[2] in {"HQ", "Anna", "+493011110001"} and first[5].startswith("+£")
    assert any("16 Nov 2026" in row for row in unusual.all_inner_texts())
    assert page.get_by_text("Robust z-score against the same weekdays").first.is_visible()
    assert page.get_by_role("heading", name="Alerts").count() == 0  # analysts do not switch alerts on
    page.screenshot(path=shots / "usage-anomalies.png", full_page=True)

    # Cost per day, stacked by location, in the explorer.
    page.get_by_role("navigation", name="Usage analysis").get_by_role("link", name="Explorer").click()
    page.get_by_label("Location", exact=True).check()
    page.get_by_label("Day", exact=True).check()
    page.get_by_role("button", name="Show usage").click()
    chart = page.locator("svg.timeseries")
    assert chart.locator("text.legend").all_text_contents() == ["HQ", "Depot"]
    assert chart.locator("text.tick").count() >= 3
    chart.screenshot(path=shots / "usage-time-series.png")
