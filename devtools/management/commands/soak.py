"""``manage.py soak``: a sustained mixed load (portal pages, API, PDFs) with the memory of every process.

Like the benchmark it never runs on the development data: it re-runs itself attached to its own
embedded database (``var/soak/pgdata``, files under ``var/soak``; ``var/soak-quick`` for ``--quick``),
or to ``--database-url`` / ``BENCHMARK_DATABASE_URL``, where it reuses or builds a demo dataset.
See devtools/benchmark/soak.py for what is sent, checked and sampled.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from devtools.benchmark.child import is_child, rerun_as_child
from portal.workers import celery_worker_argv

CHILD_FLAG = "PORTAL_SOAK_CHILD"
PASSED = (  # the options the child gets
    "minutes",
    "seconds",
    "records",
    "sessions",
    "api_clients",
    "web_workers",
    "worker_concurrency",
    "max_requests",
    "max_tasks_per_child",
    "broker",
    "database_url",
    "json",
)


class Command(BaseCommand):
    help = "Sustained mixed load on production-mode gunicorn and a Celery worker; errors, latencies, memory."

    def add_arguments(self, parser):
        parser.add_argument("--minutes", type=float, default=5.0, help="How long the load runs (default 5)")
        parser.add_argument("--seconds", type=float, default=None, help="Or: how long in seconds")
        parser.add_argument("--quick", action="store_true", help="Small dataset, 50 s, recycling every few dozen")
        parser.add_argument("--records", type=int, default=None, help="Dataset size (default 50,000; quick 15,000)")
        parser.add_argument("--sessions", type=int, default=None, help="Signed-in portal users (default 8)")
        parser.add_argument("--api-clients", type=int, default=None, help="API token clients (default 4)")
        parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers (default 2)")
        parser.add_argument("--worker-concurrency", type=int, default=2, help="Celery worker processes (default 2)")
        parser.add_argument(
            "--max-requests", type=int, default=None, help="gunicorn max_requests (default: the production config)"
        )
        parser.add_argument(
            "--max-tasks-per-child",
            type=int,
            default=None,
            help="Celery worker_max_tasks_per_child (default: the setting)",
        )
        parser.add_argument("--broker", default="", help="Celery broker (default: a private filesystem broker)")
        parser.add_argument(
            "--database-url",
            default=os.environ.get("BENCHMARK_DATABASE_URL", ""),
            help="PostgreSQL for the soak (default: embedded server in var/soak/pgdata)",
        )
        parser.add_argument("--json", default=None, help="Where to write the JSON (default var/soak.json)")

    def handle(self, *args, **options):
        if not is_child(CHILD_FLAG):
            return rerun_as_child(
                "soak", options, flag=CHILD_FLAG, folder="soak", passed=PASSED, drop={"CELERY_BROKER_URL"}
            )
        return self._run(options)

    def _run(self, options):
        from devtools.benchmark import open_loop, setup
        from devtools.benchmark import soak as s

        quick = options["quick"]
        seconds = options["seconds"] or (50.0 if quick else options["minutes"] * 60)
        records = options["records"] or (15_000 if quick else 50_000)
        sessions = options["sessions"] or (6 if quick else 8)
        api_clients = options["api_clients"] or (2 if quick else 4)
        # --quick recycles often so that a 50 s run shows recycling; a full run uses production's values.
        max_requests = options["max_requests"] or (100 if quick else None)
        tasks_per_child = options["max_tasks_per_child"] or (2 if quick else None)
        json_path = Path(options["json"] or Path(settings.BASE_DIR) / "var" / "soak.json")
        log = self.stdout.write
        logging.getLogger("weasyprint").setLevel(logging.WARNING)
        log(
            f"Soak ({'quick' if quick else 'full'}) for {seconds:.0f} s on {platform.machine()}, "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
        )
        call_command("migrate", verbosity=0)
        dataset = setup.dataset_ensure(records, log)
        statements = setup.demo_statements()  # one rendered statement per demo customer, kept with the dataset
        log(f"{len(statements)} statements with their PDFs; collecting static files for production mode ...")
        self._collectstatic()

        org = setup.largest_organization()
        start, end = setup.last_full_months(org, 2)
        plan = s.plan_clients(setup.tokens_create, sessions, api_clients, 6, s.period_of(start, end))
        workdir = Path(settings.VAR_DIR) / "soak-run"
        workdir.mkdir(parents=True, exist_ok=True)
        web_env = {}
        if max_requests:
            web_env.update(GUNICORN_MAX_REQUESTS=str(max_requests), GUNICORN_MAX_REQUESTS_JITTER=str(max_requests // 5))
        worker, send_task, worker_info = self._worker(options, tasks_per_child, workdir)
        server = None
        try:
            # The demo organizations' API clients send many organizations' worth of traffic (open_loop).
            server = setup.WebServer(
                workers=options["web_workers"],
                threads=4,
                log_path=workdir / "gunicorn.log",
                **web_env,
                **open_loop.scaled_limits(),
            )
            roles = {"web (gunicorn master + workers)": server.process.pid, "worker (celery + pool)": worker.pid}
            sampler = s.MemorySampler(roles)
            sampler.sample_once()
            initial = {role: sampler.servers(role) for role in roles}
            stats = s.Stats()
            began = time.monotonic()
            until = began + seconds
            threads = [
                threading.Thread(target=s.portal_session, args=(server.url, user, stats, until, 100 + i))
                for i, user in enumerate(plan.users)
            ]
            threads += [
                threading.Thread(target=s.api_client, args=(server.url, client, stats, until, 200 + i))
                for i, client in enumerate(plan.api_clients)
            ]
            threads += [
                threading.Thread(target=s.pdf_renderer, args=(send_task, plan.statements, stats, until, 300 + i))
                for i in range(options["worker_concurrency"])
            ]
            sampler.start()
            log(
                f"Load: {len(plan.users)} portal sessions ({', '.join(sorted({u.role for u in plan.users}))}), "
                f"{len(plan.api_clients)} API clients, {options['worker_concurrency']} PDF renderers; "
                f"gunicorn {options['web_workers']} workers × 4 threads"
                f" (max_requests {max_requests or 'from the production config'}), Celery worker "
                f"-c {options['worker_concurrency']} ({worker_info}) ..."
            )
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(seconds + 300)
            elapsed = time.monotonic() - began
            sampler.stop()
        finally:
            if server is not None:
                server.stop()
            self._stop(worker)
        result = s.summarize(stats, sampler, initial, elapsed)
        result["context"] = {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.0f} GiB",
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "dataset": dataset,
            "mode": "quick" if quick else "full",
            "sessions": [f"{u.username} ({u.role})" for u in plan.users],
            "api_clients": len(plan.api_clients),
            "web": {"workers": options["web_workers"], "threads": 4, "max_requests": max_requests or "config"},
            "worker": worker_info,
        }
        log("")
        log(s.report_text(result))
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2, default=str))
        log(f"\nJSON (with the memory series): {json_path}")
        failed = []
        if result["errors"]:
            failed.append(f"{result['errors']} errors")
        for role, m in result["memory"].items():
            if m["max_process_mib"] > s.MAX_PROCESS_MIB:
                failed.append(f"{role}: one process reached {m['max_process_mib']} MiB > {s.MAX_PROCESS_MIB}")
            if not m["verdict"]["passed"]:
                failed.append(f"{role}: {m['verdict']['reason']}")
        if failed:
            raise CommandError("; ".join(failed))

    @staticmethod
    def _collectstatic():
        """Production mode serves static files from the manifest that collectstatic writes."""
        from devtools.benchmark.setup import child_env

        env = child_env(
            PORTAL_ENV="production",
            SECRET_KEY=os.urandom(48).hex(),
            ALLOWED_HOSTS="127.0.0.1",
            CELERY_BROKER_URL="redis://127.0.0.1:6379/15",  # named, never connected to
            LOG_LEVEL="WARNING",
        )
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
            cwd=settings.BASE_DIR,
            env=env,
            check=True,
        )

    def _worker(self, options, tasks_per_child, workdir: Path):
        """A real Celery worker (prefork) with the recycling settings; returns it and how to send it tasks."""
        from devtools.benchmark.setup import ROOT, child_env

        extra = {"DEBUG": "false"}
        if tasks_per_child:
            extra["CELERY_WORKER_MAX_TASKS_PER_CHILD"] = str(tasks_per_child)
        if options["broker"]:
            # A real broker: the worker runs in production mode, as deployed.
            extra.update(
                PORTAL_ENV="production",
                SECRET_KEY=os.urandom(48).hex(),
                ALLOWED_HOSTS="127.0.0.1",
                CELERY_BROKER_URL=options["broker"],
            )
        # Else the private filesystem broker of this run's folder (production refuses it, so the worker
        # runs with development settings and DEBUG off: the same code, tasks and recycling settings).
        env = child_env(**extra)
        log_path = workdir / "celery.log"
        worker = subprocess.Popen(
            celery_worker_argv(concurrency=options["worker_concurrency"], name="soak@%h"),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(log_path, "w"),  # noqa: SIM115 - the process owns it
        )
        deadline = time.monotonic() + 90
        while "ready." not in (log_path.read_text() if log_path.exists() else ""):
            if time.monotonic() > deadline or worker.poll() is not None:
                self._stop(worker)
                raise CommandError(f"the Celery worker did not start; see {log_path}")
            time.sleep(0.3)
        if options["broker"]:
            from celery import Celery

            client = Celery("soak-client", broker=options["broker"])
            send_task = client.send_task
        else:
            from portal.celery import app

            send_task = app.send_task
        per_child = tasks_per_child or settings.CELERY_WORKER_MAX_TASKS_PER_CHILD
        info = (
            f"max {per_child} tasks / {settings.CELERY_WORKER_MAX_MEMORY_PER_CHILD // 1000} MB per child, "
            f"broker {'given' if options['broker'] else 'filesystem'}"
        )
        return worker, send_task, info

    @staticmethod
    def _stop(process) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
