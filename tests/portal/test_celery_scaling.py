"""Celery scales out: a billing run shared by two worker processes on Redis (127.0.0.1:6379), as on
two machines. Each organization still gets exactly one statement with its PDF."""

import os
import subprocess
from datetime import date
from pathlib import Path

import pytest

from billing.models import Statement
from portal.workers import celery_worker_argv
from tests.services import database_url, needs_redis, wait_for

ROOT = Path(__file__).resolve().parents[2]
BROKER = "redis://127.0.0.1:6379/13"


def start_worker(name: str, tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / f"{name}.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": BROKER,
        "PORTAL_VAR_DIR": str(tmp_path / "var"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        celery_worker_argv(concurrency=1, name=f"{name}@%h"),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    return process, log


@pytest.mark.slow
@pytest.mark.services
@needs_redis
def test_billing_run_shared_by_two_workers_on_redis(transactional_db, make, tmp_path):
    import redis
    from celery import Celery

    redis.Redis.from_url(BROKER).flushdb()
    plan = make.plan(monthly_fee="12.50")
    orgs = []
    for _ in range(6):
        org = make.organization(billing_day=1)
        for _ in range(2):
            make.line_plan(make.line(org), plan, valid_from=date(2026, 1, 1))
        orgs.append(org)
    workers = [start_worker(name, tmp_path) for name in ("first", "second")]
    try:
        assert wait_for(lambda: all("ready." in log.read_text() for _, log in workers), timeout=90), [
            log.read_text()[-2000:] for _, log in workers
        ]
        saved = os.environ.pop("CELERY_BROKER_URL", None)  # the suite's memory:// would win over the argument
        try:
            client = Celery("test-client", broker=BROKER)
            for org in orgs * 2:  # every organization twice: still one statement each
                client.send_task("billing.statements.tasks.issue_statement", args=[org.pk, "2026-10-01"])
        finally:
            if saved is not None:
                os.environ["CELERY_BROKER_URL"] = saved
        ids = [org.pk for org in orgs]
        assert wait_for(
            lambda: Statement.objects.filter(organization_id__in=ids, pdf_status="ready").count() == len(orgs),
            timeout=180,
        ), [log.read_text()[-2000:] for _, log in workers]
    finally:
        for process, _ in workers:
            process.terminate()
        for process, _ in workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    for org in orgs:
        statement = Statement.objects.get(organization=org)
        assert statement.total == statement.subtotal + statement.tax_amount and statement.recurring_total > 0
        assert (tmp_path / "media" / statement.pdf_file).is_file()
    # Both workers took part in the run (each acknowledged tasks of it).
    done = [log.read_text().count("succeeded in") for _, log in workers]
    assert all(n > 0 for n in done), done
