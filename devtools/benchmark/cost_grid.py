"""Figure 8: does the API's cost estimate rank queries as their real time does? (issue 16 item 2)

Thirty queries of different shapes (rollup level, period length, grouping, filters, page size and order,
two organizations of different size) run through the GraphQL view in this process, each timed as the
median of a few runs, next to the points the cost model gives it before it runs. Printed: their
Spearman rank correlation (goal ≥ 0.8), the largest milliseconds per point, and the per-organization
budget that largest ratio allows for a stated share of the server, beside the configured one.
The per-query limit and the budgets are lifted for the grid (it measures what the limits would refuse).
"""

from __future__ import annotations

import json
import os
from datetime import date, timedelta

from django.conf import settings
from django.test import Client, override_settings
from graphql import parse

from billing.models import Organization
from devtools.benchmark import Report, percentile, timed
from portal.api.core import costs, limits, view
from portal.api.core.auth import authenticate_token
from portal.api.schema import schema

SERVER_SHARE = 0.25  # what one organization's budget may buy of the whole server, per minute

GRID_SUMMARY = """query Grid($p: PeriodInput!, $g: [UsageDimension!]!, $f: UsageFilterInput, $first: Int) {
  usageSummary(period: $p, groupBy: $g, filter: $f, first: $first, orderBy: null) {
    rows { keys { label } metrics { calls minutes cost } } totals { calls cost } groupCount } }"""
GRID_RECORDS = """query GridRecords($p: PeriodInput!, $f: UsageFilterInput, $n: Int!, $o: UsageRecordOrder) {
  usageRecords(period: $p, filter: $f, first: $n, orderBy: $o) {
    edges { node { id startedAt durationSeconds otherParty cost person { name } line { number } } } } }"""


def _p(start: date, end: date) -> dict:
    return {"from": start.isoformat(), "to": end.isoformat()}


def grid(start: date, end: date) -> list[tuple[str, str, dict]]:
    """(name, query, variables) for the 30 shapes; ``start``–``end`` are three whole months."""
    last = end.replace(day=1)
    week = (end - timedelta(days=6), end)
    month, quarter = (last, end), (start, end)
    half = ((start - timedelta(days=1)).replace(day=1) - timedelta(days=62), end)
    half = (half[0].replace(day=1), end)
    edges = (start + timedelta(days=9), end - timedelta(days=9))  # monthly rollup + daily edges
    s = [
        ("total, month", [], month, None, None),
        ("location, month", ["LOCATION"], month, None, None),
        ("location, quarter", ["LOCATION"], quarter, None, None),
        ("location × month, 6 months", ["LOCATION", "MONTH"], half, None, None),
        ("person, quarter", ["PERSON"], quarter, None, None),
        ("person × category, quarter", ["PERSON", "CATEGORY"], quarter, None, None),
        ("band, month", ["DURATION_BAND"], month, None, None),
        ("location, quarter ± 9 days (edges daily)", ["LOCATION"], edges, None, None),
        ("line, week", ["LINE"], week, None, None),
        ("line, month", ["LINE"], month, None, None),
        ("line, quarter", ["LINE"], quarter, None, None),
        ("day, quarter", ["DAY"], quarter, None, None),
        ("line × day, month", ["LINE", "DAY"], month, None, None),
        ("line × day, quarter", ["LINE", "DAY"], quarter, None, None),
        ("country, 6 months", ["COUNTRY"], half, None, None),
        ("hour, month (hourly)", ["HOUR"], month, None, None),
        ("weekday × hour, quarter (hourly)", ["WEEKDAY", "HOUR"], quarter, None, None),
        ("person × hour, quarter (hourly)", ["PERSON", "HOUR"], quarter, None, None),
        ("line × hour, week (raw)", ["LINE", "HOUR"], week, None, None),
        ("line × hour, month (raw)", ["LINE", "HOUR"], month, None, None),
        ("location, month, calls ≥ 10 min (raw)", ["LOCATION"], month, {"minDurationSeconds": 600}, None),
        ("line × day, 6 months, top 10", ["LINE", "DAY"], half, None, 10),
    ]
    out = [
        (name, GRID_SUMMARY, {"p": _p(*period), "g": group_by, "f": filters, "first": first})
        for name, group_by, period, filters, first in s
    ]
    r = [
        ("records: page of 10, month", month, None, 10, "TIME"),
        ("records: page of 100, month", month, None, 100, "TIME"),
        ("records: page of 100, quarter", quarter, None, 100, "TIME"),
        ("records: 50 longest, month", month, None, 50, "DURATION"),
        ("records: 100 longest, week", week, None, 100, "DURATION"),
        ("records: 100 premium calls, quarter", quarter, {"categories": ["PREMIUM"]}, 100, "TIME"),
        ("records: 100 calls ≥ 1 h, quarter", quarter, {"minDurationSeconds": 3600}, 100, "TIME"),
        ("records: page of 50, week", week, None, 50, "TIME"),
    ]
    out += [
        (name, GRID_RECORDS, {"p": _p(*period), "f": filters, "n": n, "o": order})
        for name, period, filters, n, order in r
    ]
    return out


def spearman(xs: list[float], ys: list[float]) -> float:
    """Spearman's rank correlation (ties take their average rank)."""

    def ranks(values):
        order = sorted(range(len(values)), key=lambda i: values[i])
        out = [0.0] * len(values)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for k in range(i, j + 1):
                out[order[k]] = (i + j) / 2 + 1
            i = j + 1
        return out

    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    var = (sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry)) ** 0.5
    return cov / var if var else 0.0


def figure_cost_grid(report: Report, tokens: dict[Organization, str], start: date, end: date, repeats: int) -> None:
    """``tokens``: one analyst token per organization measured (the largest and a small one)."""
    rows = []
    cpus = os.cpu_count() or 1
    saved = (limits.MAX_COST, view.RATE_LIMIT_POINTS)
    limits.MAX_COST, view.RATE_LIMIT_POINTS = 10**9, 10**12
    try:
        with override_settings(GRAPHQL_ORGANIZATION_POINTS_PER_MINUTE=10**12):
            for org, token in tokens.items():
                client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
                context = costs.CostContext(authenticate_token(token).scope)
                # The largest organization gets every shape, the others every third (other statistics).
                shapes = grid(start, end)[:: 1 if not rows else 3]
                for name, query, variables in shapes:
                    body = json.dumps({"query": query, "variables": variables})

                    def run(body=body, name=name, client=client):
                        response = client.post("/graphql/", body, content_type="application/json")
                        answer = response.json()
                        if response.status_code != 200 or answer.get("errors"):
                            raise RuntimeError(f"grid query '{name}' answered {response.status_code}: {answer}")
                        return answer

                    reported = run()["extensions"]["cost"]["requestedQueryCost"]
                    ms = percentile(timed(run, repeats, warmup=0), 50)
                    points = limits.analyze(schema.graphql_schema, parse(query), None, variables, context).points
                    if reported != max(1, -(-points // 1)):
                        raise RuntimeError(f"'{name}': the server charged {reported}, the model says {points:.2f}")
                    rows.append((f"{org.name}: {name}", points, ms))
    finally:
        limits.MAX_COST, view.RATE_LIMIT_POINTS = saved
    rho = spearman([p for _, p, _ in rows], [ms for _, _, ms in rows])
    worst = max(rows, key=lambda r: r[2] / r[1])
    ms_per_point = worst[2] / worst[1]
    configured = settings.GRAPHQL_ORGANIZATION_POINTS_PER_MINUTE
    share = configured * ms_per_point / (cpus * 60_000)  # of the whole server's minute, at the worst ratio
    report.context["cost_grid"] = [{"query": n, "points": round(p, 2), "ms": round(ms, 2)} for n, p, ms in rows]
    report.add("8.cost.queries", "cost grid: queries measured (shapes × organizations)", len(rows), "queries")
    report.add(
        "8.cost.spearman",
        "cost grid: Spearman rank correlation, estimated points vs measured ms",
        rho,
        "",
        "≥ 0.8",
        rho >= 0.8,
        note="; ".join(f"{n} {p:.1f} pt {ms:.1f} ms" for n, p, ms in sorted(rows, key=lambda r: r[1])),
    )
    report.add(
        "8.cost.max_ms_per_point",
        "cost grid: largest ms per point",
        ms_per_point,
        "ms",
        note=f"at {worst[0]} ({worst[1]:.1f} points, {worst[2]:.1f} ms)",
    )
    report.add(
        "8.cost.org_budget_share",
        f"share of the server ({cpus} cores) one organization's budget of {configured:,} points a minute buys",
        share * 100,
        "%",
        f"≤ {SERVER_SHARE:.0%}",
        share <= SERVER_SHARE,
        note=f"at the grid's largest ms per point; {int(SERVER_SHARE * cpus * 60_000 / ms_per_point):,} points "
        f"a minute would be {SERVER_SHARE:.0%}",
    )
