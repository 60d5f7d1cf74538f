"""A billing worker killed (SIGKILL, not a mock) in the middle of issuing leaves nothing behind; the next
run issues exactly one complete statement with the number the dead one would have had (no gap)."""

import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime

import pytest

from billing.models import Statement, StatementNumberSequence
from billing.periods import billing_period
from billing.statements.services import statement_issue
from tests.services import ROOT, database_url, wait_for

# Runs in a separate process: issue the statement but stop, for good, right before the transaction
# commits (the statement row, its lines and its number are written by then).
WORKER = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    import django
    django.setup()
    from billing.models import Organization
    from billing.statements import services

    def hang(**kwargs):
        open(sys.argv[2], "w").write("issuing")
        time.sleep(120)

    services.webhook_emit = hang
    organization = Organization.objects.get(pk=int(sys.argv[1]))
    from billing.periods import billing_period
    period = billing_period(organization, 2026, 10)
    services.statement_issue(organization=organization, period=period, now=datetime(2026, 11, 2, tzinfo=UTC))
    """
)


@pytest.mark.slow
def test_killed_worker_leaves_nothing_and_the_rerun_issues_once(transactional_db, make, tmp_path):
    org = make.organization(billing_day=1)
    make.line_plan(make.line(org), make.plan(monthly_fee="10.00"), valid_from=date(2026, 1, 1))
    marker = tmp_path / "issuing"
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "portal.settings"}
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(org.pk), str(marker)], cwd=ROOT, env=env, stderr=subprocess.PIPE
    )
    try:
        assert wait_for(marker.exists, timeout=90), worker.stderr.read().decode() if worker.poll() is not None else ""
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == -signal.SIGKILL
    # PostgreSQL rolled the dead transaction back: no statement, no number taken.
    assert not Statement.objects.filter(organization=org).exists()
    assert not StatementNumberSequence.objects.filter(year=2026, last_number__gt=0).exists()

    period = billing_period(org, 2026, 10)
    statement = statement_issue(organization=org, period=period, now=datetime(2026, 11, 2, tzinfo=UTC))
    again = statement_issue(organization=org, period=period, now=datetime(2026, 11, 3, tzinfo=UTC))
    assert statement.pk == again.pk and statement.number == "2026-000001"
    assert statement.status == Statement.Status.ISSUED and statement.total == statement.subtotal + statement.tax_amount
    assert statement.lines.count() > 0
