"""One comparison: the period a period is compared with, and the same answer on every surface (explorer,
dashboard, API, export), each metric formatted as itself, groups in reading order, every group labelled."""

import io
import re
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook

from billing.periods import Basis, comparison_period
from tests import factories
from tests.web.usage_pages_data import Call, sign_in_as, write_calls

NOW = datetime(2026, 12, 10, 9, tzinfo=UTC)  # 10 December: November is the last closed period


@pytest.mark.parametrize(
    "billing_day, start, end, expected",
    [
        # A whole billing period: the one before (not "the 30 days before": 1–31 Oct, not 2–31 Oct).
        (1, date(2026, 11, 1), date(2026, 11, 30), (date(2026, 10, 1), date(2026, 10, 31), Basis.BILLING_PERIOD)),
        (1, date(2026, 3, 1), date(2026, 3, 31), (date(2026, 2, 1), date(2026, 2, 28), Basis.BILLING_PERIOD)),
        # Three whole billing periods: the three before.
        (1, date(2026, 9, 1), date(2026, 11, 30), (date(2026, 6, 1), date(2026, 8, 31), Basis.BILLING_PERIOD)),
        # Billing day 15: 15 Nov – 14 Dec against 15 Oct – 14 Nov.
        (15, date(2026, 11, 15), date(2026, 12, 14), (date(2026, 10, 15), date(2026, 11, 14), Basis.BILLING_PERIOD)),
        # A billing period so far: the same days of the one before, cut at its end (February has 28).
        (1, date(2026, 12, 1), date(2026, 12, 10), (date(2026, 11, 1), date(2026, 11, 10), Basis.PERIOD_TO_DATE)),
        (1, date(2026, 3, 1), date(2026, 3, 30), (date(2026, 2, 1), date(2026, 2, 28), Basis.PERIOD_TO_DATE)),
        # Free dates: as many days just before.
        (1, date(2026, 11, 10), date(2026, 11, 19), (date(2026, 10, 31), date(2026, 11, 9), Basis.SAME_LENGTH)),
        (15, date(2026, 11, 1), date(2026, 11, 30), (date(2026, 10, 2), date(2026, 10, 31), Basis.SAME_LENGTH)),
    ],
)
def test_the_period_compared_with(billing_day, start, end, expected):
    org = factories.Organization(billing_day=billing_day, time_zone="Europe/Berlin")
    assert comparison_period(org, start, end) == expected


@pytest.fixture
def boston(db, monkeypatch):
    """Boston's cost jumps from October to November; Chicago's does not (US customer, billing day 1)."""
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: NOW)
    org = factories.organization(name="Harbor Freight Inc", locale="en-US", currency="USD", billing_day=1)
    boston, chicago = factories.location(org, name="Boston"), factories.location(org, name="Chicago")
    ann, bob = factories.person(org, name="Ann Lee"), factories.person(org, name="Bob Ray")
    a = factories.line(org, "+16177098147", person=ann, location=boston, since=datetime(2026, 1, 1, tzinfo=UTC))
    b = factories.line(org, "+13125550100", person=bob, location=chicago, since=datetime(2026, 1, 1, tzinfo=UTC))
    # Days before NOW (10 Dec): 10–39 is November, 41–70 October.
    write_calls(
        org,
        [
            Call(a, 600, "4.00", day_offset=50),  # Boston, October: 4.00, 10 min
            Call(a, 6588, "9.60", day_offset=20),  # Boston, November: 9.60, 1:49:48
            Call(a, 60, "0.40", day_offset=25),
            Call(b, 300, "5.00", day_offset=45),  # Chicago, October 5.00
            Call(b, 300, "5.50", day_offset=15),  # Chicago, November 5.50
        ],
    )
    return org


def test_explorer_dashboard_api_and_export_agree(client, boston, api, token_for):
    sign_in_as(client, boston, "analyst")
    # Boston: 10.00 in November against 4.00 in October: +150.0 %.
    page = client.get("/usage/", {"dim": "location", "period": "last_month"}).content.decode()
    assert "compared with the previous billing period" in page and "Oct 1, 2026 – Oct 31, 2026" in page
    assert "+150.0 %" in page and "+$6.00" in page
    dashboard = client.get("/").content.decode()
    assert "Boston" in dashboard.split("Cost jumps by location")[1] and "+150.0 %" in dashboard

    data = api(token_for(boston)).data(
        '{ usageSummary(period: {from: "2026-11-01", to: "2026-11-30"}, groupBy: [LOCATION], comparePrevious: true)'
        " { previousPeriod { from to } previousBasis previousTotals { cost } totals { cost } } }"
    )["usageSummary"]
    assert data["previousPeriod"] == {"from": "2026-10-01", "to": "2026-10-31"}
    assert data["previousBasis"] == "BILLING_PERIOD" and data["previousTotals"]["cost"] == "9.000000"

    response = client.get("/usage/export/", {"dim": "location", "period": "last_month", "format": "xlsx"})
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r[0] == "Location")
    about = {r[0]: r[1] for r in rows[:start] if r[0]}
    assert about["Compared with"] == "2026-10-01 – 2026-10-31 (the previous billing period)"
    table = [dict(zip(rows[start], r, strict=True)) for r in rows[start + 1 :]]
    boston_row = next(r for r in table if r["Location"] == "Boston")
    assert boston_row["Change (%)"] == pytest.approx(150.0) and boston_row["Previous: Cost"] == pytest.approx(4.0)


def test_each_metric_is_formatted_as_itself(client, boston):
    sign_in_as(client, boston, "analyst")
    page = client.get("/usage/", {"dim": "location", "period": "last_month", "sort": "longest_call_seconds"})
    text = page.content.decode()
    # Boston's longest call, 1:49:48, against 0:10:00 in October: the change is a duration too.
    assert "1:49:48" in text and "+1:39:48" in text and "1,772.00" not in text
    text = client.get("/usage/", {"dim": "location", "period": "last_month", "sort": "calls"}).content.decode()
    table = text.split('id="result-h"')[1]
    boston = re.sub(r' class="[^"]*"', "", table.split(">Boston<")[1].split("</tr>")[0])
    # Boston: 2 calls now, 1 before, +1: counts as whole numbers ("Previous calls 10,733.00" was the bug).
    assert "Previous calls" in table and "<td>1</td>\n<td>+1</td>" in boston


def test_hours_in_clock_order_and_every_group_labelled(client, boston):
    sign_in_as(client, boston, "analyst")
    response = client.get("/usage/", {"dim": "hour", "period": "last_month", "sort": "group", "order": "asc"})
    hours = [row.keys[0].value for row in response.context["explored"].rows]
    assert hours == sorted(hours)
    # Domestic calls have no country: their group is named, never empty.
    response = client.get("/usage/", {"dim": "country", "period": "last_month"})
    labels = [row.keys[0].label for row in response.context["explored"].rows]
    assert all(label.strip() for label in labels)


def test_people_of_the_same_name_are_told_apart(client, boston):
    twin = factories.person(boston, name="Ann Lee", employee_number="E-77")
    line = factories.line(boston, "+16175550199", person=twin, location=factories.location(boston, name="Salem"))
    write_calls(boston, [Call(line, 120, "1.00", day_offset=20)])
    sign_in_as(client, boston, "analyst")
    response = client.get("/usage/", {"dim": "person", "period": "last_month"})
    labels = sorted(row.keys[0].label for row in response.context["explored"].rows)
    assert labels == ["Ann Lee (employee no. E-77)", "Ann Lee (line +16177098147)", "Bob Ray"]
