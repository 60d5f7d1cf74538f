"""Dashboard, usage explorer, drill-down, saved views and exports: pages per role, isolation, exports."""

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from portal.models import AuditLog, ExportJob, SavedView
from portal.tasks import export_usage_records
from tests.usage_pages_data import Call, firm, sign_in_as, write_calls


@pytest.fixture
def acme(db):
    return firm("Acme")


def test_dashboard_for_an_analyst(client, acme):
    sign_in_as(client, acme.org, "analyst")
    page = client.get("/").content.decode()
    assert "Usage charges so far" in page and "€15.00" in page
    assert "Acme Berlin" in page and "Anna Acme" in page
    assert "Calls over 60 minutes" in page and "1:06:40" in page
    assert "+49 30 •••• 56" in page or "•" in page
    assert "+4930123456" not in page  # masked for analysts
    assert "No statement issued yet" in page
    assert 'class="chart"' in page and "<table" in page
