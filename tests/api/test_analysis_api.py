"""usageTimeSeries, usagePivot, usageForecast, usageAnomalies and the filter's exclusions over GraphQL, on
pinned data (tests/usage/analysis_data.py) with the answers of tests/usage/test_analysis.py."""

from datetime import date
from decimal import Decimal

import pytest

from portal.api.core.nodes import encode_id
from tests.usage.analysis_data import days, firm, write_daily
from tests.usage.test_analysis import pattern

PIVOT = """query($period: PeriodInput!) {
  usagePivot(period: $period, rows: PERSON, columns: MONTH) {
    columns rowCount total columnTotals
    rows { label isOthers cells total key { id } }
  }
}"""


@pytest.fixture
def pinned(make):
    org = firm(make)
    write_daily(org, org.line_a, {d: "2.00" for d in days(date(2026, 9, 1), date(2026, 11, 20))})
    write_daily(org, org.line_b, {d: "1.00" for d in days(date(2026, 10, 1), date(2026, 10, 31))})
    write_daily(org, org.line_c, {date(2026, 10, 5): "7.50", date(2026, 11, 2): "3.25"})
    return org


def test_pivot_person_by_month(api, token_for, pinned):
    data = api(token_for(pinned)).data(PIVOT, {"period": {"from": "2026-09-01", "to": "2026-11-30"}})["usagePivot"]
    assert data["columns"] == ["2026-09-01", "2026-10-01", "2026-11-01"]
    assert [(r["label"], [Decimal(c) for c in r["cells"]], Decimal(r["total"])) for r in data["rows"]] == [
        ("Anna", [Decimal(60), Decimal(62), Decimal(40)], Decimal(162)),
        ("Ben", [0, Decimal(31), 0], Decimal(31)),
        ("Cem", [0, Decimal("7.5"), Decimal("3.25")], Decimal("10.75")),
    ]
    assert [Decimal(c) for c in data["columnTotals"]] == [60, Decimal("100.5"), Decimal("43.25")]
    assert Decimal(data["total"]) == Decimal("203.75")
    assert data["rows"][0]["key"]["id"] == encode_id("Person", pinned.anna.id)


def test_time_series_with_others(api, token_for, pinned):
    query = """{ usageTimeSeries(period: {from: "2026-10-01", to: "2026-10-31"}, interval: DAY, splitBy: PERSON,
        first: 1) { buckets stacked seriesCount series { label isOthers values key { label } } totals } }"""
    data = api(token_for(pinned)).data(query)["usageTimeSeries"]
    assert len(data["buckets"]) == 31 and data["buckets"][4] == "2026-10-05" and data["stacked"]
    assert [(s["label"], s["isOthers"]) for s in data["series"]] == [("Anna", False), ("Others", True)]
    assert data["series"][1]["key"] is None and Decimal(data["series"][1]["values"][4]) == Decimal("8.5")
    assert Decimal(data["totals"][4]) == Decimal("10.5")


def test_forecast_of_a_flat_history(api, token_for, pinned):
    query = """query($anna: ID!) { usageForecast(asOf: "2026-11-20", filter: {persons: [$anna]}) {
        method methodDescription period { from to }
        total { current { actual forecast projected low high backtests } nextPeriods { period { from } projected } }
    } }"""
    data = api(token_for(pinned)).data(query, {"anna": encode_id("Person", pinned.anna.id)})["usageForecast"]
    assert data["method"] == "weekday_seasonal_run_rate" and "weekday" in data["methodDescription"]
    current = data["total"]["current"]
    assert [Decimal(current[k]) for k in ("actual", "forecast", "projected", "low", "high")] == [
        40,
        20,
        60,
        60,
        60,
    ]
    assert current["backtests"] == 8
    assert [(p["period"]["from"], Decimal(p["projected"])) for p in data["total"]["nextPeriods"]] == [
        ("2026-12-01", 62),
        ("2027-01-01", 62),
        ("2027-02-01", 56),
    ]


@pytest.fixture
def spiky(make):
    org = firm(make)
    history = days(date(2026, 9, 1), date(2026, 11, 30))
    write_daily(org, org.line_a, {d: (Decimal("30.00") if d == date(2026, 11, 10) else pattern(d)) for d in history})
    write_daily(org, org.line_c, {date(2026, 11, 16): "12.00"})
    return org


ANOMALIES = """{ usageAnomalies(period: {from: "2026-11-01", to: "2026-11-30"}, dimensions: [PERSON]) {
    method minExcess totalExcess anomalies { dimension day cost usual excess score key { label } } } }"""


def test_anomalies_with_their_money_value(api, token_for, spiky):
    data = api(token_for(spiky)).data(ANOMALIES)["usageAnomalies"]
    assert data["method"] == "robust_z_score_same_weekday_8_weeks" and Decimal(data["minExcess"]) == 5
    found = [(a["key"]["label"], a["day"], a["score"] is None) for a in data["anomalies"]]
    assert found == [("Anna", "2026-11-10", False), ("Cem", "2026-11-16", True)]
    anna = data["anomalies"][0]
    assert Decimal(anna["cost"]) - Decimal(anna["usual"]) == Decimal(anna["excess"])
    assert Decimal(data["totalExcess"]) == Decimal(anna["excess"]) + 12


def test_a_location_manager_sees_only_its_locations_anomalies(api, token_for, spiky):
    token = token_for(spiky, role="location_manager")
    from portal.models import Membership

    Membership.objects.filter(organization=spiky, role="location_manager").get().locations.set([spiky.hq])
    data = api(token).data(ANOMALIES)["usageAnomalies"]
    assert [a["key"]["label"] for a in data["anomalies"]] == ["Anna"]


def test_summary_with_an_exclusion_and_five_dimensions(api, token_for, pinned):
    query = """query($anna: ID!) { usageSummary(period: {from: "2026-10-01", to: "2026-10-31"}, groupBy: [PERSON],
        filter: {exclude: {persons: [$anna]}}) { totals { cost } rows { keys { label } } } }"""
    data = api(token_for(pinned)).data(query, {"anna": encode_id("Person", pinned.anna.id)})["usageSummary"]
    assert Decimal(data["totals"]["cost"]) == Decimal("38.5")
    assert sorted(r["keys"][0]["label"] for r in data["rows"]) == ["Ben", "Cem"]
    five = """{ usageSummary(period: {from: "2026-10-01", to: "2026-10-31"},
        groupBy: [LOCATION, PERSON, LINE, CATEGORY, DIRECTION]) { groupCount } }"""
    assert api(token_for(pinned)).data(five)["usageSummary"]["groupCount"] == 3


@pytest.mark.parametrize(
    "query, field",
    [
        (
            'usagePivot(period: {from: "2026-10-01", to: "2026-10-31"}, rows: PERSON, columns: LOCATION) { total }',
            "columns",
        ),
        ('usageTimeSeries(period: {from: "2026-10-01", to: "2026-10-31"}, interval: PERSON) { buckets }', "interval"),
        ('usageAnomalies(period: {from: "2026-01-01", to: "2026-10-31"}) { minExcess }', "period"),
        ("usageForecast(groupBy: DAY) { method }", "groupBy"),
        (
            'usageSummary(period: {from: "2026-10-01", to: "2026-10-31"}, '
            "groupBy: [LOCATION, PERSON, LINE, CATEGORY, DIRECTION, COUNTRY]) { groupCount }",
            "groupBy",
        ),
        (
            'usageSummary(period: {from: "2026-10-01", to: "2026-10-31"}, groupBy: [], '
            'filter: {weeks: ["2026-10-06"]}) { groupCount }',
            "filter.weeks",
        ),
    ],
)
def test_bad_arguments_say_which(api, token_for, pinned, query, field):
    status, body = api(token_for(pinned)).post("{ " + query + " }")
    assert status == 200 and body["errors"][0]["extensions"]["code"] == "BAD_ARGUMENT", body
    assert body["errors"][0]["extensions"]["field"] == field
