"""A read replica (DATABASE_REPLICA_URL) serves the usage selectors; everything else stays on the primary."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connections, router
from django.db.utils import InternalError, load_backend
from django.test.utils import CaptureQueriesContext

from billing.models import UsageRecord
from billing.usage.scope import Scope
from billing.usage.selectors import Dimension, Period, read_alias, usage_records, usage_summary
from tests.usage.test_selectors import generate

ROOT = Path(__file__).resolve().parents[2]


def test_the_setting_adds_a_read_only_replica_with_the_router():
    env = {k: v for k, v in os.environ.items() if k not in {"PORTAL_ENV"}}
    env.update(
        DATABASE_URL="postgres://portal@127.0.0.1:5432/portal",
        DATABASE_REPLICA_URL="postgres://reader@replica.internal:5432/portal",
    )
    code = (
        "from django.conf import settings; d = settings.DATABASES['replica']; "
        "print(d['HOST'], d['USER'], d['OPTIONS']['options'], d['TEST']['MIRROR'], settings.DATABASE_ROUTERS)"
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "replica.internal reader -c default_transaction_read_only=on -c statement_timeout=5000 default" in out.stdout
    assert "portal.db_router.ReadReplicaRouter" in out.stdout


def test_without_a_replica_everything_reads_the_primary(db):
    assert read_alias() == "default"
    assert router.db_for_read(UsageRecord) == "default"


@pytest.fixture
def replica(transactional_db, monkeypatch):
    """A second, read-only connection to the test database, as a streaming replica would be.

    It is configured the way DATABASE_REPLICA_URL configures one (a "replica" entry in DATABASES),
    but its connection is opened by hand: Django's test case only lets a test use the databases it
    declared, and the test database cannot be declared twice.
    """
    options = {**connections["default"].settings_dict["OPTIONS"], "options": "-c default_transaction_read_only=on"}
    settings_dict = {**connections["default"].settings_dict, "OPTIONS": options}
    monkeypatch.setattr(django_settings, "DATABASES", {**django_settings.DATABASES, "replica": settings_dict})
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "replica")
    connections["replica"] = wrapper
    try:
        yield wrapper
    finally:
        wrapper.close()
        del connections["replica"]


def test_summaries_and_drill_down_read_the_replica_and_billing_reads_stay_on_the_primary(replica, make):
    org = make.organization(time_zone="Europe/Berlin", country="DE")
    site, person = make.location(org), make.person(org)
    line = make.line(org, number="+4930555777001", person=person, location=site)
    generate(org, [(line, person, site)], 60, seed=5, start=datetime(2026, 10, 1, tzinfo=UTC), days=20)
    scope = Scope(organization=org, role="admin")
    period = Period(date(2026, 10, 1), date(2026, 10, 31))
    primary = connections["default"]
    with CaptureQueriesContext(replica) as on_replica, CaptureQueriesContext(primary) as on_primary:
        summary = usage_summary(scope=scope, period=period, group_by=[Dimension.LOCATION])
        page = usage_records(scope=scope, period=period, first=10)
    assert summary.totals.records == 60 and len(page.records) == 10
    assert any("billing_usagemonthly" in q["sql"] for q in on_replica.captured_queries)  # October, whole
    assert any("billing_usagerecord" in q["sql"] for q in on_replica.captured_queries)
    assert any("billing_location" in q["sql"] for q in on_replica.captured_queries)  # group labels
    assert on_primary.captured_queries == []
    # The replica session refuses writes; the router never sends them there.
    with pytest.raises(InternalError, match="read-only"), replica.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE nope (x int)")
    assert router.db_for_write(UsageRecord) == "default"
    # Reads without the hint (the billing run rating usage) stay on the primary.
    assert router.db_for_read(UsageRecord) == "default"
    assert UsageRecord.objects.filter(organization=org).db == "default"
