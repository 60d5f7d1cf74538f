# Over 400 lines: one function per benchmark figure, side by side so a run measures them in one process; development tooling.
"""The seven figures of the benchmark, each beside its baseline measured in the same run."""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.conf import settings
from django.db import connection, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from billing.models import Organization, Statement
from billing.periods import last_closed_period
from billing.statements.pdf import CURRENT_TEMPLATE_VERSION, render_pdf, statement_html
from billing.usage.scope import Scope
from billing.usage.selectors import Dimension, Period, usage_summary, whole_months
from devtools.benchmark import Report, percentile, timed
from devtools.benchmark.ingest import figure_import  # noqa: F401 (figure 3 lives in its own module)
from devtools.benchmark.setup import (
    THROWAWAY_PREFIX,
    child_env,
    throwaway_create,
    throwaway_usage,
    throwaways_remove,
)
from portal.api.core import costs, limits
from portal.api.core.auth import authenticate_token
from portal.api.schema import schema
from portal.workers import celery_worker_argv


@dataclass
class Sizes:
    repeats: int = 20  # timed repetitions of each latency figure
    refusals: int = 200
    import_rows: int = 200_000
    pdf_repeats: int = 8
    billing_orgs: int = 50
    billing_records: int = 300  # usage records per throwaway organization in the billing run
    load_clients: int = 50
    load_seconds: float = 20.0
    load_processes: int = 2


# --- HTTP ----------------------------------------------------------------------------------------


class Api:
    """A keep-alive HTTP client (what an integration's HTTP library does).

    Given several tokens it uses them in turn: each token has its own rate limit (10,000 cost points a
    minute), which a latency series of a few dozen drill-down pages would otherwise exhaust.
    """

    def __init__(self, base_url: str, tokens: str | list[str]):
        host, port = base_url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.tokens = [tokens] if isinstance(tokens, str) else list(tokens)
        self.turn = 0
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    @property
    def token(self) -> str:
        return self.tokens[0]

    def request(self, method: str, path: str, body: bytes | None = None, content_type="application/json"):
        self.turn = (self.turn + 1) % len(self.tokens)
        headers = {"Authorization": f"Bearer {self.tokens[self.turn]}", "Host": self.host}
        if body is not None:
            headers["Content-Type"] = content_type
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, ConnectionError):
                # The server closed an idle keep-alive connection: reconnect once.
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def graphql(self, query: str, variables: dict | None = None) -> tuple[int, dict]:
        status, body = self.request(
            "POST", "/graphql/", json.dumps({"query": query, "variables": variables or {}}).encode()
        )
        try:
            return status, json.loads(body)
        except ValueError:
            raise RuntimeError(f"the server answered HTTP {status} with a non-JSON body: {body[:300]!r}") from None

    def ok(self, query: str, variables: dict | None = None) -> dict:
        status, data = self.graphql(query, variables)
        if status != 200 or data.get("errors"):
            raise RuntimeError(f"GraphQL answered {status}: {json.dumps(data)[:500]}")
        return data["data"]


SUMMARY = """query Summary($period: PeriodInput!) {
  usageSummary(period: $period, groupBy: %s, orderBy: null) {
    rows { keys { label } metrics { calls minutes cost } }
    totals { calls minutes cost }
  }
}"""
# The same summary in the flat table shape (issue 21 item 3: one list of strings per group).
SUMMARY_TABLE = """query SummaryTable($period: PeriodInput!) {
  usageSummary(period: $period, groupBy: %s, orderBy: null) {
    table(metrics: [CALLS, MINUTES, COST]) { rows }
    totals { calls minutes cost }
  }
}"""
SUMMARIES = {
    "location_month": "[LOCATION, MONTH]",
    "person": "[PERSON]",
    "duration_band": "[DURATION_BAND]",
}
# Hand-written SQL for the same numbers (calls, seconds, cost per group) over rollups and raw records.
BARE_SQL = {
    "location_month": ("location_id, date_trunc('month', local_date)::date", 2),
    "person": ("person_id", 1),
    "duration_band": ("duration_band", 1),
}
DRILL_DOWN = """query DrillDown($period: PeriodInput!, $location: ID!, $first: Int!) {
  usageRecords(period: $period, filter: {locations: [$location]}, first: $first) {
    edges { node { id startedAt durationSeconds otherParty category cost
                   person { name } line { number } location { name } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
LOCATIONS = "{ viewer { organization { locations(first: 100) { edges { node { id name } } } } } }"
STATEMENTS = """{ statements(first: 3) { edges { node { id number total pdfStatus pdfUrl
  breakdowns(dimension: "location") { label amount } } } } }"""
# The issue's "query from hell": every line by day and hour of the quarter, as rows. For the largest
# organization it would read every record of the quarter and build up to 20,000 groups.
OVER_COST = """query TooCostly($p: PeriodInput!) {
  usageSummary(period: $p, groupBy: [LINE, DAY, HOUR]) { rows { keys { label } metrics { calls cost } } }
}"""


def _period(start: date, end: date) -> dict:
    return {"from": start.isoformat(), "to": end.isoformat()}


ROLLUP_TABLES = {"monthly": "billing_usagemonthly", "daily": "billing_usagedaily"}
ROLLUP_GRAIN = {
    "monthly": "per month × location × person × type × category × direction × band",
    "daily": "per day × line × location × person × type × category × country × direction × band",
}


def _raw_sql(table: str, keys: str, n: int, raw: bool) -> str:
    calls = "count(*)" if raw else "sum(records)"
    group = ", ".join(str(i + 1) for i in range(n))
    return (
        f"SELECT {keys}, {calls} FILTER (WHERE usage_type = 'voice'), "  # noqa: S608 - fixed SQL
        f"sum(duration_seconds) FILTER (WHERE usage_type = 'voice'), sum(cost) "
        f"FROM {table} WHERE organization_id = %s AND local_date BETWEEN %s AND %s GROUP BY {group}"
    )


# --- 1. usage summary -----------------------------------------------------------------------------


def figure_summary(report: Report, api: Api, org: Organization, start: date, end: date, sizes: Sizes) -> None:
    variables = {"period": _period(start, end)}
    # The rollup table the API answers these questions from (the coarsest one that can): the bare
    # rollup SQL baseline runs over that same table, so "API / rollup SQL" compares like with like.
    scope = Scope(organization=org, role="analyst")
    sources = {
        name: usage_summary(
            scope=scope,
            period=Period(start, end),
            group_by=[Dimension(d.lower()) for d in group_by.strip("[]").split(", ")],
            order_by=None,
        ).source
        for name, group_by in SUMMARIES.items()
    }
    if not set(sources.values()) <= set(ROLLUP_TABLES) or whole_months(Period(start, end)) != (start, end):
        raise RuntimeError(f"the API answers the benchmark's summaries from {sources}, not one rollup table")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM billing_usagerecord WHERE organization_id = %s AND local_date BETWEEN %s AND %s",
            [org.id, start, end],
        )
        in_period = cursor.fetchone()[0]
        rollup_rows = {}
        for source in ROLLUP_TABLES:
            cursor.execute(
                f"SELECT count(*) FROM {ROLLUP_TABLES[source]} "  # noqa: S608 - fixed table names
                "WHERE organization_id = %s AND local_date BETWEEN %s AND %s",
                [org.id, start, end],
            )
            rollup_rows[source] = cursor.fetchone()[0]
    report.context["summary"] = {
        "organization": org.name,
        "from": start,
        "to": end,
        "records_in_period": in_period,
        "sources": sources,
        **{f"{source}_rollup_rows_in_period": n for source, n in rollup_rows.items()},
    }
    for source, rows in rollup_rows.items():
        report.add(
            f"1.rollup.{source}_compression",
            f"records per {source} rollup row ({in_period:,} records, {start:%b}–{end:%b %Y})",
            in_period / max(rows, 1),
            "×",
            note=f"{org.name}: {in_period:,} usage records in {rows:,} {source} rollup rows ({ROLLUP_GRAIN[source]})",
        )
    for name, group_by in SUMMARIES.items():
        query = SUMMARY % group_by
        http_ms = timed(lambda q=query: api.ok(q, variables), sizes.repeats, warmup=2)
        table_ms = timed(lambda q=SUMMARY_TABLE % group_by: api.ok(q, variables), sizes.repeats, warmup=2)
        keys, n = BARE_SQL[name]
        timings = {}
        for source, table in (
            ("rollup", ROLLUP_TABLES[sources[name]]),
            ("daily", "billing_usagedaily"),
            ("raw", "billing_usagerecord"),
        ):
            sql = _raw_sql(table, keys, n, raw=source == "raw")

            def run(sql=sql):
                with connection.cursor() as cursor:
                    cursor.execute(sql, [org.id, start, end])
                    cursor.fetchall()

            timings[source] = timed(run, sizes.repeats if source == "rollup" else max(3, sizes.repeats // 2))
        p50, p95 = percentile(http_ms, 50), percentile(http_ms, 95)
        rollup, raw = percentile(timings["rollup"], 50), percentile(timings["raw"], 50)
        label = f"summary by {name.replace('_', ' ')}"
        report.add(f"1.{name}.p50_ms", f"{label}: API p50 (HTTP+GraphQL, token)", p50, "ms")
        report.add(f"1.{name}.p95_ms", f"{label}: API p95", p95, "ms", "≤ 150 ms", p95 <= 150)
        report.add(
            f"1.{name}.rollup_sql_ms",
            f"{label}: bare SQL on the {sources[name]} rollup (the API's), median",
            rollup,
            "ms",
        )
        report.add(
            f"1.{name}.daily_sql_ms",
            f"{label}: bare SQL on the daily rollup (what the API read before 0010), median",
            percentile(timings["daily"], 50),
            "ms",
        )
        report.add(f"1.{name}.raw_sql_ms", f"{label}: bare SQL on raw records, median", raw, "ms")
        table_p50 = percentile(table_ms, 50)
        report.add(f"1.{name}.table_p50_ms", f"{label}: API p50, flat table shape", table_p50, "ms")
        report.add(
            f"1.{name}.table_vs_rollup_sql",
            f"{label}: API p50 (flat table) / rollup SQL",
            table_p50 / rollup,
            "×",
            "≤ 2×",
            table_p50 / rollup <= 2,
        )
        report.add(
            f"1.{name}.vs_rollup_sql", f"{label}: API p50 / rollup SQL", p50 / rollup, "×", "≤ 3×", p50 / rollup <= 3
        )
        report.add(f"1.{name}.vs_raw_sql", f"{label}: raw SQL / API p50", raw / p50, "×", "≥ 20×", raw / p50 >= 20)


# --- 2. drill-down --------------------------------------------------------------------------------


def figure_drill_down(
    report: Report, api: Api, token: str, org: Organization, start: date, end: date, sizes: Sizes
) -> None:
    """Pages of the last month's records at the organization's busiest location, newest first."""
    month_start = end.replace(day=1)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT l.name FROM billing_usagerecord u JOIN billing_location l ON l.id = u.location_id "
            "WHERE u.organization_id = %s AND u.local_date BETWEEN %s AND %s "
            "GROUP BY l.name ORDER BY count(*) DESC LIMIT 1",
            [org.id, month_start, end],
        )
        busiest = cursor.fetchone()[0]
    locations = api.ok(LOCATIONS)["viewer"]["organization"]["locations"]["edges"]
    location = next(e["node"]["id"] for e in locations if e["node"]["name"] == busiest)
    variables = {"period": _period(month_start, end), "location": location, "first": 100}
    page = api.ok(DRILL_DOWN, variables)["usageRecords"]["edges"]
    ms = timed(lambda: api.ok(DRILL_DOWN, variables), sizes.repeats * 2, warmup=2)
    p95 = percentile(ms, 95)
    report.add("2.drill_down.p50_ms", f"drill-down page of {len(page)} records: API p50", percentile(ms, 50), "ms")
    report.add(
        "2.drill_down.p95_ms", f"drill-down page of {len(page)} records: API p95", p95, "ms", "≤ 100 ms", p95 <= 100
    )
    # Query counts in this process (Django's test client, same view and middleware as the server).
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    counts = {}
    for first in (10, 100, 10):  # 10 first once more: its count is the one after the token's audit entry
        body = json.dumps({"query": DRILL_DOWN, "variables": {**variables, "first": first}})
        with CaptureQueriesContext(connection) as queries:
            response = client.post("/graphql/", body, content_type="application/json")
        assert response.status_code == 200 and not response.json().get("errors"), response.content[:300]
        counts[first] = len(queries)
    same = counts[10] == counts[100]
    report.add("2.drill_down.queries_10", "drill-down SQL queries, page of 10", counts[10], "queries")
    report.add(
        "2.drill_down.queries_100",
        "drill-down SQL queries, page of 100",
        counts[100],
        "queries",
        "= page of 10",
        same,
    )


# --- 4. statement PDF -----------------------------------------------------------------------------

MINIMAL_HTML = "<html><body><h1>Statement 2026-000001</h1><p>Total due: 12.34 EUR</p></body></html>"
MEMORY_SCRIPT = """
import resource, sys, django
django.setup()
from billing.models import Statement
from billing.statements.pdf import CURRENT_TEMPLATE_VERSION, render_pdf, statement_html
if sys.argv[1] == "minimal":
    html = sys.argv[2]
else:
    statement = Statement.objects.select_related("organization").get(pk=int(sys.argv[1]))
    statement.template_version = CURRENT_TEMPLATE_VERSION  # as a statement issued today renders
    html = statement_html(statement)
render_pdf(html)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_rss_mib(arg: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, arg, MINIMAL_HTML],
        cwd=settings.BASE_DIR,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return int(out.stdout.strip().splitlines()[-1]) / 1024  # ru_maxrss is in KiB on Linux


def _pages(statement: Statement) -> int:
    from weasyprint import HTML

    return len(HTML(string=statement_html(statement), base_url=str(settings.BASE_DIR)).render().pages)


def _with_template(statement: Statement, version: int) -> Statement:
    """The statement rendered with another template version (in memory only; nothing is saved).

    The dataset's demo statements keep the template they were issued with; the figure measures the
    current template (what every statement issued today gets) and, beside it, the first one."""
    copy = Statement.objects.select_related("organization").get(pk=statement.pk)
    copy.template_version = version
    return copy


def _timed_side_by_side(fns: dict[str, object], repeats: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Like ``timed`` for several functions, taking turns, so that a change in the machine's load
    during the measurement affects them alike (this machine's CPUs are shared). Returns the wall-clock
    milliseconds and the CPU milliseconds of this process (which other processes' load does not inflate)."""
    for fn in fns.values():
        fn()
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            began, began_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[name].append((time.perf_counter() - began) * 1000)
            cpu[name].append((time.process_time() - began_cpu) * 1000)
    return wall, cpu


def figure_pdf(report: Report, api: Api, largest: Statement, statements: list[Statement], sizes: Sizes) -> None:
    """A typical statement (the demo customer's whose PDF has 2–3 pages) against a minimal document;
    the largest customer's statement beside them; the download of the largest one's stored PDF.

    Rendered with the current template; the same statement with template v1 is measured in turn with
    it (v1 is kept for the statements issued with it, which re-render byte for byte)."""
    statements = [_with_template(s, CURRENT_TEMPLATE_VERSION) for s in statements]
    pages = {s.pk: _pages(s) for s in statements}
    statement = min(statements, key=lambda s: (abs(pages[s.pk] - 2.5), s.number))
    first = _with_template(statement, 1)
    runs, cpu = _timed_side_by_side(
        {
            "typical": lambda: render_pdf(statement_html(statement)),
            "v1": lambda: render_pdf(statement_html(first)),
            "minimal": lambda: render_pdf(MINIMAL_HTML),
        },
        sizes.pdf_repeats,
    )
    typical, minimal, typical_v1 = runs["typical"], runs["minimal"], runs["v1"]
    html_ms = timed(lambda: statement_html(statement), sizes.pdf_repeats)
    largest = _with_template(largest, CURRENT_TEMPLATE_VERSION)
    big = timed(lambda: render_pdf(statement_html(largest)), max(2, sizes.pdf_repeats // 2))
    p95, minimal_p50 = percentile(typical, 95), percentile(minimal, 50)
    ratio = percentile(typical, 50) / minimal_p50
    report.context["pdf"] = {s.organization.name: {"number": s.number, "pages": pages[s.pk]} for s in statements}
    report.add(
        "4.pdf.pages",
        f"statement PDF: typical statement ({statement.organization.name}, {statement.number})",
        pages[statement.pk],
        "pages",
    )
    report.add(
        "4.pdf.p95_ms",
        f"statement PDF render p95 (HTML + WeasyPrint, template v{CURRENT_TEMPLATE_VERSION})",
        p95,
        "ms",
        "≤ 500 ms",
        p95 <= 500,
        note=f"of which the HTML (template, chart) takes {percentile(html_ms, 50):.0f} ms (median); CPU time "
        f"of the render, median: {percentile(cpu['typical'], 50):.0f} ms (v1 {percentile(cpu['v1'], 50):.0f} ms, "
        f"minimal document {percentile(cpu['minimal'], 50):.0f} ms)",
    )
    report.add(
        "4.pdf.v1_p95_ms",
        f"the same statement with template v1 ({_pages(first)} pages), p95",
        percentile(typical_v1, 95),
        "ms",
        note=f"median {percentile(typical_v1, 50):.0f} ms; template v{CURRENT_TEMPLATE_VERSION} median "
        f"{percentile(typical, 50):.0f} ms, measured in turn",
    )
    report.add("4.pdf.minimal_ms", "minimal one-page WeasyPrint document, median", minimal_p50, "ms")
    report.add("4.pdf.vs_minimal", "statement median / minimal median", ratio, "×", "≤ 2×", ratio <= 2)
    report.add(
        "4.pdf.largest_ms",
        f"largest customer's statement ({pages[largest.pk]} pages), median",
        percentile(big, 50),
        "ms",
    )
    statement = largest
    typical_rss, minimal_rss = _peak_rss_mib(str(statement.pk)), _peak_rss_mib("minimal")
    report.add(
        "4.pdf.peak_rss_mib",
        "peak memory of a process rendering the largest statement",
        typical_rss,
        "MiB",
        note=f"a process rendering only the minimal document peaks at {minimal_rss:.0f} MiB (ru_maxrss)",
    )
    status, _ = api.request("GET", f"/statements/{statement.pk}/pdf")
    if status != 200:
        raise RuntimeError(f"PDF download answered {status}")
    download = timed(lambda: api.request("GET", f"/statements/{statement.pk}/pdf"), sizes.repeats * 2)
    p95 = percentile(download, 95)
    report.add(
        "4.pdf.download_p95_ms", "cached PDF download p95 (HTTP, token, audited)", p95, "ms", "≤ 20 ms", p95 <= 20
    )


# --- 5. billing run -------------------------------------------------------------------------------


def _tree_cpu_seconds(pids: list[int]) -> float | None:
    """CPU seconds (user + system) used so far by these processes and their descendants (Linux /proc);
    None where /proc cannot tell. The workers' CPU per statement does not depend on how busy the
    machine's other processes keep the shared CPUs, unlike the wall-clock rate."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    stats = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (name) ": state, ppid, ..., utime, stime
        stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    tree, grew = set(pids), True
    while grew:
        children = {pid for pid, (ppid, _) in stats.items() if ppid in tree} - tree
        tree |= children
        grew = bool(children)
    return sum(stats[pid][1] for pid in tree if pid in stats) / os.sysconf("SC_CLK_TCK")


def figure_billing_run(report: Report, sizes: Sizes, broker_url: str | None, workdir: Path, log) -> None:
    """Throwaway organizations billed by two real Celery workers; all of it removed afterwards."""
    throwaways_remove()
    orgs = []
    for i in range(sizes.billing_orgs):
        with transaction.atomic():
            t = throwaway_create(f"{THROWAWAY_PREFIX}B{i:04d}", i, lines=5)
            period = last_closed_period(t.organization)
            throwaway_usage(t, start=period.start, end=period.end, records=sizes.billing_records, seed=i)
        orgs.append((t.organization, period))
    run_dir = workdir / "billing-run"
    queue = run_dir / "broker"
    queue.mkdir(parents=True)
    broker = broker_url or "filesystem://"
    options = {} if broker_url else {"data_folder_in": str(queue), "data_folder_out": str(queue)}
    env = child_env(
        CELERY_BROKER_URL=broker,
        PORTAL_VAR_DIR=str(run_dir / "var"),
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        # The workers run in run_dir (kombu's filesystem transport writes a control/ folder in the
        # current directory) and find the project through PYTHONPATH.
        PYTHONPATH=str(settings.BASE_DIR),
    )
    if not broker_url:
        # The workers' settings put the filesystem queue under PORTAL_VAR_DIR/broker/queue.
        (run_dir / "var" / "broker").mkdir(parents=True)
        (run_dir / "var" / "broker" / "queue").symlink_to(queue)
    workers, logs = [], []
    try:
        for n in range(2):
            logs.append(run_dir / f"worker{n}.log")
            workers.append(
                subprocess.Popen(
                    celery_worker_argv(concurrency=1, name=f"bench{n}@%h"),
                    cwd=run_dir,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=open(logs[-1], "w"),  # noqa: SIM115 - the process owns it
                )
            )
        deadline = time.monotonic() + 90
        while not all("ready." in p.read_text() for p in logs if p.exists()) or len(logs) < 2:
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                raise RuntimeError(f"Celery workers did not start; see {run_dir}")
            time.sleep(0.3)
        from celery import Celery

        client = Celery("benchmark-client", broker=broker)
        client.conf.broker_transport_options = options
        cpu_before = _tree_cpu_seconds([w.pid for w in workers])
        began = time.monotonic()
        for org, period in orgs:
            client.send_task("billing.statements.tasks.issue_statement", args=[org.pk, period.start.isoformat()])
        ids = [o.pk for o, _ in orgs]
        limit = began + max(120, 10 * len(orgs))
        done = 0
        while time.monotonic() < limit:
            done = Statement.objects.filter(organization_id__in=ids, pdf_status=Statement.PdfStatus.READY).count()
            if done == len(orgs):
                break
            time.sleep(0.25)
        elapsed = time.monotonic() - began
        cpu_after = _tree_cpu_seconds([w.pid for w in workers])
        busy = [p.read_text().count("succeeded in") for p in logs]
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        removed = throwaways_remove()
        shutil.rmtree(run_dir, ignore_errors=True)
    log(f"  billing run: {done}/{len(orgs)} statements in {elapsed:.1f} s; {removed} throwaway organizations removed")
    per_minute = done / elapsed * 60
    minutes_1000 = 1000 / per_minute if per_minute else None
    cpu_note = ""
    if cpu_before is not None and cpu_after is not None and done:
        cpu_ms = (cpu_after - cpu_before) / done * 1000
        cpu_note = (
            f"; the workers' CPU per statement {cpu_ms:.0f} ms (PostgreSQL's not included), i.e. "
            f"{1000 * cpu_ms / 1000 / 2 / 60:.1f} min of worker CPU for 1,000 on 2 otherwise idle cores"
        )
    report.context["billing_run"] = {
        "organizations": len(orgs),
        "ready": done,
        "seconds": elapsed,
        "tasks_per_worker": busy,
        "worker_cpu_seconds": None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
        "broker": broker.split("://")[0],
    }
    report.add(
        "5.billing.organizations",
        "billing run: organizations billed (throwaway, removed after)",
        done,
        "statements",
        f"= {len(orgs)}",
        done == len(orgs),
    )
    report.add("5.billing.per_minute", "statements with PDF per minute, 2 workers", per_minute, "/min")
    report.add(
        "5.billing.minutes_1000",
        "1,000 organizations, EXTRAPOLATED from this run",
        minutes_1000,
        "min",
        "≤ 5 min",
        minutes_1000 is not None and minutes_1000 <= 5,
        note=f"{len(orgs)} organizations × {sizes.billing_records} usage records measured; tasks done per worker "
        f"{busy} (issue, offers, render, notify); broker {broker.split('://')[0]}{cpu_note}",
    )


# --- 6. refusing an over-cost query ---------------------------------------------------------------


def figure_refusal(report: Report, api: Api, token: str, start: date, end: date, sizes: Sizes) -> None:
    from graphql import parse

    variables = {"p": _period(start, end)}
    context = costs.CostContext(authenticate_token(token).scope)
    try:
        limits.analyze(schema.graphql_schema, parse(OVER_COST), None, variables, context)
        raise RuntimeError("the over-cost query was not refused by the analysis")
    except limits.ApiError as exc:
        code = exc.extensions["code"]
    status, data = api.graphql(OVER_COST, variables)
    if status != 400 or data["errors"][0]["extensions"]["code"] != code:
        raise RuntimeError(f"expected a 400 {code}, got {status}: {data}")
    # Warm-up: every server process reads the organization's statistics once (then cached).
    ms = timed(lambda: api.graphql(OVER_COST, variables), sizes.refusals, warmup=20)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    body = json.dumps({"query": OVER_COST, "variables": variables})
    client.post("/graphql/", body, content_type="application/json")
    with CaptureQueriesContext(connection) as queries:
        client.post("/graphql/", body, content_type="application/json")
    beyond_auth = [q["sql"] for q in queries.captured_queries if "portal_apitoken" not in q["sql"]]
    p99 = percentile(ms, 99)
    report.add("6.refusal.p99_ms", f"refusing an over-cost query ({code}) p99, HTTP", p99, "ms", "≤ 20 ms", p99 <= 20)
    report.add(
        "6.refusal.queries",
        "SQL queries while refusing it, beyond the token lookup",
        len(beyond_auth),
        "queries",
        "= 0",
        not beyond_auth,
        note=f"{len(queries)} query in all: the bearer token lookup, which precedes the cost analysis",
    )


# --- 7. load --------------------------------------------------------------------------------------


# Each load client rotates over a few tokens of its organization, like the latency series: one token may
# spend 10,000 cost points a minute, which a client doing 20+ requests a second against a fast server
# exceeds (a 429 is the rate limit working, not the server failing, and is not what this figure measures).
LOAD_TOKENS_PER_CLIENT = 8


def _load_client(base_url, org, seconds, seed, out, errors):
    """``org``: one organization's traffic (open_loop.organizations_traffic) with this client's tokens."""
    rnd = random.Random(seed)
    api = Api(base_url, org["tokens"])
    summaries = [SUMMARY % g for g in SUMMARIES.values()]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pick = rnd.random()
        if pick < 0.5:
            query, vars_ = rnd.choice(summaries), {"period": org["period"]}
        elif pick < 0.85:
            query, vars_ = DRILL_DOWN, {"period": org["month"], "location": rnd.choice(org["locations"]), "first": 50}
        else:
            query, vars_ = STATEMENTS, {}
        began = time.perf_counter()
        failure = None
        try:
            status, data = api.graphql(query, vars_)
            if data.get("errors"):
                failure = f"HTTP {status} {data['errors'][0].get('extensions', {}).get('code', 'error')}"
            elif status != 200:
                failure = f"HTTP {status}"
        except Exception as exc:  # noqa: BLE001 - any failure of a request is an error to count
            failure = type(exc).__name__
            api = Api(base_url, org["tokens"])
        out.append((time.perf_counter() - began) * 1000)
        if failure:
            errors.append(failure)


def _load_process(args):
    base_url, clients, seconds, seed = args
    out, errors = [], []
    threads = [
        threading.Thread(target=_load_client, args=(base_url, org, seconds, seed * 1000 + i, out, errors))
        for i, org in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    return out, errors


def figure_load(report: Report, base_url: str, orgs: list[dict], sizes: Sizes, workers: int) -> None:
    """``sizes.load_clients`` closed-loop clients spread over the organizations in turn, each with
    LOAD_TOKENS_PER_CLIENT tokens of its own organization (``orgs[i]["tokens"]`` holds enough)."""
    clients = []
    for i in range(sizes.load_clients):
        org = orgs[i % len(orgs)]
        n = i // len(orgs)
        clients.append({**org, "tokens": org["tokens"][n * LOAD_TOKENS_PER_CLIENT : (n + 1) * LOAD_TOKENS_PER_CLIENT]})
    processes = min(sizes.load_processes, len(clients))
    shares = [clients[i::processes] for i in range(processes)]
    connections.close_all()  # no database connection is shared with the forked client processes
    began = time.monotonic()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        results = pool.map(_load_process, [(base_url, s, sizes.load_seconds, i) for i, s in enumerate(shares)])
    elapsed = time.monotonic() - began
    latencies = [ms for out, _ in results for ms in out]
    kinds = Counter(kind for _, failures in results for kind in failures)
    errors = sum(kinds.values())
    rps = len(latencies) / elapsed
    report.context["load"] = {
        "clients": len(clients),
        "organizations": len(orgs),
        "tokens_per_client": LOAD_TOKENS_PER_CLIENT,
        "seconds": sizes.load_seconds,
        "requests": len(latencies),
        "server": f"gunicorn, {workers} workers × gthread",
        "mix": "50% summaries (3 kinds), 35% drill-down pages of 50, 15% statement lists",
    }
    report.add(
        "7.load.rps",
        f"load: {len(clients)} clients over {len(orgs)} organizations × {sizes.load_seconds:.0f} s, requests/s",
        rps,
        "req/s",
    )
    report.add("7.load.p95_ms", "load: p95 latency", percentile(latencies, 95) if latencies else None, "ms")
    report.add(
        "7.load.errors",
        "load: errors (non-200 or GraphQL errors)",
        errors,
        "errors",
        "= 0",
        errors == 0,
        note=", ".join(f"{n} × {kind}" for kind, n in kinds.most_common()),
    )


def peak_rss_self_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="benchmark-"))
