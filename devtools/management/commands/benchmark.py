"""``manage.py benchmark``: the performance figures, measured side by side in one run.

The benchmark never runs on the development data: it re-runs itself in a child process attached to
its own embedded database (``var/bench/pgdata``, files under ``var/bench``; ``var/bench-quick`` for
``--quick``), or to ``--database-url`` / ``BENCHMARK_DATABASE_URL`` when given. There it reuses the
dataset when it has about the requested size, or builds one with ``seed_demo --scale`` (COPY).
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from devtools.benchmark.child import is_child, rerun_as_child

CHILD_FLAG = "PORTAL_BENCHMARK_CHILD"
PASSED = (  # the options the child gets
    "records",
    "import_rows",
    "load_seconds",
    "clients",
    "billing_orgs",
    "broker",
    "web_workers",
    "database_url",
    "json",
    "only",
    "measured_statements",
)


class Command(BaseCommand):
    help = "Measure the performance figures (usage summary, drill-down, import, PDF, billing run, refusals, load)."

    def add_arguments(self, parser):
        parser.add_argument("--records", type=int, default=None, help="Dataset size in usage records (default 500,000)")
        parser.add_argument("--import-rows", type=int, default=None, help="Master.csv rows (default 1,000,000)")
        parser.add_argument("--quick", action="store_true", help="Tiny dataset, few repetitions (for tests)")
        parser.add_argument("--load-seconds", type=float, default=None, help="Load duration (default 20 s)")
        parser.add_argument("--clients", type=int, default=None, help="Concurrent API clients (default 50)")
        parser.add_argument("--billing-orgs", type=int, default=None, help="Organizations in the billing run (50)")
        parser.add_argument(
            "--measured-statements", type=int, default=None, help="Statements in the measured billing run (1,000)"
        )
        parser.add_argument("--broker", default=None, help="Broker of the billing run's workers (default filesystem)")
        parser.add_argument("--web-workers", type=int, default=None, help="gunicorn workers (default 2 × CPUs)")
        parser.add_argument(
            "--database-url",
            default=os.environ.get("BENCHMARK_DATABASE_URL", ""),
            help="PostgreSQL for the benchmark (default: embedded server in var/bench/pgdata)",
        )
        parser.add_argument("--json", default=None, help="Where to write the JSON (default var/benchmark.json)")
        parser.add_argument(
            "--only",
            default="",
            help="Comma-separated figure numbers to measure, e.g. 3 or 4,5 (default: all of 1-11)",
        )

    def handle(self, *args, **options):
        self._only(options["only"])  # a typo fails here, before a dataset is built
        if not is_child(CHILD_FLAG):
            return rerun_as_child("benchmark", options, flag=CHILD_FLAG, folder="bench", passed=PASSED)
        return self._run(options)

    @staticmethod
    def _only(value: str) -> set[str]:
        figures = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"}
        chosen = {part.strip() for part in value.split(",") if part.strip()} or figures
        if chosen - figures:
            raise CommandError(f"--only: unknown figure(s) {', '.join(sorted(chosen - figures))}; use 1-11")
        return chosen

    def _run(self, options):
        from devtools.benchmark import Report, cost_grid, fairness, open_loop, setup
        from devtools.benchmark import billing_measured as measured
        from devtools.benchmark import figures as f

        quick = options["quick"]
        records = options["records"] or (20_000 if quick else 500_000)
        sizes = f.Sizes()
        if quick:
            sizes = f.Sizes(
                repeats=3,
                refusals=20,
                import_rows=2_000,
                pdf_repeats=2,
                billing_orgs=3,
                billing_records=50,
                load_clients=4,
                load_seconds=3,
            )
        sizes.import_rows = options["import_rows"] or (sizes.import_rows if quick else 1_000_000)
        sizes.load_seconds = options["load_seconds"] or sizes.load_seconds
        sizes.load_clients = options["clients"] or sizes.load_clients
        sizes.billing_orgs = options["billing_orgs"] or sizes.billing_orgs
        cpus = os.cpu_count() or 1
        web_workers = options["web_workers"] or max(2, 2 * cpus)
        json_path = Path(options["json"] or Path(settings.BASE_DIR) / "var" / "benchmark.json")
        log = self.stdout.write
        logging.getLogger("weasyprint").setLevel(logging.WARNING)  # its layout steps would drown the table
        logging.getLogger("django.request").setLevel(logging.ERROR)  # the refused queries are expected 400s
        began = time.monotonic()
        report = Report()
        load_before = os.getloadavg()
        report.context.update(
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            machine=f"{platform.machine()}, {cpus} CPUs, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM",
            load_average_at_start=[round(x, 2) for x in load_before],
            python=platform.python_version(),
            database=settings.DATABASES["default"].get("NAME"),
            mode="quick" if quick else "full",
        )
        log(f"Benchmark ({report.context['mode']}) on {report.context['machine']}, load average {load_before[0]:.1f}")
        call_command("migrate", verbosity=0)
        removed = setup.throwaways_remove()  # left over by an interrupted run
        if removed:
            log(f"Removed {removed} throwaway organizations of an earlier run.")
        report.context["dataset"] = setup.dataset_ensure(records, log)
        report.add(
            "0.dataset.records",
            "dataset: usage records in the warehouse",
            report.context["dataset"]["records"],
            "records",
        )
        org = setup.largest_organization()
        start, end = setup.last_full_months(org, 3)
        statement = setup.typical_statement(org)
        demo_statements = setup.demo_statements()
        latency_tokens = 4 if quick else 20
        tokens = setup.tokens_create(org, latency_tokens)
        only = self._only(options["only"])
        # The load figures spread their clients over every demo organization, several tokens each.
        organizations = setup.demo_organizations()
        per_org = -(-sizes.load_clients // len(organizations)) * f.LOAD_TOKENS_PER_CLIENT if {"7", "10"} & only else 0
        load_tokens = {o: setup.tokens_create(o, per_org) for o in organizations}
        workdir = f.workdir()
        server = setup.WebServer(
            workers=web_workers, threads=4, log_path=workdir / "gunicorn.log", **open_loop.scaled_limits()
        )
        try:
            api = f.Api(server.url, tokens[:latency_tokens])
            if "1" in only:
                log(f"1. usage summary ({org.name}, {start} – {end}) ...")
                f.figure_summary(report, api, org, start, end, sizes)
            if "2" in only:
                log("2. drill-down ...")
                f.figure_drill_down(report, api, tokens[0], org, start, end, sizes)
            if "6" in only:
                log("6. refusing an over-cost query ...")
                f.figure_refusal(report, api, tokens[0], start, end, sizes)
            if "4" in only:
                log("4. statement PDF ...")
                f.figure_pdf(report, api, statement, demo_statements, sizes)
            if "3" in only:
                log(f"3. import of {sizes.import_rows:,} Asterisk rows ...")
                f.figure_import(report, sizes, workdir)
            if "5" in only:
                log(f"5. billing run of {sizes.billing_orgs} throwaway organizations with 2 workers ...")
                f.figure_billing_run(report, sizes, options["broker"], workdir, log)
            if "8" in only:
                log("8. cost model: estimated points against measured time, 30 query shapes ...")
                cost_grid.figure_cost_grid(report, setup.grid_tokens(org), start, end, 3 if quick else 5)
            if {"7", "10"} & only:
                periods = {o: setup.last_full_months(o, 3) for o in organizations}
                traffic = open_loop.organizations_traffic(server.url, load_tokens, periods)
            if "7" in only:
                log(f"7. load: {sizes.load_clients} clients over {len(organizations)} organizations ...")
                f.figure_load(report, server.url, traffic, sizes, web_workers)
            if "9" in only:
                log("9. fairness: a small summary beside another organization's heaviest queries ...")
                victim = setup.smallest_organization()
                fairness.figure_fairness(
                    report,
                    setup.tokens_create(org, 3),
                    setup.tokens_create(victim, 1)[0],
                    setup.last_full_months(victim, 1),
                    (start, end),
                    workers=web_workers,
                    requests=10 if quick else 60,
                    log_path=workdir / "gunicorn-fairness.log",
                )
            if "10" in only:
                rates = [2, 5] if quick else [10, 20, 40, 60, 80, 100, 120, 150, 180, 220]
                log(f"10. open-loop load: arrival rates {rates} per second ...")
                open_loop.figure_open_loop(report, server.url, traffic, rates, 3 if quick else 15)
            if "11" in only:
                measured.run(report, options, quick, demo_statements, options["broker"], workdir, log)
        finally:
            server.stop()
            shutil.rmtree(workdir, ignore_errors=True)
        report.figures.sort(key=lambda fig: int(fig.key.split(".")[0]))
        report.context["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        report.context["seconds"] = round(time.monotonic() - began, 1)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(report.as_json())
        log("")
        log(report.table())
        log("")
        misses = [fig.key for fig in report.figures if fig.passed is False]
        log(
            f"{len(report.figures)} figures, {len(misses)} MISS; {report.context['seconds']:.0f} s; JSON in {json_path}"
        )
