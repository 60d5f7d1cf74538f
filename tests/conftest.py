import os

# Tests run Celery against an in-memory broker unless a test asks for a real one (see tests/portal/test_celery.py).
os.environ.setdefault("CELERY_BROKER_URL", "memory://")

import pytest  # noqa: E402

from tests import factories  # noqa: E402
from tests.fixtures_api import api, fresh_rate_limits, token_for  # noqa: E402, F401 - shared fixtures
from tests.fixtures_billing import billed_org  # noqa: E402, F401 - shared fixture


@pytest.fixture
def org(db):
    return factories.organization()


@pytest.fixture
def make(db):
    return factories


@pytest.fixture(autouse=True, scope="session")
def _flush_as_maintenance():
    """Transactional tests end with Django's flush, a TRUNCATE of every table, which the immutability
    triggers refuse (billing migration 0012) unless the maintenance switches are on for a maintenance
    role; the test database's user is a superuser, so the flush turns them on for its own transaction."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.sql_flush
    switches = [
        f"SET LOCAL {name} = 'on'"
        for name in ("billing.allow_statement_delete", "billing.allow_usage_delete", "portal.allow_audit_delete")
    ]

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        statements = original(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        return [*switches, *statements] if statements else statements

    DatabaseOperations.sql_flush = sql_flush
    yield
    DatabaseOperations.sql_flush = original
