"""Faults with real processes, not mocks: the database crashing and coming back in the middle of a billing
run, and the Celery broker being killed and restarted. Each ends with exactly one issued statement per
organization, gap-free numbers and every PDF ready: nothing lost, nothing doubled."""

import time

import pytest

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

ORGANIZATIONS = 12
OUTAGE_SECONDS = 5


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
    finally:
        if worker is not None:
            stop_process(worker)
        found = statements_by_org(pg, seeded["period_start"]) if "seeded" in locals() else {}
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
@pytest.mark.skipif(not REDIS_SERVER or not __import__("os").path.exists(REDIS_SERVER), reason="no redis-server")
def test_broker_killed_and_restarted_during_a_billing_run(tmp_path, no_suite_broker):
    pytest.skip("written next")
    PrivateRedis  # noqa: B018
