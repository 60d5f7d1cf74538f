"""Figure 9: one organization firing its heaviest allowed queries does not slow another's small ones
(issue 16 item 3).

Side by side, on the production server: an organization's small summaries timed alone, then again
while the largest organization keeps more clients than its concurrency limit busy with the heaviest
summary the per-query cost limit allows (back to back; a refused client waits 0.1 s before it tries
again, as the benchmark's clients share these two cores with the server); then once more on a server
whose per-minute budgets are lifted, so that the concurrency limit alone stands between the two.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from datetime import date, timedelta

from graphql import parse

from devtools.benchmark import Report, percentile
from devtools.benchmark.cost_grid import GRID_SUMMARY
from devtools.benchmark.figures import SUMMARY, Api, _period
from devtools.benchmark.setup import WebServer
from portal.api.core import costs, limits
from portal.api.core.auth import authenticate_token
from portal.api.schema import schema

HEAVY_CLIENTS = 6  # more than the organization's 4 concurrent executions: some are refused, as they would be


def heaviest_allowed(token: str, start: date, end: date) -> tuple[str, dict, float]:
    """The summary shape with the most points under the per-query limit, for this token's organization."""
    context = costs.CostContext(authenticate_token(token).scope)
    best = None
    for months_back in (1, 2, 3, 6):
        first = end.replace(day=1)
        for _ in range(months_back - 1):
            first = (first - timedelta(days=1)).replace(day=1)
        for group_by in (["LINE", "DAY"], ["PERSON", "HOUR"], ["LINE", "HOUR"], ["LINE", "CATEGORY", "DAY"]):
            variables = {"p": _period(first, end), "g": group_by, "f": None, "first": None}
            try:
                points = limits.analyze(schema.graphql_schema, parse(GRID_SUMMARY), None, variables, context).points
            except limits.ApiError:
                continue  # over the per-query limit: not allowed
            if best is None or points > best[2]:
                best = (GRID_SUMMARY, variables, points)
    if best is None:
        raise RuntimeError("no summary shape is under the per-query cost limit")
    return best


def _shared_counters() -> dict[str, str]:
    """Budgets and slots shared by the server's processes through Redis, as production runs them, where
    a Redis listens here (without it every gunicorn process would count its own budget)."""
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return {}
    return {"REDIS_URL": "redis://127.0.0.1:6379/13"}


def _victim_series(api: Api, variables: dict, requests: int) -> tuple[list[float], int]:
    ms, errors = [], 0
    for _ in range(requests):
        began = time.perf_counter()
        status, data = api.graphql(SUMMARY % "[LOCATION]", variables)
        ms.append((time.perf_counter() - began) * 1000)
        errors += status != 200 or bool(data.get("errors"))
        time.sleep(0.05)  # a person clicking through the explorer, not a tight loop
    return ms, errors


def _beside_heavy(server, query, heavy_vars, heavy_tokens, victim_token, victim_vars, requests):
    """The victim's series while HEAVY_CLIENTS clients of the heavy organization fire back to back."""
    outcomes: Counter = Counter()
    heavy_ms: list[float] = []
    stop = threading.Event()

    def hammer(token: str) -> None:
        api = Api(server.url, token)
        while not stop.is_set():
            began = time.perf_counter()
            try:
                status, data = api.graphql(query, heavy_vars)
            except Exception as exc:  # noqa: BLE001 - counted, the hammering goes on
                outcomes[type(exc).__name__] += 1
                api = Api(server.url, token)
                continue
            code = (data.get("errors") or [{}])[0].get("extensions", {}).get("code")
            outcomes[code or f"HTTP {status}"] += 1
            if status == 200 and not code:
                heavy_ms.append((time.perf_counter() - began) * 1000)
            elif status == 429:
                time.sleep(0.1)

    threads = [
        threading.Thread(target=hammer, args=(heavy_tokens[i % len(heavy_tokens)],), daemon=True)
        for i in range(HEAVY_CLIENTS)
    ]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.0)  # the heavy requests are running
        beside, errors = _victim_series(Api(server.url, victim_token), victim_vars, requests)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    served = outcomes.pop("HTTP 200", 0)
    return beside, errors, served, outcomes, heavy_ms


def _heavy_note(served, outcomes, heavy_ms, beside, errors) -> str:
    refused = ", ".join(f"{n} × {code}" for code, n in outcomes.most_common()) or "none refused"
    heavy_p50 = percentile(heavy_ms, 50) if heavy_ms else 0
    return (
        f"heavy: {served} served (p50 {heavy_p50:.0f} ms), {refused}; victim p50 {percentile(beside, 50):.0f} ms, "
        f"{errors} errors"
    )


def figure_fairness(
    report: Report,
    heavy_tokens: list[str],
    victim_token: str,
    victim_period: tuple[date, date],
    heavy_period: tuple[date, date],
    *,
    workers: int,
    requests: int,
    log_path,
) -> None:
    """Three series of the victim's small summaries: alone; beside the heavy organization on the
    production server (its budgets and concurrency limit); beside it with the budgets lifted (the
    concurrency limit alone)."""
    query, heavy_vars, points = heaviest_allowed(heavy_tokens[0], *heavy_period)
    victim_vars = {"period": _period(*victim_period)}
    args = (query, heavy_vars, heavy_tokens, victim_token, victim_vars, requests)
    shared = _shared_counters()
    server = WebServer(workers=workers, threads=4, log_path=log_path, **shared)
    try:
        victim = Api(server.url, victim_token)
        victim.ok(SUMMARY % "[LOCATION]", victim_vars)
        alone, alone_errors = _victim_series(victim, victim_vars, requests)
        production = _beside_heavy(server, *args)
    finally:
        server.stop()
    unlimited_budget = {"GRAPHQL_ORGANIZATION_POINTS_PER_MINUTE": str(10**9), "GRAPHQL_RATE_LIMIT_POINTS": str(10**9)}
    server = WebServer(
        workers=workers, threads=4, log_path=log_path.with_suffix(".2.log"), **shared, **unlimited_budget
    )
    try:
        Api(server.url, victim_token).ok(SUMMARY % "[LOCATION]", victim_vars)
        concurrency_only = _beside_heavy(server, *args)
    finally:
        server.stop()
    p95_alone = percentile(alone, 95)
    p95_production, p95_concurrency = percentile(production[0], 95), percentile(concurrency_only[0], 95)
    shape = f"{' × '.join(heavy_vars['g'])} {heavy_vars['p']['from']}–{heavy_vars['p']['to']} ({points:.0f} points)"
    report.context["fairness"] = {"heavy_query": {"variables": heavy_vars, "points": round(points, 1)}}
    report.add(
        "9.fairness.alone_p95_ms",
        "fairness: small summary p95, the organization alone",
        p95_alone,
        "ms",
        note=f"p50 {percentile(alone, 50):.0f} ms, {alone_errors} errors; {requests} requests, 50 ms apart",
    )
    report.add(
        "9.fairness.beside_heavy_p95_ms",
        f"fairness: the same p95 while another organization fires {HEAVY_CLIENTS} clients of its heaviest query",
        p95_production,
        "ms",
        "≤ 500 ms",
        p95_production <= 500 and not production[1],
        note=f"production limits; heavy query {shape}; " + _heavy_note(*production[2:], *production[:2]),
    )
    report.add(
        "9.fairness.concurrency_only_p95_ms",
        "fairness: the same with the heavy organization's budgets lifted (concurrency limit alone)",
        p95_concurrency,
        "ms",
        note=_heavy_note(*concurrency_only[2:], *concurrency_only[:2]),
    )
    report.add("9.fairness.slowdown", "fairness: p95 beside (production) / p95 alone", p95_production / p95_alone, "×")
