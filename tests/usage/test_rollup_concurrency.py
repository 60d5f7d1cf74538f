"""Two writers of one organization's usage side by side (two imports of different days of one month):
the rollups stay equal to the records, because rebuilds of one organization take turns."""

import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from billing.usage.writer import usage_records_write
from tests.fixtures_billing import usage
from tests.usage.test_monthly_rollup import monthly_from_raw, monthly_table


def _rollup_lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE '%%pg_advisory_xact_lock%%billing.rollups%%'"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_two_imports_of_one_month_side_by_side_keep_the_monthly_rollup_right(make):
    org = make.organization()
    site, person = make.location(org), make.person(org)
    line = make.line(org, person=person, location=site)

    def record(day):
        return usage(
            org, line, datetime(2026, 3, day, 9, tzinfo=UTC), seconds=60 * day, dest="+4989123456", location=site
        )

    first_written, release, failures = threading.Event(), threading.Event(), []

    def first():
        try:
            with transaction.atomic():
                usage_records_write(records=[record(3)])
                first_written.set()
                release.wait(30)  # still uncommitted while the second writer rebuilds
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)
        finally:
            connection.close()

    def second():
        try:
            first_written.wait(30)
            usage_records_write(records=[record(4)])
        except Exception as exc:  # noqa: BLE001
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    deadline, waited = time.monotonic() + 10, False
    while time.monotonic() < deadline and not waited:
        waited = _rollup_lock_waiters() > 0
        time.sleep(0.05)
    release.set()
    for thread in threads:
        thread.join(30)
    assert not failures, failures
    assert waited, "the second writer's rollup rebuild did not wait for the first writer's transaction"
    assert len(monthly_table(org)) == 1
    assert monthly_table(org) == monthly_from_raw(org)
