"""The cost of a query follows what it will read, is charged before it runs, and one organization's
budget is its own (portal/api/core/costs.py, billing/usage/estimate.py)."""

from datetime import date

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.usage.estimate import UsageStatistics, statistics_key, usage_statistics
from portal.api.core import costs, limits, view

SUMMARY = """query ($from: Date!, $to: Date!, $groupBy: [UsageDimension!]!) {
  usageSummary(period: {from: $from, to: $to}, groupBy: $groupBy) {
    rows { keys { label } metrics { calls cost } } totals { calls } } }"""
# The "query from hell": every line, every day, every hour of two years.
HELL = {"from": "2024-10-31", "to": "2026-10-31", "groupBy": ["LINE", "DAY", "HOUR"]}


def _cost(client_api, **variables) -> int:
    status, body = client_api.post(SUMMARY, variables)
    assert status == 200 and "errors" not in body, body
    return body["extensions"]["cost"]["requestedQueryCost"]


def _big_warehouse(org) -> None:
    """Statistics of an organization with 2,000 lines and 400,000 records a month for two years."""
    stats = UsageStatistics(locations=50, persons=2000, lines=2000, countries=60)
    for year in (2024, 2025, 2026):
        for month in range(1, 13):
            first = date(year, month, 1)
            stats.rows["monthly"][first] = 6_000
            stats.rows["daily"][first] = 250_000
            stats.rows["hourly"][first] = 300_000
            stats.rows["raw"][first] = 400_000
    cache.set(statistics_key(org.id), stats, 600)


@pytest.fixture
def client_api(acme, api, token_for):
    return api(token_for(acme))


def test_cost_follows_period_grouping_and_level(acme, client_api):
    _big_warehouse(acme)
    month_by_location = _cost(client_api, **{"from": "2026-10-01", "to": "2026-10-31", "groupBy": ["LOCATION"]})
    year_by_location = _cost(client_api, **{"from": "2025-11-01", "to": "2026-10-31", "groupBy": ["LOCATION"]})
    by_category = _cost(client_api, **{"from": "2026-10-01", "to": "2026-10-31", "groupBy": ["LOCATION", "CATEGORY"]})
    month_by_line = _cost(client_api, **{"from": "2026-10-01", "to": "2026-10-31", "groupBy": ["LINE"]})
    # Twelve months of the monthly rollup cost more than one; a second dimension multiplies the groups
    # the answer carries; lines are read from the daily rollup, far larger than the monthly one.
    assert month_by_location < year_by_location < month_by_line
    assert month_by_location < by_category < month_by_line


def test_the_query_from_hell_is_refused_before_it_runs_with_its_cost(acme, client_api):
    _big_warehouse(acme)
    with CaptureQueriesContext(connection) as queries:
        status, body = client_api.post(SUMMARY, HELL)
    assert status == 400, body
    error = body["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["limit"] == limits.MAX_COST and error["extensions"]["cost"] > limits.MAX_COST
    assert f"would cost {error['extensions']['cost']} points; the limit is {limits.MAX_COST}" in error["message"]
    assert not [q["sql"] for q in queries.captured_queries if "billing_usage" in q["sql"]]


def test_the_same_query_is_cheap_where_there_is_little_to_read(acme, client_api):
    """ACME has ten calls: two years by line, day and hour read a few hundred rows at most."""
    assert _cost(client_api, **HELL) < 50


def test_the_organizations_statistics_are_read_once_then_cached(acme, client_api):
    variables = {"from": "2026-10-01", "to": "2026-10-31", "groupBy": ["LOCATION"]}
    _cost(client_api, **variables)
    stats = usage_statistics(acme.id)
    assert stats.records == 10 and stats.lines == 3 and stats.rows["monthly"][date(2026, 10, 1)] > 0
    with CaptureQueriesContext(connection) as queries:
        _cost(client_api, **variables)
    assert not [q["sql"] for q in queries.captured_queries if "billing_usagehourly" in q["sql"]]


def test_a_cost_hint_applies_to_any_field(acme, client_api, monkeypatch):
    """Other modules declare hints for their fields; the walker applies them and the sizes they give."""
    query = "{ viewer { role } }"
    baseline = client_api.post(query)[1]["extensions"]["cost"]["requestedQueryCost"]
    monkeypatch.setitem(costs.HINTS, ("Query", "viewer"), lambda context, args: costs.FieldCost(points=500))
    hinted = client_api.post(query)[1]["extensions"]["cost"]["requestedQueryCost"]
    assert baseline < 20 and hinted == baseline - costs.ROOT_FIELD_POINTS + 500  # the hint replaces the default
    assert costs.nested_sizes({"rows": 5, "rows.keys": 2}) == {"rows": (5, {"keys": (2, {})})}


def test_organization_budget_refuses_with_retry_after_resets_and_spares_other_organizations(
    acme, make, api, token_for, settings, monkeypatch
):
    now = [1_900_000_000.0]  # pinned: the window is the minute of this clock
    monkeypatch.setattr(view.time, "time", lambda: now[0])
    settings.GRAPHQL_ORGANIZATION_POINTS_PER_MINUTE = 40
    query = '{ usageSummary(period: {from: "2026-10-01", to: "2026-10-31"}, groupBy: [LOCATION]) { totals { calls } } }'
    first, second = api(token_for(acme)), api(token_for(acme))
    status, body = first.post(query)
    assert status == 200
    cost = body["extensions"]["cost"]
    assert cost["organizationLimit"] == 40 and cost["organizationRemaining"] == 40 - cost["requestedQueryCost"]
    while status == 200:
        status, body = first.post(query)
    assert status == 429
    # Another token of the same organization shares its budget ...
    response = second.client.post(
        "/graphql/",
        f'{{"query": "{query.replace(chr(34), chr(92) + chr(34))}"}}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {second.token}",
    )
    error = response.json()["errors"][0]
    assert response.status_code == 429 and error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["budget"] == "organization" and error["extensions"]["limit"] == 40
    assert "organization's budget of 40 cost points per minute" in error["message"]
    assert response["Retry-After"] == str(int((now[0] // 60 + 1) * 60 - now[0]) + 1)
    # ... another organization does not.
    other = make.organization(name="Other GmbH", time_zone="Europe/Berlin", country="DE")
    assert api(token_for(other)).post(query)[0] == 200
    # The next minute, the budget is whole again.
    now[0] += 60
    status, body = second.post(query)
    assert status == 200 and body["extensions"]["cost"]["organizationRemaining"] == 40 - cost["requestedQueryCost"]


def test_a_request_refused_for_concurrency_gives_its_points_back(acme, api, token_for, settings, monkeypatch):
    monkeypatch.setattr(view.time, "time", lambda: 1_900_000_030.0)  # one window throughout
    client_api = api(token_for(acme))
    query = '{ usageSummary(period: {from: "2026-10-01", to: "2026-10-31"}, groupBy: [LOCATION]) { totals { calls } } }'
    settings.GRAPHQL_CONCURRENCY_PER_ORGANIZATION = 0  # every slot taken
    for _ in range(3):
        status, body = client_api.post(query)
        assert status == 429 and body["errors"][0]["extensions"]["code"] == "CONCURRENCY_LIMIT"
    settings.GRAPHQL_CONCURRENCY_PER_ORGANIZATION = 4
    status, body = client_api.post(query)
    cost = body["extensions"]["cost"]
    assert status == 200 and cost["remaining"] == cost["limit"] - cost["requestedQueryCost"]
    assert cost["organizationRemaining"] == cost["organizationLimit"] - cost["requestedQueryCost"]
