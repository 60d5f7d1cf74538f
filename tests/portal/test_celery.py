"""Real Celery workers run the billing tasks: in-process on the in-memory broker, and as separate
processes on the demo's filesystem broker and on Redis (where one listens on 127.0.0.1:6379)."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker

from billing.models import Statement
from billing.statements import tasks
from portal.celery import app
from tests.services import database_url, needs_redis, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def closed_org(transactional_db, make):
    org = make.organization(billing_day=1)
    make.line_plan(make.line(org), make.plan(monthly_fee="12.50"), valid_from=date(2026, 1, 1))
    return org


def test_in_process_worker_on_the_memory_broker(closed_org, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    assert app.conf.broker_url.startswith("memory")
    with start_worker(app, perform_ping_check=False, pool="solo", shutdown_timeout=30):
        result = tasks.issue_statement.delay(closed_org.pk, "2026-10-01")
        pk = result.get(timeout=60) if app.conf.result_backend else None
        assert wait_for(lambda: Statement.objects.filter(organization=closed_org, pdf_status="ready").exists())
    statement = Statement.objects.get(organization=closed_org)
    assert pk in (None, statement.pk)
    assert statement.total == statement.subtotal + statement.tax_amount and statement.recurring_total > 0


def run_worker(broker_url: str, tmp_path, extra_env=None):
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker_url,
        "PORTAL_VAR_DIR": str(tmp_path / "var"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        **(extra_env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "-l", "warning", "-c", "2", "--without-heartbeat"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "worker.log", "w"),
        text=True,
    )


def send_and_wait(broker_url, transport_options, org, tmp_path):
    from celery import Celery

    # Celery lets the CELERY_BROKER_URL environment variable (memory:// in tests) win over the argument.
    saved = os.environ.pop("CELERY_BROKER_URL", None)
    try:
        client = Celery("test-client", broker=broker_url)
        client.conf.broker_transport_options = transport_options
        for _ in range(2):  # the same run twice: still one statement
            client.send_task("billing.statements.tasks.issue_statement", args=[org.pk, "2026-10-01"])
    finally:
        if saved is not None:
            os.environ["CELERY_BROKER_URL"] = saved
    return wait_for(lambda: Statement.objects.filter(organization=org, pdf_status="ready").exists(), timeout=30)


def stop(worker):
    worker.terminate()
    try:
        _out, err = worker.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        _out, err = worker.communicate()
    return err


@pytest.mark.slow
def test_worker_process_on_the_filesystem_broker(closed_org, tmp_path):
    folder = tmp_path / "var" / "broker" / "queue"
    folder.mkdir(parents=True)
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    worker = run_worker("filesystem://", tmp_path)
    try:
        assert send_and_wait("filesystem://", options, closed_org, tmp_path), stop(worker)
    finally:
        stop(worker)
    assert Statement.objects.filter(organization=closed_org).count() == 1
    assert (tmp_path / "media" / "statements" / closed_org.account_number).exists()


@pytest.mark.slow
@pytest.mark.services
@needs_redis
def test_worker_process_on_redis(closed_org, tmp_path):
    broker = "redis://127.0.0.1:6379/14"
    import redis

    redis.Redis.from_url(broker).flushdb()
    worker = run_worker(broker, tmp_path)
    try:
        assert send_and_wait(broker, {}, closed_org, tmp_path), stop(worker)
    finally:
        stop(worker)
    assert Statement.objects.filter(organization=closed_org).count() == 1


def test_beat_schedule_runs_billing_hourly():
    entry = app.conf.beat_schedule["billing-run"]
    assert entry["task"] == "billing.statements.tasks.run_daily_billing" and entry["schedule"] == 3600.0
    assert datetime.now(UTC)  # schedule is UTC; each organization's local period decides what is closed
