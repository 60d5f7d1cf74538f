# Over 400 lines: the soak's traffic mix, its checks and its memory sampling belong to one run; development tooling.
"""The soak test behind ``manage.py soak``: a sustained mixed load with the memory of every process sampled.

It starts the production-mode gunicorn (``portal/gunicorn_conf.py``, workers recycled after
``max_requests``) and a real Celery worker (children recycled after ``worker_max_tasks_per_child`` tasks
or ``worker_max_memory_per_child``), signs portal users in with real sessions (login form, CSRF token,
session cookie) and API clients with bearer tokens, and for the given time mixes every kind of request
a customer makes: dashboard, usage explorer and drill-down pages, statement list and detail pages,
cached statement PDF downloads, GraphQL summaries, drill-downs and statement lists, and fresh PDF renders
on the worker. Every answer is checked (status, content, no GraphQL error); the resident memory (RSS) of
every server and worker process, children included, is sampled every two seconds.
"""

from __future__ import annotations

import contextlib
import html
import http.client
import json
import random
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

import psutil
from django.conf import settings
from django.db import connections

from billing.models import Location, Statement
from devtools.benchmark import percentile
from devtools.demo.seed import DEMO_PASSWORD, demo_accounts
from portal.models import Membership

# --- the memory bound -----------------------------------------------------------------------------

# No single process may exceed this. Rendering the largest demo statement peaks at ~210 MiB in one
# process (benchmark figure 4) and a gunicorn worker serving pages and the API settles at ~100-150 MiB;
# 600 MiB is far above both and below what CELERY_WORKER_MAX_MEMORY_PER_CHILD (400 MiB after a task)
# plus one more render could reach.
MAX_PROCESS_MIB = 600
# The total RSS of a role (all gunicorn processes, or the Celery worker with its pool) averaged over the
# last third of the run may exceed its average over the middle third by at most GROWTH_LIMIT of it plus
# GROWTH_SLACK_MIB. The first third is warm-up (imports, fonts, template and schema caches, connections)
# and is not compared. With recycling, memory is a saw-tooth around a level: a fresh process starts
# 30-80 MiB below the one it replaces, which moved a third's mean by -12 % to +9 % (at most +17 MiB)
# between the thirds of the runs here. A leak that recycling does not bound (in the master, in the
# driver of the pool, or faster than the recycling) is a trend: between the middle and the last third it
# adds its rate × a third of the run, so a full 5-minute run fails from ~0.5 MiB/s in the web processes
# (~190 MiB in all) and ~0.7 MiB/s in the worker (~400 MiB), the 50 s quick run from ~3-5 MiB/s.
GROWTH_LIMIT = 0.10
GROWTH_SLACK_MIB = 25


def memory_verdict(samples: list[tuple[float, float]]) -> dict:
    """``samples`` is [(seconds since start, total MiB)]. Compares the last third's mean with the middle's."""
    if len(samples) < 6:
        return {"passed": False, "reason": "fewer than 6 samples", "middle_mib": None, "last_mib": None}
    t0, t1 = samples[0][0], samples[-1][0]
    third = (t1 - t0) / 3
    middle = [v for t, v in samples if t0 + third <= t < t0 + 2 * third]
    last = [v for t, v in samples if t >= t0 + 2 * third]
    if not middle or not last:
        return {"passed": False, "reason": "a third without samples", "middle_mib": None, "last_mib": None}
    m, la = sum(middle) / len(middle), sum(last) / len(last)
    bound = m * (1 + GROWTH_LIMIT) + GROWTH_SLACK_MIB
    return {
        "passed": la <= bound,
        "middle_mib": round(m, 1),
        "last_mib": round(la, 1),
        "growth": round(la / m - 1, 4),
        "bound_mib": round(bound, 1),
        "reason": "" if la <= bound else f"last third {la:.0f} MiB > {bound:.0f} MiB",
    }


# --- processes and their memory -------------------------------------------------------------------


class MemorySampler(threading.Thread):
    """Every ``interval`` seconds: the RSS of each role's process tree (the process and all its children)."""

    def __init__(self, roles: dict[str, int], interval: float = 2.0):
        super().__init__(daemon=True)
        self.roles = roles  # role -> pid of the top process
        self.interval = interval
        self.samples: dict[str, list[dict]] = {role: [] for role in roles}
        self.pids: dict[str, set[int]] = {role: set() for role in roles}
        self.names: dict[int, str] = {}  # pid -> command line, at first sight
        self.began = time.monotonic()
        self.stopping = threading.Event()

    def sample_once(self) -> None:
        now = time.monotonic() - self.began
        for role, pid in self.roles.items():
            try:
                top = psutil.Process(pid)
                tree = [top, *top.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            sizes = {}
            for proc in tree:
                # A process may exit between the listing and the reading (a recycled worker).
                with contextlib.suppress(psutil.NoSuchProcess):
                    sizes[proc.pid] = proc.memory_info().rss / 2**20
                    if proc.pid not in self.names:
                        self.names[proc.pid] = " ".join(proc.cmdline())[-200:]
            self.pids[role].update(sizes)
            self.samples[role].append(
                {"t": round(now, 1), "total_mib": sum(sizes.values()), "max_mib": max(sizes.values(), default=0)}
            )

    def servers(self, role: str) -> int:
        """How many processes with the top process's command line were seen (its forks)."""
        top = self.names.get(self.roles[role])
        return sum(1 for pid in self.pids[role] if self.names.get(pid) == top)

    def run(self) -> None:
        while not self.stopping.is_set():
            self.sample_once()
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)


# --- HTTP clients ---------------------------------------------------------------------------------


class Stats:
    """Latencies per kind, errors with a few examples, reconnects; shared by all client threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.examples: list[str] = []
        self.reconnects = 0

    def ok(self, kind: str, ms: float) -> None:
        with self.lock:
            self.latencies[kind].append(ms)

    def error(self, kind: str, what: str) -> None:
        with self.lock:
            self.errors[kind] += 1
            if len(self.examples) < 20:
                self.examples.append(f"{kind}: {what[:300]}")

    def reconnected(self) -> None:
        with self.lock:
            self.reconnects += 1


class Http:
    """One keep-alive connection, as a browser or an integration's HTTP library keeps one.

    When the server closed the idle connection (a recycled gunicorn worker closes its keep-alive
    connections, as does the keep-alive timeout) before any byte of the answer, the request is sent
    again on a new connection, as every HTTP client library does; such reconnects are counted.
    """

    def __init__(self, base_url: str, stats: Stats):
        host, port = base_url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.stats = stats
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        headers = {
            "Host": f"{self.host}:{self.port}",
            # TLS ends at the proxy in production; it tells the application so (SECURE_PROXY_SSL_HEADER),
            # which makes Django check the Origin of every POST like it would behind the proxy.
            "X-Forwarded-Proto": "https",
            **(headers or {}),
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                if attempt:
                    raise
                self.stats.reconnected()
                continue
            data = response.read()
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key.strip()] = rest.split(";", 1)[0]
            if response.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            return response.status, response.getheader("Content-Type", ""), response.getheader("Location", ""), data
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
NEXT_LINK = re.compile(rb'<a href="\?([^"]+)" rel="next">')

SUMMARY = """query Summary($period: PeriodInput!) {
  usageSummary(period: $period, groupBy: %s, orderBy: null) {
    rows { keys { label } metrics { calls minutes cost } }
    totals { calls minutes cost }
  }
}"""
GROUPINGS = ["[LOCATION, MONTH]", "[PERSON]", "[DURATION_BAND]", "[CATEGORY]"]
DRILL_DOWN = """query DrillDown($period: PeriodInput!, $after: String) {
  usageRecords(period: $period, first: 20, after: $after) {
    edges { node { id startedAt durationSeconds otherParty category cost
                   person { name } line { number } location { name } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
STATEMENTS = """{ statements(first: 5) { edges { node { id number total pdfStatus pdfUrl
  breakdowns(dimension: "location") { label amount } } } } }"""


@dataclass
class PortalUser:
    username: str
    role: str
    statements: list[int]  # ids of their organization's statements (for the roles that see billing)
    locations: list[int]  # location ids they may filter by


@dataclass
class ApiClient:
    tokens: list[str]
    period: dict


def _timed(stats: Stats, kind: str, call) -> None:
    began = time.perf_counter()
    try:
        problem = call()
    except Exception as exc:  # a failure of any kind is an error of this request, the soak goes on
        problem = f"{type(exc).__name__}: {exc}"
    if problem:
        stats.error(kind, problem)
    else:
        stats.ok(kind, (time.perf_counter() - began) * 1000)


def _expect(status, ctype, location, body, *, want=200, ctype_part="text/html", marker: bytes = b""):
    """'' when the answer is the page asked for: status, type, the page's title, no form error on it."""
    if status != want:
        return f"HTTP {status} (wanted {want}) {location} {body[:200]!r}"
    if ctype_part and ctype_part not in ctype:
        return f"content type {ctype}"
    if marker and marker not in body:
        return f"answer without {marker!r}: {body[:200]!r}"
    error = body.find(b'class="errorlist') if ctype_part == "text/html" else -1
    if error >= 0:
        return f"the page shows an error: {body[error : error + 300]!r}"
    return ""


def portal_session(base_url: str, user: PortalUser, stats: Stats, until: float, seed: int) -> None:
    """A browser: signs in through the login form (CSRF token and cookie), then browses until ``until``."""
    rnd = random.Random(seed)
    web = Http(base_url, stats)
    origin = f"https://{web.host}:{web.port}"

    def sign_in():
        status, ctype, location, body = web.request("GET", "/login/")
        found = CSRF_INPUT.search(body)
        if status != 200 or not found or "csrftoken" not in web.cookies:
            return f"login form: HTTP {status}, token {'found' if found else 'missing'}"
        form = urlencode(
            {"username": user.username, "password": DEMO_PASSWORD, "csrfmiddlewaretoken": found.group(1).decode()}
        ).encode()
        status, ctype, location, body = web.request(
            "POST",
            "/login/",
            form,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": origin,
                "Referer": origin + "/login/",
            },
        )
        if status != 302 or "sessionid" not in web.cookies:
            return f"sign-in: HTTP {status} {location} {body[:200]!r}"
        return ""

    _timed(stats, "sign-in (form, CSRF)", sign_in)
    if "sessionid" not in web.cookies:
        web.close()
        return
    sees_billing = user.role in ("admin", "analyst")
    pages = [("dashboard", 3), ("usage explorer", 3), ("usage drill-down", 3)]
    if sees_billing:
        pages += [("statement list", 1), ("statement detail", 2), ("statement PDF (cached)", 2)]
    kinds, weights = zip(*pages, strict=True)
    next_page = None
    while time.monotonic() < until:
        kind = rnd.choices(kinds, weights)[0]
        if kind == "dashboard":
            _timed(stats, kind, lambda: _expect(*web.request("GET", "/"), marker=b"<title>Dashboard"))
        elif kind == "usage explorer":
            dims = rnd.choice([["location"], ["person"], ["duration_band"], ["category", "month"], ["day"]])
            query = urlencode({"period": rnd.choice(["last_month", "last_3_months", "this_period"]), "dim": dims}, True)
            _timed(
                stats,
                kind,
                lambda q=query: _expect(*web.request("GET", f"/usage/?{q}"), marker=b"<title>Usage explorer"),
            )
        elif kind == "usage drill-down":
            if next_page and rnd.random() < 0.6:  # the "Next page" link of the last page seen
                query = html.unescape(next_page)
            else:
                params = {"period": rnd.choice(["last_month", "this_period"]), "size": rnd.choice([25, 50, 100])}
                if user.locations and rnd.random() < 0.5:
                    params["location"] = rnd.choice(user.locations)
                query = urlencode(params)

            def drill_down(q=query):
                nonlocal next_page
                answer = web.request("GET", f"/usage/records/?{q}")
                found = NEXT_LINK.search(answer[3])
                next_page = found.group(1).decode() if found else None
                return _expect(*answer, marker=b"<title>Calls")

            _timed(stats, kind, drill_down)
        elif kind == "statement list":
            _timed(stats, kind, lambda: _expect(*web.request("GET", "/statements/"), marker=b"<title>Statements"))
        elif kind == "statement detail":
            sid = rnd.choice(user.statements)
            _timed(
                stats,
                kind,
                lambda s=sid: _expect(*web.request("GET", f"/statements/{s}/"), marker=b"<title>Statement "),
            )
        else:
            sid = rnd.choice(user.statements)
            _timed(
                stats,
                kind,
                lambda s=sid: _expect(
                    *web.request("GET", f"/statements/{s}/pdf"), ctype_part="application/pdf", marker=b"%PDF-"
                ),
            )
    web.close()


def api_client(base_url: str, client: ApiClient, stats: Stats, until: float, seed: int) -> None:
    """An integration with bearer tokens (in turn: each token has its own rate budget)."""
    rnd = random.Random(seed)
    api = Http(base_url, stats)
    turn = 0
    after = None

    def graphql(query, variables, check):
        nonlocal turn
        turn += 1
        token = client.tokens[turn % len(client.tokens)]
        body = json.dumps({"query": query, "variables": variables}).encode()
        status, ctype, _, data = api.request(
            "POST",
            "/graphql/",
            body,
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        if status != 200:
            return f"HTTP {status} {data[:300]!r}"
        answer = json.loads(data)
        if answer.get("errors"):
            return json.dumps(answer["errors"])[:300]
        return check(answer["data"])

    def drill_check(data):
        nonlocal after
        page = data["usageRecords"]
        after = page["pageInfo"]["endCursor"] if page["pageInfo"]["hasNextPage"] and rnd.random() < 0.7 else None
        return "" if page["edges"] is not None else "no edges"

    kinds = ["API usage summary", "API drill-down", "API statement list"]
    while time.monotonic() < until:
        kind = rnd.choices(kinds, [4, 4, 2])[0]
        if kind == "API usage summary":
            query = SUMMARY % rnd.choice(GROUPINGS)
            _timed(
                stats,
                kind,
                lambda q=query: graphql(
                    q, {"period": client.period}, lambda d: "" if d["usageSummary"]["totals"] else "no totals"
                ),
            )
        elif kind == "API drill-down":
            _timed(stats, kind, lambda: graphql(DRILL_DOWN, {"period": client.period, "after": after}, drill_check))
        else:
            _timed(
                stats,
                kind,
                lambda: graphql(STATEMENTS, {}, lambda d: "" if d["statements"]["edges"] else "no statements"),
            )
    api.close()


def pdf_renderer(send_task, statements: list[int], stats: Stats, until: float, seed: int) -> None:
    """Fresh renders on the worker: re-render a statement's PDF and wait until the worker has stored it."""
    rnd = random.Random(seed)
    kind = "fresh PDF render (worker)"
    try:
        while time.monotonic() < until:
            sid = rnd.choice(statements)

            def render(sid=sid):
                before = Statement.objects.values_list("pdf_attempts", flat=True).get(pk=sid)
                send_task("billing.statements.tasks.render_statement_pdf", args=[sid])
                deadline = time.monotonic() + 180
                while time.monotonic() < deadline:
                    row = Statement.objects.values("pdf_attempts", "pdf_status", "pdf_file").get(pk=sid)
                    if row["pdf_attempts"] > before:
                        if row["pdf_status"] != Statement.PdfStatus.READY:
                            return f"statement {sid}: PDF {row['pdf_status']}"
                        pdf = (Path(settings.MEDIA_ROOT) / row["pdf_file"]).read_bytes()
                        return "" if pdf.startswith(b"%PDF-") else f"statement {sid}: not a PDF"
                    time.sleep(0.2)
                return f"statement {sid}: not rendered within 180 s"

            _timed(stats, kind, render)
    finally:
        connections.close_all()


# --- the run --------------------------------------------------------------------------------------


@dataclass
class Plan:
    users: list[PortalUser] = field(default_factory=list)
    api_clients: list[ApiClient] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)


def plan_clients(tokens_for, sessions: int, api_clients: int, tokens_per_client: int, period: dict) -> Plan:
    """Portal users of every role from the demo organizations, API clients with analyst tokens."""
    plan = Plan()
    memberships = list(
        Membership.objects.filter(
            organization__account_number__in=demo_accounts(),
            role__in=["admin", "analyst", "location_manager", "member"],
        )
        .exclude(user__username__in=["group-controller", "bench-analyst"])
        .select_related("user", "organization")
        .prefetch_related("locations")
        .order_by("organization__account_number", "role")
    )
    statements = defaultdict(list)
    for sid, org_id in Statement.objects.filter(
        organization__account_number__in=demo_accounts(), pdf_status=Statement.PdfStatus.READY
    ).values_list("id", "organization_id"):
        statements[org_id].append(sid)
    plan.statements = [sid for ids in statements.values() for sid in ids]
    # Alternate roles so that a few sessions already cover administrators, analysts, managers, members.
    by_role = defaultdict(list)
    for m in memberships:
        by_role[m.role].append(m)
    ordered = []
    while any(by_role.values()):
        for role in ("admin", "location_manager", "analyst", "member"):
            if by_role[role]:
                ordered.append(by_role[role].pop(0))
    for m in ordered[:sessions]:
        if m.role == "location_manager":
            locations = [loc.pk for loc in m.locations.all()]
        elif m.role == "member":
            locations = []
        else:
            locations = list(Location.objects.filter(organization=m.organization).values_list("id", flat=True))
        plan.users.append(PortalUser(m.user.username, m.role, statements[m.organization_id], locations))
    organizations = sorted({m.organization for m in memberships}, key=lambda o: o.account_number)
    for i in range(api_clients):
        plan.api_clients.append(ApiClient(tokens_for(organizations[i % len(organizations)], tokens_per_client), period))
    return plan


def summarize(stats: Stats, sampler: MemorySampler, initial_pids: dict[str, int], seconds: float) -> dict:
    kinds = {}
    for kind in sorted(set(stats.latencies) | set(stats.errors)):
        values = stats.latencies.get(kind, [])
        kinds[kind] = {
            "requests": len(values) + stats.errors.get(kind, 0),
            "errors": stats.errors.get(kind, 0),
            "p50_ms": round(percentile(values, 50), 1) if values else None,
            "p95_ms": round(percentile(values, 95), 1) if values else None,
        }
    every = [v for values in stats.latencies.values() for v in values]
    memory = {}
    for role, samples in sampler.samples.items():
        series = [(s["t"], s["total_mib"]) for s in samples]
        n = len(samples)
        middle, start, end = (round(samples[i]["total_mib"], 1) for i in (n // 2, 0, -1)) if n else (None, None, None)
        memory[role] = {
            "samples": n,
            "start_mib": start,
            "middle_mib": middle,
            "end_mib": end,
            "max_total_mib": round(max((s["total_mib"] for s in samples), default=0), 1),
            "max_process_mib": round(max((s["max_mib"] for s in samples), default=0), 1),
            # Server processes: the top one and its forks, which keep its command line (gunicorn
            # workers, Celery pool children). Others are short helpers (ctypes' find_library runs
            # ldconfig when a fresh child loads WeasyPrint's libraries): counted apart, RSS included.
            "processes_seen": sampler.servers(role),
            "helpers_seen": len(sampler.pids[role]) - sampler.servers(role),
            "processes_at_start": initial_pids[role],
            "processes": {pid: sampler.names.get(pid, "") for pid in sorted(sampler.pids[role])},
            "verdict": memory_verdict(series),
            "series": samples,
        }
    total_requests = sum(k["requests"] for k in kinds.values())
    return {
        "seconds": round(seconds, 1),
        "requests": total_requests,
        "requests_per_second": round(total_requests / seconds, 1) if seconds else None,
        "errors": sum(stats.errors.values()),
        "error_examples": stats.examples,
        "reconnects": stats.reconnects,
        "p50_ms": round(percentile(every, 50), 1) if every else None,
        "p95_ms": round(percentile(every, 95), 1) if every else None,
        "kinds": kinds,
        "memory": memory,
        "max_process_mib_limit": MAX_PROCESS_MIB,
    }


def report_text(result: dict) -> str:
    lines = [
        f"{result['requests']:,} requests in {result['seconds']:.0f} s ({result['requests_per_second']} req/s), "
        f"errors: {result['errors']}, reconnects after a closed keep-alive connection: {result['reconnects']}",
        f"all kinds: p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms",
        "",
        f"{'kind':34} {'requests':>9} {'errors':>7} {'p50 ms':>9} {'p95 ms':>9}",
    ]
    for kind, k in result["kinds"].items():
        lines.append(f"{kind:34} {k['requests']:>9,} {k['errors']:>7} {k['p50_ms'] or '-':>9} {k['p95_ms'] or '-':>9}")
    lines += [
        "",
        f"{'RSS (MiB, process tree)':28} {'start':>7} {'middle':>7} {'end':>7} {'max':>7} {'max 1 proc':>10} "
        f"{'servers seen/at start':>21}  memory bound",
    ]
    for role, m in result["memory"].items():
        v = m["verdict"]
        bound = (
            f"{'PASS' if v['passed'] else 'FAIL'}: last third {v['last_mib']} vs middle {v['middle_mib']} "
            f"(≤ {v.get('bound_mib')})"
            if v.get("middle_mib") is not None
            else f"FAIL: {v['reason']}"
        )
        lines.append(
            f"{role:28} {m['start_mib'] or 0:>7.0f} {m['middle_mib'] or 0:>7.0f} {m['end_mib'] or 0:>7.0f} "
            f"{m['max_total_mib']:>7.0f} {m['max_process_mib']:>10.0f} "
            f"{str(m['processes_seen']) + '/' + str(m['processes_at_start']):>21}  {bound}"
        )
    if result["error_examples"]:
        lines += ["", "Errors (first 20):", *[f"  {e}" for e in result["error_examples"]]]
    return "\n".join(lines)


def period_of(start: date, end: date) -> dict:
    return {"from": start.isoformat(), "to": end.isoformat()}
