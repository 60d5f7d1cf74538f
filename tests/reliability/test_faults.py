"""Faults with real processes, not mocks: the database crashing and coming back in the middle of a billing
run, and the Celery broker being killed and restarted. Each ends with exactly one issued statement per
organization, gap-free numbers and every PDF ready: nothing lost, nothing doubled."""

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from billing.models import Statement
from billing.periods import billing_period, last_closed_period
from billing.statements import tasks
from billing.statements.services import statement_issue
from tests.reliability.procs import (
    REDIS_SERVER,
    PrivateRedis,
    ThrowawayPostgres,
    celery_client,
    seed,
    start_celery_worker,
    stop_process,
    tail,
    wait_until,
)
from tests.services import database_url

ORGANIZATIONS = 12
OUTAGE_SECONDS = 5
VISIBILITY_TIMEOUT = 20


@pytest.fixture
def no_suite_broker(monkeypatch):
    # The suite runs Celery on memory:// through CELERY_BROKER_URL, which would win over our brokers.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)


def statements_by_org(pg: ThrowawayPostgres, period_start: str) -> dict[int, list[tuple]]:
    rows = pg.query(
        "SELECT organization_id, number, status, pdf_status, pdf_file, total, subtotal + tax_amount,"
        " (SELECT count(*) FROM billing_statementline l WHERE l.statement_id = s.id)"
        " FROM billing_statement s WHERE period_start = %s",
        (period_start,),
    )
    found: dict[int, list[tuple]] = {}
    for row in rows:
        found.setdefault(row[0], []).append(row[1:])
    return found


@pytest.mark.slow
def test_database_crash_restart_during_a_billing_run(tmp_path, no_suite_broker):
    pg = ThrowawayPostgres().start()
    worker = None
    try:
        env = {"PORTAL_VAR_DIR": str(tmp_path / "var"), "MEDIA_ROOT": str(tmp_path / "media")}
        seeded = seed(pg.url, ORGANIZATIONS, env)
        orgs, period_start = seeded["orgs"], seeded["period_start"]
        log = tmp_path / "worker.log"
        worker = start_celery_worker({**env, "DATABASE_URL": pg.url, "CELERY_BROKER_URL": "filesystem://"}, log)
        assert wait_until(lambda: "ready." in log.read_text(), timeout=90), tail(log)

        queue = str(tmp_path / "var" / "broker" / "queue")
        client = celery_client("filesystem://", {"data_folder_in": queue, "data_folder_out": queue})
        client.send_task("billing.statements.tasks.run_daily_billing")  # what beat sends every hour

        def issued() -> int:
            return pg.query("SELECT count(*) FROM billing_statement WHERE status <> 'draft'")[0][0]

        def pdfs_ready() -> int:
            return pg.query("SELECT count(*) FROM billing_statement WHERE pdf_status = 'ready'")[0][0]

        # Crash the server twice in the middle of the run (no checkpoint, every backend killed, crash
        # recovery on start): while statements are being issued, and again while PDFs are being rendered.
        outages = []
        for phase, started in (("issuing", issued), ("rendering", pdfs_ready)):
            assert wait_until(lambda: started() >= 1, timeout=120), tail(log)  # noqa: B023
            assert pdfs_ready() < len(orgs), f"the run finished before the crash while {phase}: nothing proven"
            down = time.monotonic()
            pg.stop_immediate()
            time.sleep(OUTAGE_SECONDS)  # the outage itself; everything else waits on conditions
            pg.start_again()
            outages.append(time.monotonic() - down)

        assert wait_until(lambda: pdfs_ready() == len(orgs), timeout=150, interval=1), tail(log, 8000)
        stop_process(worker)  # retries still waiting in the worker would have run by now or never
        found = statements_by_org(pg, period_start)
    finally:
        if worker is not None:
            stop_process(worker)
        pg.stop()

    assert len(outages) == 2 and min(outages) >= OUTAGE_SECONDS
    assert sorted(found) == sorted(orgs), f"organizations without a statement: {set(orgs) - set(found)}"
    doubled = {org: rows for org, rows in found.items() if len(rows) != 1}
    assert not doubled, doubled
    year = period_start[:4]
    numbers = sorted(rows[0][0] for rows in found.values())
    assert numbers == [f"{year}-{n:06d}" for n in range(1, len(orgs) + 1)]  # gap-free, none taken twice
    for (number, status, pdf_status, pdf_file, total, subtotal_and_tax, lines), *_ in found.values():
        assert status == "issued" and pdf_status == "ready", (number, status, pdf_status)
        assert (tmp_path / "media" / pdf_file).is_file(), pdf_file
        assert total == subtotal_and_tax and total > 0 and lines > 0, number


@pytest.mark.slow
@pytest.mark.skipif(not Path(REDIS_SERVER).exists(), reason=f"no redis-server at {REDIS_SERVER}")
def test_broker_killed_and_restarted_during_a_billing_run(transactional_db, make, tmp_path, no_suite_broker):
    plan = make.plan(monthly_fee="12.50")
    orgs = []
    for _ in range(ORGANIZATIONS):
        org = make.organization(billing_day=1)
        for _ in range(2):
            make.line_plan(make.line(org), plan, valid_from=date(2020, 1, 1))
        orgs.append(org)
    period = last_closed_period(orgs[0])
    broker = PrivateRedis(tmp_path / "redis").start()
    log = tmp_path / "worker.log"
    env = {
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker.url,
        "PORTAL_VAR_DIR": str(tmp_path / "var"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        # Tasks the worker held unacknowledged when the broker died come back after this (an hour in
        # production; short here so the test need not wait).
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
    }
    worker = start_celery_worker(env, log)
    try:
        assert wait_until(lambda: "ready." in log.read_text(), timeout=90), tail(log)
        client = celery_client(broker.url)

        def send(batch):
            for org in batch:
                client.send_task("billing.statements.tasks.issue_statement", args=[org.pk, period.start.isoformat()])

        def pdfs_ready() -> int:
            return Statement.objects.filter(organization__in=orgs, pdf_status="ready").count()

        half = len(orgs) // 2
        send(orgs[:half])
        # Kill the broker once the first PDF is ready: the other renders are queued or running, and a
        # task that finishes while the broker is away cannot be acknowledged.
        assert wait_until(lambda: pdfs_ready() >= 1, timeout=90), tail(log)
        assert pdfs_ready() < half, "the first half finished before the broker died: nothing proven"
        down = time.monotonic()
        broker.kill()  # SIGKILL: queued, reserved and running tasks are all cut off from their broker
        assert wait_until(lambda: "broker" in log.read_text().lower() and "lost" in log.read_text(), timeout=60), tail(
            log
        )
        time.sleep(OUTAGE_SECONDS)  # the outage itself; everything else waits on conditions
        broker.start()  # same port, same append-only file
        outage = time.monotonic() - down
        send(orgs[half:])  # the rest of the run, on the restarted broker
        # and the hourly sweep, which re-sends any organization still without a statement: still one each
        client.send_task("billing.statements.tasks.run_daily_billing")
        assert wait_until(lambda: pdfs_ready() == len(orgs), timeout=150, interval=1), tail(log, 8000)
        # Whatever the worker held unacknowledged when the broker died is redelivered by Redis after the
        # visibility timeout: wait until the broker holds nothing (queue and unacknowledged set empty),
        # so the counts below include every redelivery.
        redis = broker.client()
        assert wait_until(
            lambda: redis.llen("celery") == 0 and redis.hlen("unacked") == 0, timeout=VISIBILITY_TIMEOUT * 6
        ), (redis.llen("celery"), redis.hlen("unacked"), tail(log, 8000))
    finally:
        stop_process(worker)
        broker.stop()

    assert outage >= OUTAGE_SECONDS
    statements = list(Statement.objects.filter(organization__in=orgs, period_start=period.start))
    assert sorted(s.organization_id for s in statements) == sorted(org.pk for org in orgs)  # one each
    year = period.start.year
    assert sorted(s.number for s in statements) == [f"{year}-{n:06d}" for n in range(1, len(orgs) + 1)]
    for statement in statements:
        assert statement.status == "issued" and statement.pdf_status == "ready"
        assert (tmp_path / "media" / statement.pdf_file).is_file()
        assert statement.total == statement.subtotal + statement.tax_amount and statement.total > 0


def test_the_sweep_resends_a_render_lost_for_six_hours_once(billed_org, make, monkeypatch):
    """The last net under the broker: a statement whose render task was lost (its PDF still pending six
    hours after issue) gets one more render from the hourly sweep, in exactly one of its runs."""
    now = datetime(2026, 11, 2, 12, tzinfo=UTC)
    other = make.organization(billing_day=1)
    make.line_plan(make.line(other), make.plan(monthly_fee="10.00"), valid_from=date(2026, 1, 1))
    lost = statement_issue(organization=billed_org, period=billing_period(billed_org, 2026, 10), now=now)
    rendered = statement_issue(organization=other, period=billing_period(other, 2026, 10), now=now)
    Statement.objects.filter(pk=rendered.pk).update(pdf_status="ready")
    sent = []
    monkeypatch.setattr(tasks.render_statement_pdf, "delay", lambda pk: sent.append(pk))
    for hours in range(0, 12):  # the beat runs the sweep every hour
        monkeypatch.setattr(tasks.timezone, "now", lambda hours=hours: now + timedelta(hours=hours, minutes=1))
        assert tasks.run_daily_billing() == 0
    assert sent == [lost.pk]  # once (the ready one never), however many hours it stays pending
