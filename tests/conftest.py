import os

# Tests run Celery against an in-memory broker unless a test asks for a real one (see test_celery.py).
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
