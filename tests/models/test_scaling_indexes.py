"""The indexes that keep one organization's month cheap at any size, and that a monthly partitioning
of the usage table (README, "Performance and scaling") keeps: every unique key includes the start."""

import pytest
from django.db import connection

from billing.models import UsageDaily, UsageHourly, UsageMonthly, UsageRecord


def index_columns(model) -> list[tuple[str, ...]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    return [tuple(c["columns"]) for c in constraints.values() if c["index"] or c["unique"]]


@pytest.mark.parametrize("model", [UsageRecord, UsageDaily, UsageHourly, UsageMonthly])
def test_an_organizations_days_are_found_by_index(db, model):
    assert ("organization_id", "local_date") in index_columns(model)


def test_drill_down_orders_and_reimport_key_are_indexed(db):
    indexes = index_columns(UsageRecord)
    assert ("organization_id", "started_at") in indexes  # drill-down by time
    assert ("organization_id", "duration_seconds") in indexes  # longest calls
    # The re-import key contains the start time, so it stays a valid unique key on a table
    # partitioned by time (PostgreSQL requires the partition key in every unique constraint).
    assert ("organization_id", "source", "source_id", "started_at") in indexes
