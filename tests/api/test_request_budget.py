"""Every API request has a total deadline, database and Python together (portal/api/core/budget.py)."""

import time

import pytest
from django.db import connection

from billing.usage import selectors

SUMMARY = '{ usageSummary(period: {from: "2026-10-01", to: "2026-10-31"}, groupBy: [LOCATION]) { totals { calls } } }'


@pytest.fixture
def client_api(acme, api, token_for):
    return api(token_for(acme))


def _timed(client_api, query):
    started = time.monotonic()
    status, body = client_api.post(query)
    return status, body, time.monotonic() - started


def test_a_slow_statement_is_cancelled_at_the_budget(client_api, settings, monkeypatch):
    settings.GRAPHQL_REQUEST_BUDGET_MS = 600
    real = selectors.usage_summary

    def slow_summary(**kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(5)")
        return real(**kwargs)

    monkeypatch.setattr(selectors, "usage_summary", slow_summary)
    status, body, elapsed = _timed(client_api, SUMMARY)
    assert status == 503, body
    [error] = body["errors"]
    assert error["extensions"] == {"code": "QUERY_TIMEOUT", "limit": 600}
    assert "600 ms" in error["message"]
    assert elapsed < 2.5  # cancelled by the database near the budget, not after the 5 s sleep


def test_statements_in_a_row_share_one_budget(client_api, settings, monkeypatch):
    """Each statement alone is under the per-statement timeout; together they are over the budget."""
    settings.GRAPHQL_REQUEST_BUDGET_MS = 900
    settings.GRAPHQL_STATEMENT_TIMEOUT_MS = 5000
    real = selectors.usage_summary
    calls = []

    def summary_after_a_while(**kwargs):
        calls.append(1)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(0.4)")
        return real(**kwargs)

    monkeypatch.setattr(selectors, "usage_summary", summary_after_a_while)
    aliases = " ".join(f"s{i}: {SUMMARY[2:-2]}" for i in range(6))
    status, body, elapsed = _timed(client_api, "{ " + aliases + " }")
    assert status == 503 and body["errors"][0]["extensions"]["code"] == "QUERY_TIMEOUT", body
    assert len(calls) <= 3 and elapsed < 2.0  # 6 × 0.4 s would be 2.4 s
    assert "data" not in body


def test_python_work_between_resolvers_is_stopped_too(client_api, settings, monkeypatch):
    settings.GRAPHQL_REQUEST_BUDGET_MS = 700
    real = selectors.usage_summary
    calls = []

    def busy_summary(**kwargs):
        calls.append(1)
        time.sleep(0.3)  # no SQL running: only the Python check can stop this
        return real(**kwargs)

    monkeypatch.setattr(selectors, "usage_summary", busy_summary)
    aliases = " ".join(f"s{i}: {SUMMARY[2:-2]}" for i in range(8))
    status, body, elapsed = _timed(client_api, "{ " + aliases + " }")
    assert status == 503 and body["errors"][0]["extensions"]["code"] == "QUERY_TIMEOUT", body
    assert len(calls) <= 4 and elapsed < 1.8


def test_requests_within_the_budget_answer_normally(client_api, settings):
    settings.GRAPHQL_REQUEST_BUDGET_MS = 8000
    status, body = client_api.post(SUMMARY)
    assert status == 200 and "errors" not in body and body["data"]["usageSummary"]["totals"]["calls"] == 10
    with connection.cursor() as cursor:  # the request's statement_timeout did not leak into the connection
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] != "1ms"
