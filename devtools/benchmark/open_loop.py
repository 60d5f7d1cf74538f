"""Figure 10: load as users make it (issue 21 item 4). Requests arrive at a set rate (Poisson arrivals),
whether or not earlier ones have been answered, and each is timed from the moment it was due, so a
server that falls behind shows it in the latencies (no coordinated omission). The rate climbs in steps
until one misses p95 ≤ 300 ms or has an error; the figure is the highest step that held.

The traffic is today's load figure's mix (50 % summaries of three kinds, 35 % drill-down pages of 50,
15 % statement lists), spread over every demo organization and several tokens each. The production
server runs with the production configuration, except ``scaled_limits``: four demo organizations carry
the traffic that many more would send (with the limits of one organization, some of it would be
refused at rates one organization never sends).
"""

from __future__ import annotations

import multiprocessing
import queue
import random
import threading
import time
from collections import Counter

from django.conf import settings
from django.db import connections

from devtools.benchmark import Report, percentile
from devtools.benchmark.figures import DRILL_DOWN, LOCATIONS, STATEMENTS, SUMMARIES, SUMMARY, Api, _period

P95_TARGET_MS = 300
STANDS_FOR = 8  # each demo organization stands for this many organizations of the production's size
THREADS_PER_PROCESS = 32


def scaled_limits() -> dict[str, str]:
    """The load servers' environment: each organization's concurrency limit × STANDS_FOR and no
    per-minute organization budget (what one organization may spend is figure 9's question, not the
    load figures'); tokens keep their limits (the clients use several each)."""
    return {
        "GRAPHQL_CONCURRENCY_PER_ORGANIZATION": str(settings.GRAPHQL_CONCURRENCY_PER_ORGANIZATION * STANDS_FOR),
        "GRAPHQL_ORGANIZATION_POINTS_PER_MINUTE": str(10**9),
    }


def _job(rnd: random.Random, org: dict) -> tuple[str, dict]:
    pick = rnd.random()
    if pick < 0.5:
        return SUMMARY % rnd.choice(list(SUMMARIES.values())), {"period": org["period"]}
    if pick < 0.85:
        return DRILL_DOWN, {"period": org["month"], "location": rnd.choice(org["locations"]), "first": 50}
    return STATEMENTS, {}


def _sender(args) -> tuple[list[float], Counter]:
    """One process: ``rate`` arrivals a second for ``seconds``, sent by a pool of keep-alive threads."""
    base_url, orgs, rate, seconds, seed, process, processes = args
    rnd = random.Random(seed)
    due: queue.Queue = queue.Queue()
    latencies: list[float] = []
    failures: Counter = Counter()
    lock = threading.Lock()

    def worker(n: int) -> None:
        # Each thread sends one request at a time with tokens no other thread uses: a token may run
        # two at once, and a 429 for a shared token would be the benchmark's doing, not the server's.
        k, total = process * THREADS_PER_PROCESS + n, processes * THREADS_PER_PROCESS
        apis = {i: Api(base_url, org["tokens"][k % len(org["tokens"]) :: total]) for i, org in enumerate(orgs)}
        while True:
            item = due.get()
            if item is None:
                return
            at, org_index, query, variables = item
            wait = at - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            failure = None
            try:
                status, data = apis[org_index].graphql(query, variables)
                if data.get("errors"):
                    failure = f"HTTP {status} {data['errors'][0].get('extensions', {}).get('code', 'error')}"
                elif status != 200:
                    failure = f"HTTP {status}"
            except Exception as exc:  # noqa: BLE001 - any failure of a request is an error to count
                failure = type(exc).__name__
                apis[org_index] = Api(base_url, apis[org_index].tokens)
            with lock:
                latencies.append((time.perf_counter() - at) * 1000)  # from when it was due
                if failure:
                    failures[failure] += 1

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(THREADS_PER_PROCESS)]
    for thread in threads:
        thread.start()
    began = time.perf_counter() + 0.2
    at = began
    while True:
        at += rnd.expovariate(rate)
        if at > began + seconds:
            break
        org_index = rnd.randrange(len(orgs))
        due.put((at, org_index, *_job(rnd, orgs[org_index])))
    for _ in threads:
        due.put(None)
    for thread in threads:
        thread.join(seconds + 120)
    return latencies, failures


def _step(base_url: str, orgs: list[dict], rate: float, seconds: float, processes: int, seed: int):
    connections.close_all()  # nothing of the database connection goes into the forked senders
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        results = pool.map(
            _sender,
            [(base_url, orgs, rate / processes, seconds, seed * 100 + i, i, processes) for i in range(processes)],
        )
    latencies = [ms for out, _ in results for ms in out]
    failures = sum((f for _, f in results), Counter())
    return latencies, failures


def organizations_traffic(server_url: str, tokens_by_org: dict, periods: dict) -> list[dict]:
    """Per organization: its tokens, its last three whole months, its last month and its locations."""
    out = []
    for org, tokens in tokens_by_org.items():
        start, end = periods[org]
        locations = Api(server_url, tokens).ok(LOCATIONS)["viewer"]["organization"]["locations"]["edges"]
        out.append(
            {
                "tokens": tokens,
                "period": _period(start, end),
                "month": _period(end.replace(day=1), end),
                "locations": [e["node"]["id"] for e in locations],
            }
        )
    return out


def figure_open_loop(
    report: Report, server_url: str, orgs: list[dict], rates: list[float], seconds: float, processes: int = 2
) -> None:
    steps = []
    for i, rate in enumerate(rates):
        latencies, failures = _step(server_url, orgs, rate, seconds, processes, seed=i)
        p95 = percentile(latencies, 95) if latencies else None
        held = bool(latencies) and p95 <= P95_TARGET_MS and not failures
        steps.append((rate, len(latencies) / seconds, p95, failures, held))
        if not held:
            break
    best = max((s for s in steps if s[4]), key=lambda s: s[0], default=None)
    report.context["open_loop"] = [
        {"rate": r, "achieved": round(a, 1), "p95_ms": p, "errors": dict(f), "held": h} for r, a, p, f, h in steps
    ]
    notes = "; ".join(
        f"{r:g}/s: p95 {p:.0f} ms" + (f", {sum(f.values())} errors ({', '.join(f)})" if f else "")
        for r, _, p, f, _ in steps
        if p is not None
    )
    report.add(
        "10.open_loop.max_rate",
        f"open-loop: highest arrival rate with p95 ≤ {P95_TARGET_MS} ms and 0 errors ({len(orgs)} organizations)",
        best[0] if best else 0,
        "req/s",
        note=f"{seconds:.0f} s per step, Poisson arrivals, timed from when each was due: {notes}",
    )
    report.add(
        "10.open_loop.p95_at_max",
        "open-loop: p95 at that rate (at the lowest rate when none held)",
        best[2] if best else steps[0][2],
        "ms",
        f"≤ {P95_TARGET_MS} ms",
        best is not None,
    )
