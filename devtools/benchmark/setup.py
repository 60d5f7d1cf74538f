"""Benchmark fixtures: the dataset (reused when present), tokens, throwaway organizations and servers."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from billing.models import (
    Line,
    LineAssignment,
    LinePlan,
    Location,
    Organization,
    Person,
    Plan,
    Statement,
    UsageDaily,
)
from billing.models.choices import duration_band
from billing.numbers import classify
from billing.periods import last_closed_period
from billing.statements.pdf import statement_render
from billing.statements.services import statement_issue
from billing.usage.writer import NewUsageRecord, usage_records_write
from devtools.benchmark.dataset import dataset_build
from devtools.demo.catalog import ensure_catalog, plan_code
from devtools.demo.seed import demo_accounts
from portal.api.core.auth import token_create
from portal.models import Membership

ROOT = Path(settings.BASE_DIR)
RECORDS_PER_SCALE = 184_000  # usage records per unit of seed_demo's scale (measured: scale 4.5 writes 827,870)
THROWAWAY_PREFIX = "BENCH-"  # account numbers of organizations the benchmark creates and removes
BENCH_USER = "bench-analyst"


# --- dataset -------------------------------------------------------------------------------------


def dataset_records() -> int:
    return int(UsageDaily.objects.aggregate(n=Sum("records"))["n"] or 0)


def _marker() -> tuple[Path, str]:
    """A note, next to the benchmark's files, of which dataset was built for which request."""
    db = connection.settings_dict
    where = f"{db.get('HOST') or ''}/{db.get('NAME')}"
    return Path(settings.VAR_DIR) / "benchmark-dataset.json", where


def dataset_ensure(records: int, log) -> dict:
    """Reuse the demo dataset when it was built for ``records`` (the marker says so and the records are
    still there) or its size is within 30 % of it; otherwise (re)build it."""
    present = Organization.objects.filter(account_number__in=demo_accounts()).count() == len(demo_accounts())
    have = dataset_records() if present else 0
    marker, where = _marker()
    try:
        note = json.loads(marker.read_text())
    except (OSError, ValueError):
        note = {}
    built_for = note.get("database") == where and note.get("requested") == records and note.get("records") == have
    scale = max(0.02, round(records / RECORDS_PER_SCALE, 2))
    if present and have and (built_for or 0.7 * records <= have <= 1.3 * records):
        log(f"Reusing the dataset: {have:,} usage records (wanted ~{records:,}).")
        return {"records": have, "built": False, "build_seconds": None}
    log(f"Building the dataset: the demo at scale {scale} (~{records:,} records; COPY, set-based rollups) ...")
    began = time.monotonic()
    # One process per demo organization: generating the records is the slow part (Python), and the
    # server parses and inserts each organization's COPY alongside.
    build = dataset_build(scale=scale, end=timezone.now().date(), months=6, workers=4, log=log)
    have = dataset_records()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"database": where, "requested": records, "records": have}))
    return {
        "records": have,
        "built": True,
        "build_seconds": round(time.monotonic() - began, 1),
        "build_phases": build.seconds,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def largest_organization() -> Organization:
    row = (
        UsageDaily.objects.filter(organization__account_number__in=demo_accounts())
        .values("organization_id")
        .annotate(n=Sum("records"))
        .order_by("-n")
        .first()
    )
    return Organization.objects.get(pk=row["organization_id"])


def last_full_months(organization: Organization, months: int = 3) -> tuple[date, date]:
    """The last ``months`` full calendar months with data (local dates)."""
    latest = (
        UsageDaily.objects.filter(organization=organization)
        .order_by("-local_date")
        .values_list("local_date", flat=True)[0]
    )
    end = latest.replace(day=1) - timedelta(days=1)
    start = end.replace(day=1)
    for _ in range(months - 1):
        start = (start - timedelta(days=1)).replace(day=1)
    return start, end


def typical_statement(organization: Organization) -> Statement:
    """The statement of the last closed period, issued and rendered once and then kept with the dataset."""
    period = last_closed_period(organization)
    statement = statement_issue(organization=organization, period=period)
    if (
        statement.pdf_status != Statement.PdfStatus.READY
        or not (Path(settings.MEDIA_ROOT) / statement.pdf_file).is_file()
    ):
        statement_render(statement=statement)
    return Statement.objects.select_related("organization").get(pk=statement.pk)


def demo_statements() -> list[Statement]:
    """The last closed period's statement of every demo customer (issued once, kept with the dataset)."""
    organizations = Organization.objects.filter(account_number__in=demo_accounts()).order_by("account_number")
    return [typical_statement(org) for org in organizations]


def tokens_create(organization: Organization, count: int) -> list[str]:
    """``count`` analyst tokens (one per simulated API client, each with its own rate limit)."""
    user, _ = get_user_model().objects.get_or_create(username=BENCH_USER, defaults={"email": ""})
    membership, _ = Membership.objects.get_or_create(user=user, organization=organization, defaults={"role": "analyst"})
    scopes = ["statements:read", "usage:read"]
    return [token_create(membership=membership, name=f"benchmark {i}", scopes=scopes)[1] for i in range(count)]


def smallest_organization() -> Organization:
    row = (
        UsageDaily.objects.filter(organization__account_number__in=demo_accounts())
        .values("organization_id")
        .annotate(n=Sum("records"))
        .order_by("n")
        .first()
    )
    return Organization.objects.get(pk=row["organization_id"])


def demo_organizations() -> list[Organization]:
    return list(Organization.objects.filter(account_number__in=demo_accounts()).order_by("account_number"))


def grid_tokens(largest: Organization) -> dict[Organization, str]:
    """One token for the largest demo organization and one for the smallest (cost grid, figure 8)."""
    orgs = [largest, smallest_organization()]
    return {org: tokens_create(org, 1)[0] for org in dict.fromkeys(orgs)}


# --- throwaway organizations ----------------------------------------------------------------------


@dataclass
class Throwaway:
    organization: Organization
    lines: list[Line]


def throwaway_create(account: str, index: int, *, lines: int) -> Throwaway:
    """A German organization with ``lines`` lines on the demo Flex plan (account ``BENCH-...``)."""
    catalog = ensure_catalog({"EUR"}, rate_change_on=date(2020, 1, 1))
    plan = catalog.get(plan_code("flex", "EUR")) or Plan.objects.get(code=plan_code("flex", "EUR"))
    org = Organization.objects.create(
        account_number=account,
        name=f"Benchmark {account}",
        country="DE",
        time_zone="Europe/Berlin",
        currency="EUR",
        locale="de-DE",
        billing_day=1,
        tax_rate="0.19",
    )
    sites = [Location.objects.create(organization=org, name=f"Site {i}") for i in range(2)]
    since = datetime(2020, 1, 1, tzinfo=UTC)
    out = []
    for i in range(lines):
        person = Person.objects.create(organization=org, name=f"Person {i}")
        line = Line.objects.create(organization=org, number=f"+49899{index:04d}{i:03d}", activated_on=since.date())
        LineAssignment.objects.create(
            organization=org, line=line, person=person, location=sites[i % 2], valid_from=since
        )
        LinePlan.objects.create(organization=org, line=line, plan=plan, valid_from=since.date())
        out.append(line)
    return Throwaway(org, out)


def throwaway_usage(throwaway: Throwaway, *, start: date, end: date, records: int, seed: int) -> int:
    """``records`` calls spread over the lines and days, written like an import (rollups rebuilt)."""
    rnd = random.Random(seed)
    org = throwaway.organization
    tz = zoneinfo.ZoneInfo(org.time_zone)
    days = (end - start).days + 1
    others = ["+493012345678", "+4917612345678", "+33142685300", "+4940987654321", "+12125550123"]
    dests = {n: classify(n, throwaway.lines[0].number, "DE") for n in others}
    assignments = {
        a.line_id: a
        for a in LineAssignment.objects.filter(organization=org).only("line_id", "person_id", "location_id")
    }
    batch = []
    for i in range(records):
        line = throwaway.lines[i % len(throwaway.lines)]
        local = datetime.combine(start + timedelta(days=rnd.randrange(days)), datetime.min.time(), tz) + timedelta(
            hours=rnd.randint(8, 18), minutes=rnd.randrange(60), seconds=rnd.randrange(60)
        )
        started = local.astimezone(UTC)
        seconds = int(rnd.lognormvariate(5, 1)) + 1
        other = others[i % len(others)]
        dest = dests[other]
        a = assignments[line.id]
        batch.append(
            NewUsageRecord(
                organization_id=org.id,
                line_id=line.id,
                person_id=a.person_id,
                location_id=a.location_id,
                usage_type="voice",
                started_at=started,
                local_date=local.date(),
                local_hour=local.hour,
                duration_seconds=seconds,
                billable_seconds=seconds,
                duration_band=duration_band(seconds),
                direction="outbound",
                answered=True,
                destination=dest.number,
                destination_masked=dest.masked,
                category=dest.category,
                country=dest.country,
                zone=dest.zone,
                data_bytes=0,
                source="native",
                source_id=f"bench-{seed}-{i}",
                import_batch_id=None,
            )
        )
    return usage_records_write(records=batch).inserted


def throwaways_remove() -> int:
    """Delete every ``BENCH-`` organization with its usage, statements and files (maintenance switches)."""
    ids = list(Organization.objects.filter(account_number__startswith=THROWAWAY_PREFIX).values_list("id", flat=True))
    if not ids:
        return 0
    accounts = list(Organization.objects.filter(id__in=ids).values_list("account_number", flat=True))
    with transaction.atomic(), connection.cursor() as cursor:
        # Usage is append-only and issued statements immutable; these switches allow a purge in this
        # transaction only (migrations 0002 and 0006 of billing).
        cursor.execute("SET LOCAL billing.allow_usage_delete = 'on'")
        cursor.execute("SET LOCAL billing.allow_statement_delete = 'on'")
        cursor.execute("SET LOCAL portal.allow_audit_delete = 'on'")
        for table in (
            "billing_usagedaily",
            "billing_usagehourly",
            "billing_usagemonthly",
            "billing_usagerecord",
            "portal_auditlog",
        ):
            cursor.execute(f"DELETE FROM {table} WHERE organization_id = ANY(%s)", [ids])  # noqa: S608
        for table in ("billing_statementline", "billing_statementbreakdown"):
            cursor.execute(
                f"DELETE FROM {table} WHERE statement_id IN "  # noqa: S608
                "(SELECT id FROM billing_statement WHERE organization_id = ANY(%s))",
                [ids],
            )
        cursor.execute("DELETE FROM billing_statement WHERE organization_id = ANY(%s)", [ids])
        for model in (LinePlan, LineAssignment):
            model.objects.filter(organization_id__in=ids).delete()
        Organization.objects.filter(id__in=ids).delete()
    for account in accounts:
        folder = Path(settings.MEDIA_ROOT) / "statements" / account
        if folder.is_dir():
            for pdf in folder.iterdir():
                pdf.unlink()
            folder.rmdir()
    return len(ids)


# --- processes -----------------------------------------------------------------------------------


def database_url() -> str:
    """A DATABASE_URL for child processes (web server, workers) that reaches the same database."""
    s = connection.settings_dict
    host = s["HOST"] or s.get("OPTIONS", {}).get("host") or "localhost"
    user = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        user += ":" + quote(s["PASSWORD"])
    if host.startswith("/"):  # unix socket folder (the embedded server)
        return f"postgres://{user}@{quote(host, safe='')}/{s['NAME']}"
    return f"postgres://{user}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"PORTAL_PGDATA", "DJANGO_SETTINGS_MODULE"}}
    env.update(DATABASE_URL=database_url(), DJANGO_SETTINGS_MODULE="portal.settings", **extra)
    return env


class WebServer:
    """gunicorn in production mode on 127.0.0.1 (threads, keep-alive), as it would run behind a proxy."""

    def __init__(self, workers: int, threads: int, log_path: Path, **extra_env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = child_env(
            PORTAL_ENV="production",
            SECRET_KEY=os.urandom(48).hex(),
            ALLOWED_HOSTS="127.0.0.1",
            # TLS ends at the proxy in production; the benchmark talks plain HTTP on loopback.
            SECURE_SSL_REDIRECT="false",
            # Production refuses a filesystem broker; the web process only names the broker, never
            # connects to it for these reads.
            CELERY_BROKER_URL=os.environ.get("BENCHMARK_WEB_BROKER_URL", "redis://127.0.0.1:6379/15"),
            MEDIA_ROOT=str(settings.MEDIA_ROOT),
            LOG_LEVEL="WARNING",
            **extra_env,
        )
        self.log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "portal.wsgi:application",
                # The production configuration (keep-alive, timeouts, worker recycling); the options
                # below override only the address and the number of processes and threads.
                "--config",
                str(ROOT / "portal" / "gunicorn_conf.py"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--worker-class",
                "gthread",
                "--threads",
                str(threads),
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.process.returncode}); see {log_path}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:  # noqa: S310 - loopback
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within 60 s; see {log_path}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
