"""At most N API executions at once per organization and per token (portal/api/core/fairness.py), with
real parallel requests against the live test server: the rest get 429 CONCURRENCY_LIMIT at once, and
another organization is not held up."""

import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from django.db import connection

from billing.usage import selectors
from portal.api.core import fairness

SUMMARY = '{ usageSummary(period: {from: "2026-10-01", to: "2026-10-31"}, groupBy: [LOCATION]) { totals { calls } } }'


def _post(base_url: str, token: str) -> tuple[int, dict, dict, float]:
    request = urllib.request.Request(  # noqa: S310 - the live test server
        f"{base_url}/graphql/",
        data=json.dumps({"query": SUMMARY}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, dict(response.headers), json.loads(response.read()), time.monotonic() - started
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read()), time.monotonic() - started


def _at_once(base_url: str, tokens: list[str]) -> list[tuple]:
    results, barrier = [None] * len(tokens), threading.Barrier(len(tokens))

    def run(i, token):
        barrier.wait()
        results[i] = _post(base_url, token)

    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.fixture
def slow_summaries(monkeypatch):
    real = selectors.usage_summary

    def slow(**kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(1.0)")
        return real(**kwargs)

    monkeypatch.setattr(selectors, "usage_summary", slow)


@pytest.mark.django_db(transaction=True)
def test_concurrent_executions_per_token_and_per_organization(
    live_server, acme, make, token_for, settings, slow_summaries
):
    settings.GRAPHQL_CONCURRENCY_PER_TOKEN = 2
    settings.GRAPHQL_CONCURRENCY_PER_ORGANIZATION = 3
    one = token_for(acme)
    results = _at_once(live_server.url, [one] * 5)
    statuses = sorted(r[0] for r in results)
    assert statuses == [200, 200, 429, 429, 429], [r[2] for r in results]
    slowest_refusal = max(r[3] for r in results if r[0] == 429)
    for status, headers, body, elapsed in results:
        if status == 429:
            assert headers["Retry-After"] == "1"
            assert body["errors"][0]["extensions"] == {"code": "CONCURRENCY_LIMIT", "limit": 2}
            assert "this token" in body["errors"][0]["message"]
        else:
            assert body["data"]["usageSummary"]["totals"]["calls"] == 10
            assert elapsed > slowest_refusal  # refused at once, not after waiting for a slot
    # Four tokens of one organization: three run, the fourth is refused for the organization.
    tokens = [token_for(acme) for _ in range(4)]
    statuses = sorted(r[0] for r in _at_once(live_server.url, tokens))
    assert statuses == [200, 200, 200, 429]
    # Slots are given back: one after the other, every request runs.
    assert [_post(live_server.url, one)[0] for _ in range(3)] == [200, 200, 200]


@pytest.mark.django_db(transaction=True)
def test_another_organization_is_not_held_up(live_server, acme, make, token_for, settings, slow_summaries):
    from tests.api.conftest import add_calls

    settings.GRAPHQL_CONCURRENCY_PER_TOKEN = 2
    settings.GRAPHQL_CONCURRENCY_PER_ORGANIZATION = 2
    other = make.organization(name="Other AG", time_zone="Europe/Berlin", country="DE")
    assert add_calls  # the other organization needs no calls: its summary is zero
    busy = [token_for(acme) for _ in range(4)]
    theirs = token_for(other)
    results = _at_once(live_server.url, [*busy, theirs])
    assert sorted(r[0] for r in results[:4]) == [200, 200, 429, 429]
    assert results[4][0] == 200 and results[4][2]["data"]["usageSummary"]["totals"]["calls"] == 0


def test_a_request_takes_slots_by_its_cost():
    assert [fairness.slots_for(cost, 4) for cost in (1, 249, 250, 600, 5000)] == [1, 1, 2, 3, 4]


@pytest.mark.django_db(transaction=True)
def test_one_costly_query_holds_every_slot_of_its_organization(
    live_server, acme, make, token_for, settings, slow_summaries
):
    """A query that costs seconds leaves no room for a second one beside it; cheap ones fit again after."""
    from tests.api.test_query_cost import _big_warehouse

    settings.GRAPHQL_CONCURRENCY_PER_TOKEN = 2
    settings.GRAPHQL_CONCURRENCY_PER_ORGANIZATION = 3
    heavy_query = SUMMARY.replace("groupBy: [LOCATION]", "groupBy: [LOCATION, DAY, DIRECTION]").replace(
        "{ totals", "{ rows { keys { label } metrics { calls cost } } totals"
    )
    heavy_token, cheap_tokens = token_for(acme), [token_for(acme) for _ in range(2)]
    _big_warehouse(acme)
    heavy = {}

    def run_heavy():
        request = urllib.request.Request(  # noqa: S310 - the live test server
            f"{live_server.url}/graphql/",
            data=json.dumps({"query": heavy_query}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {heavy_token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            heavy["body"] = json.loads(response.read())

    thread = threading.Thread(target=run_heavy)
    thread.start()
    time.sleep(0.4)  # the heavy summary is running (it sleeps 1 s in the database)
    during = [_post(live_server.url, token) for token in cheap_tokens]
    thread.join(30)
    cost = heavy["body"]["extensions"]["cost"]["requestedQueryCost"]
    assert fairness.slots_for(cost, 3) == 3, cost
    assert [r[0] for r in during] == [429, 429]
    assert "your organization already has 3" in during[0][2]["errors"][0]["message"]
    assert sorted(_post(live_server.url, token)[0] for token in cheap_tokens) == [200, 200]


@pytest.mark.services
def test_redis_slots_are_shared_and_heal(settings):
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        pytest.skip("no Redis listens on 127.0.0.1:6379")
    import redis

    client = redis.Redis.from_url("redis://127.0.0.1:6379/15")

    class Caller:
        token = None
        rate_key = f"user:test-{time.time_ns()}"

        class membership:  # noqa: N801 - stands in for the model
            user_id = 1

        class scope:  # noqa: N801
            class organization:  # noqa: N801
                id = time.time_ns()

    settings.GRAPHQL_CONCURRENCY_PER_ORGANIZATION = 3
    settings.GRAPHQL_CONCURRENCY_PER_TOKEN = 2
    first, second, third = (fairness.RedisSlots(client, stale_after_seconds=0.5) for _ in range(3))
    first.acquire(Caller)
    second.acquire(Caller)
    with pytest.raises(fairness.ConcurrencyLimited, match="already has 2"):
        third.acquire(Caller)
    assert third.held == []  # gave back the organization's slot it had taken
    first.release()
    third.acquire(Caller)
    third.release()
    time.sleep(0.6)  # second "died" holding its slot: stale after 0.5 s
    first.acquire(Caller)
    fourth = fairness.RedisSlots(client, stale_after_seconds=0.5)
    with pytest.raises(fairness.ConcurrencyLimited, match="organization already has 3"):
        fourth.acquire(Caller, cost=2 * fairness.HEAVY_POINTS)  # needs 3 slots, 2 are free
    assert fourth.held == []
    fourth.acquire(Caller)
    first.release()
    fourth.release()
    client.close()
