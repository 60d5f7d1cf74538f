"""Retention risk: an explainable score from the organization's own trend, only with consent, shown to
staff with its reasons, and used to make retention offers eligible."""

from datetime import date
from decimal import Decimal as D

from billing.offers import profile
from billing.offers.services import offers_compute
from tests.offers.conftest import ISSUED_AT, consultancy, issue_periods


def _profile(minutes, *, active=10, added=0, removed=0):
    return profile.Profile(
        months=len(minutes),
        period_start=date(2026, 8, 1),
        period_end=date(2026, 10, 31),
        minutes_by_month=[D(m) for m in minutes],
        minutes_by_key={},
        minutes_by_country={},
        minutes_by_location={},
        minutes_by_person={},
        usage_cost_total=D(0),
        overage_total=D(0),
        lines_active=active,
        lines_added=added,
        lines_removed=removed,
    )


def test_a_monthly_saving_is_rounded_to_the_currency_s_minor_unit():
    three_months = _profile([100, 100, 100])
    # 1000 / 3 = 333.33...: cents in euros, whole yen (Babel: JPY has no minor unit), half-up once.
    assert three_months.per_month_money(D("1000"), "EUR") == D("333.33")
    assert three_months.per_month_money(D("1000"), "JPY") == D("333")
    assert three_months.per_month_money(D("1001.5"), "JPY") == D("334")  # 333.83 -> 334
    assert three_months.per_month(D("1000")) == D("333.33")  # minutes and metrics keep two places


def test_risk_points_and_reasons():
    steady = profile.retention_risk(_profile([1000, 1010, 990]), disputes=0)
    assert (steady.score, steady.level, steady.reasons) == (1, "low", [(1, steady.reasons[0][1])])
    falling = profile.retention_risk(_profile([1000, 800, 700], active=8, removed=2), disputes=1)
    assert falling.reasons == [
        (30, "call minutes fell by 30.0 % from the first to the last month"),
        (20, "2 of 10 lines switched off (net of lines added)"),
        (10, "1 statement line(s) disputed"),
    ]
    assert (falling.score, falling.level) == (60, "high")
    capped = profile.retention_risk(_profile([1000, 10, 1], active=0, removed=5), disputes=9)
    assert capped.score == 100 and [p for p, _ in capped.reasons] == [50, 30, 20]
    replaced = profile.retention_risk(_profile([1000, 1000, 1000], added=2, removed=2), disputes=0)
    assert replaced.score == 0 and replaced.reasons == []


def test_risk_is_computed_with_consent_and_shown_to_staff(make, catalog, client):
    org = consultancy(make, catalog, eu_calls_per_day=0, name="Shrinking B.V.", add_line=False)
    issue_periods(org)
    run = offers_compute(organization=org, now=ISSUED_AT)
    risk = run.profile["retention_risk"]
    assert risk["score"] == sum(p for p, _ in risk["reasons"]) and risk["level"] in ("medium", "high")
    assert any("switched off" in why for _p, why in risk["reasons"])
    assert run.recommendations.filter(retention=True).exists()
    client.force_login(make.user("staff", is_staff=True, is_superuser=True))
    html = client.get(f"/admin/billing/offerrun/{run.pk}/change/").content.decode()
    assert f"{risk['score']} / 100 ({risk['level']})" in html and "switched off (net of lines added)" in html
    # Without consent nothing is computed.
    other = consultancy(make, catalog, consent=False, seed=5, name="Private B.V.")
    issue_periods(other)
    private = offers_compute(organization=other, now=ISSUED_AT)
    assert "retention_risk" not in private.profile
    page = client.get(f"/admin/billing/offerrun/{private.pk}/change/").content.decode()
    assert "computed only with consent" in page


def _monthly(org, month, minutes):
    from billing.models import UsageMonthly

    UsageMonthly.objects.create(
        organization=org,
        local_date=month,
        usage_type="voice",
        category="national",
        direction="outbound",
        duration_band=1,
        records=1,
        answered=1,
        duration_seconds=minutes * 60,
        billable_seconds=minutes * 60,
        max_duration_seconds=60,
        data_bytes=0,
        cost=D(0),
    )


def test_backtest_reports_precision_and_recall_on_history(make):
    from io import StringIO

    from django.core.management import call_command

    from billing.offers.reports import retention_risk_backtest

    months = [date(2026, m, 1) for m in range(1, 6)]
    falling = make.organization(account_number="A1", personalization_consent=True)
    for month, minutes in zip(months, (1000, 800, 600, 300, 300), strict=True):
        _monthly(falling, month, minutes)
    steady = make.organization(account_number="B1", personalization_consent=True)
    for month in months:
        _monthly(steady, month, 500)
    private = make.organization(account_number="C1", personalization_consent=False)
    for month, minutes in zip(months, (1000, 500, 100, 10, 1), strict=True):
        _monthly(private, month, minutes)
    result = retention_risk_backtest()
    assert [(a, m.month, s, left) for a, m, s, left in result.points] == [
        ("A1", 4, 40, True),  # Jan–Mar fell 40 %: high; April fell 50 %: a sign of leaving
        ("A1", 5, 50, False),  # Feb–Apr fell 62.5 % (capped at 50); May flat
        ("B1", 4, 0, False),
        ("B1", 5, 0, False),
    ]
    assert (result.precision, result.recall) == (D("0.500"), D("1.000"))
    out = StringIO()
    call_command("offers_retention_backtest", stdout=out)
    assert "4 organization-months; high risk (>= 40): 2; signs of leaving: 1; both: 1" in out.getvalue()
    assert "precision 0.500, recall 1.000" in out.getvalue()
