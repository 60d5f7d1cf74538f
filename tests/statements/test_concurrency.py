"""Concurrent billing runs for the same organization and period cannot both issue."""

import threading
from datetime import UTC, date, datetime

import pytest
from django.db import connection

from billing.models import Statement, StatementNumberSequence
from billing.periods import billing_period
from billing.statements.services import statement_issue


@pytest.mark.slow
def test_concurrent_runs_issue_one_statement(transactional_db, make):
    org = make.organization(billing_day=1)
    make.line_plan(make.line(org), make.plan(monthly_fee="10.00"), valid_from=date(2026, 1, 1))
    period = billing_period(org, 2026, 10)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(statement_issue(organization=org, period=period, now=datetime(2026, 11, 2, tzinfo=UTC)).pk)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(set(results)) == 1 and Statement.objects.filter(organization=org).count() == 1
    assert StatementNumberSequence.objects.get(year=2026).last_number == 1  # no number burnt by the losers
