"""Pivot, forecast and unusual-usage pages, the explorer's chart over time and its exclusions, the dashboard's
unusual days, the pivot export read back, and the alert opt-in and its daily check (clock pinned)."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from unittest import mock

import pytest
from django.core import mail
from openpyxl import load_workbook

from billing.models import AnomalyAlert, AnomalyAlertSetting, WebhookDelivery, WebhookEndpoint
from portal.anomaly_tasks import anomaly_alerts_send_all
from portal.models import AuditLog
from tests.usage.analysis_data import days, firm, write_daily
from tests.usage.test_analysis import pattern


def pinned_today(day: date):
    """The portal's 'today' (usage_forms.today_for and its period presets) fixed to ``day``, noon UTC."""
    now = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return mock.patch("portal.web.usage_forms.timezone", SimpleNamespace(now=lambda: now))


@pytest.fixture
def spiky(make):
    org = firm(make)
    history = days(date(2026, 9, 1), date(2026, 11, 30))
    write_daily(org, org.line_a, {d: (Decimal("30.00") if d == date(2026, 11, 10) else pattern(d)) for d in history})
    write_daily(org, org.line_b, {d: Decimal("1.00") for d in history})
    write_daily(org, org.line_c, {date(2026, 11, 16): "12.00"})
    return org


def page(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def test_pivot_person_by_month_in_german_with_totals_both_ways(client, signed_in, spiky):
    signed_in(spiky, role="analyst")
    html = page(client, "/usage/pivot/?rows=person&columns=month&period=custom&start=2026-09-01&end=2026-10-31")
    table = html.split('class="data pivot-table"', 1)[1]
    assert "Sept. 2026" in table and "Okt. 2026" in table  # Babel's German month labels
    assert "Gesamt" in table  # "Total"
    assert "31,00\xa0€" in table  # Ben in October
    sept_total = sum(pattern(d) for d in days(date(2026, 9, 1), date(2026, 9, 30))) + 30
    assert f"{sept_total:.2f}".replace(".", ",") + "\xa0€" in table


def test_pivot_export_xlsx_and_csv_read_back_as_typed_values(client, signed_in, spiky):
    signed_in(spiky, role="analyst")
    query = "rows=location&columns=month&period=custom&start=2026-10-01&end=2026-11-30"
    response = client.get(f"/usage/pivot/export/?{query}&format=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    header, hq, depot, total = rows[-4:] if len(rows) > 4 else rows
    assert header[0] == "Standort" and header[-1] == "Gesamt"
    assert hq[0] == "HQ" and isinstance(hq[1], (int, float))
    assert depot[1:] == [0, 12, 12]
    assert total[-1] == pytest.approx(hq[-1] + depot[-1]) == pytest.approx(total[1] + total[2])
    response = client.get(f"/usage/pivot/export/?{query}&format=csv")
    body = response.content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(body)))
    assert lines[-1][0] == "Gesamt" and Decimal(lines[-1][-1]) == Decimal(str(total[-1])).quantize(
        Decimal(lines[-1][-1])
    )
    assert AuditLog.objects.filter(organization=spiky, action="export.usage_pivot").count() == 2


def test_forecast_page_states_the_method_and_projects_the_run_rate(client, signed_in, spiky):
    signed_in(spiky, role="analyst")
    with pinned_today(date(2026, 11, 20)):
        html = page(client, f"/usage/forecast/?group=person&person={spiky.ben.id}")
    assert "Wochentags" in html  # the method, in German
    # Ben costs 1.00 every day: 20.00 so far, 30.00 projected for November, band of zero width.
    assert "20,00\xa0€" in html and "30,00\xa0€ – 30,00\xa0€" in html
    assert "31,00\xa0€" in html and "28,00\xa0€" in html  # December (31 days) and February (28)


def test_unusual_usage_page_lists_the_spike_with_its_money_value(client, signed_in, spiky):
    signed_in(spiky, role="admin")
    with pinned_today(date(2026, 11, 30)):
        html = page(client, "/usage/anomalies/")
    found = html.split('class="data compact anomaly-table"', 1)[1]
    assert "HQ" in found and "Anna" in found and "+493011110001" in found
    assert "Cem" in found and "+12,00\xa0€" in found and "neu" in found  # Cem's first usage: "new"
    assert "Robuster z-Wert" in html and '<html lang="de">' in html  # the method, in German
    assert 'action="/usage/anomalies/alerts"' in html  # an administrator may switch alerts on


def test_dashboard_shows_this_periods_unusual_days(client, signed_in, spiky):
    signed_in(spiky, role="analyst")
    with (
        pinned_today(date(2026, 11, 30)),
        mock.patch("portal.web.dashboard.today_for", return_value=date(2026, 11, 30)),
    ):
        html = page(client, "/")
    card = html.split('id="anomalies-h"', 1)[1]
    assert "Anna" in card and "Cem" in card and "/usage/anomalies/" in card


def test_explorer_draws_cost_per_day_over_time_stacked_by_location(client, signed_in, spiky):
    signed_in(spiky, role="analyst")
    html = page(client, "/usage/?dim=day&dim=location&period=custom&start=2026-11-01&end=2026-11-30")
    assert 'class="chart timeseries"' in html and 'class="chart hchart"' not in html
    svg = html.split('class="chart timeseries"', 1)[1].split("</svg>", 1)[0]
    assert svg.count('class="segment"') == 30 + 1  # HQ every day, Depot on the 16th
    assert ">HQ</text>" in svg and ">Depot</text>" in svg and "1. Nov." in svg


def test_explorer_leaves_out_an_excluded_person(client, signed_in, spiky):
    signed_in(spiky, role="analyst")
    base = "/usage/?dim=person&period=custom&start=2026-11-01&end=2026-11-30"
    html = page(client, f"{base}&person={spiky.anna.id}&exclude=person")
    result = html.split('id="result-h"', 1)[1].split("</table>", 1)[0]
    assert "Ben" in result and "Cem" in result and ">Anna<" not in result
    five = page(client, f"{base}&dim=location&dim=line&dim=category&dim=direction")
    assert 'class="dims has-error"' not in five  # five dimensions are allowed
    assert five.split('id="result-h"', 1)[1].split("</thead>")[0].count('<th scope="col"') == 5 + 8


def test_alert_opt_in_is_audited_and_the_daily_check_sends_each_day_once(client, signed_in, spiky):
    signed_in(spiky, role="admin")
    response = client.post("/usage/anomalies/alerts", {"email": "on", "webhook": "on", "min_excess": "5"})
    assert response.status_code == 302
    setting = AnomalyAlertSetting.objects.get(organization=spiky)
    assert setting.email and setting.webhook and setting.min_excess == Decimal("5.00")
    assert AuditLog.objects.filter(organization=spiky, action="anomaly_alerts.changed").count() == 1
    WebhookEndpoint.objects.create(
        organization=spiky, url="https://hooks.example/x", events=["usage.anomaly"], secret="s"
    )
    morning_after = datetime(2026, 11, 11, 6, tzinfo=UTC)  # yesterday in Berlin: 10 November, the spike
    assert anomaly_alerts_send_all(now=morning_after) == 3
    assert len(mail.outbox) == 1 and "Anna" in mail.outbox[0].body and "HQ" in mail.outbox[0].body
    assert "Ungewöhnliche Nutzung" in mail.outbox[0].subject
    deliveries = WebhookDelivery.objects.filter(endpoint__organization=spiky, event="usage.anomaly")
    assert deliveries.count() == 3
    assert {d.payload["name"] for d in deliveries} == {"HQ", "Anna", "+493011110001"}
    assert anomaly_alerts_send_all(now=morning_after) == 0 and len(mail.outbox) == 1
    assert AnomalyAlert.objects.filter(organization=spiky).count() == 3


@pytest.mark.parametrize("amount", ["-1", "abc", "NaN", "Infinity", "1e9"])
def test_a_bad_alert_amount_is_refused_with_a_message(client, signed_in, spiky, amount):
    signed_in(spiky, role="admin")
    response = client.post("/usage/anomalies/alerts", {"email": "on", "min_excess": amount}, follow=True)
    assert response.status_code == 200 and "Mindestbetrag muss eine Zahl" in response.content.decode()
    assert not AnomalyAlertSetting.objects.filter(organization=spiky).exists()


def test_only_administrators_change_alerts(client, signed_in, spiky):
    signed_in(spiky, role="analyst")
    assert client.post("/usage/anomalies/alerts", {"email": "on"}).status_code == 403
    assert not AnomalyAlertSetting.objects.filter(organization=spiky).exists()


def test_a_groups_drill_down_keeps_its_own_value_when_others_were_left_out(client, signed_in, spiky):
    signed_in(spiky, role="analyst")
    with pinned_today(date(2026, 11, 30)):
        html = page(client, f"/usage/?dim=person&period=last_month&person={spiky.anna.id}&exclude=person&exclude=line")
    link = html.split('id="result-h"', 1)[1].split('href="/usage/records/?', 1)[1].split('"', 1)[0]
    assert f"person={spiky.ben.id}" in link and "exclude=person" not in link and "exclude=line" in link


def test_pivot_page_queries_do_not_grow_with_its_rows(client, signed_in, spiky, make):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    signed_in(spiky, role="analyst")
    url = "/usage/pivot/?rows=line&columns=day&period=custom&start=2026-11-01&end=2026-11-30"
    with CaptureQueriesContext(connection) as few:
        page(client, url)
    for n in range(6):
        extra = make.line(spiky, f"+49301111100{n + 4}", person=spiky.ben, location=spiky.hq)
        write_daily(spiky, extra, {date(2026, 11, 3): "1.00"})
    with CaptureQueriesContext(connection) as more:
        html = page(client, url)
    assert html.count('<th scope="row">+49301111') == 9
    assert len(more.captured_queries) == len(few.captured_queries)


def test_the_calls_page_says_which_filter_is_an_exclusion(client, signed_in, spiky):
    signed_in(spiky, role="analyst")
    html = page(
        client,
        f"/usage/records/?period=custom&start=2026-11-01&end=2026-11-30&person={spiky.anna.id}&exclude=person",
    )
    assert "Personen (ausgeschlossen)" in html  # the organization is German
    calls = html.split('class="data records-table', 1)[1].split("</table>", 1)[0]
    assert "Ben" in calls and "Anna" not in calls
