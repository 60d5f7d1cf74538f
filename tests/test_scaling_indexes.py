"""The indexes that keep one organization's month cheap at any size, and that a monthly partitioning
of the usage table (README, "Performance and scaling") keeps: every unique key includes the start."""

import pytest
from django.db import connection

from billing.models import UsageDaily, UsageHourly, UsageRecord


def index_columns(model) -> list[tuple[str, ...]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    return [tuple(c["columns"]) for c in constraints.values() if c["index"] or c["unique"]]


@pytest.mark.parametrize("model", [UsageRecord, UsageDaily, UsageHourly])
def test_an_organizations_days_are_found_by_index(db, model):
    assert ("organization_id", "local_date") in index_columns(model)


def test_drill_down_orders_and_reimport_key_are_indexed(db):
    indexes = index_columns(UsageRecord)
    assert ("organization_id", "started_at") in indexes  # drill-down by time
    assert ("organization_id", "duration_seconds") in indexes  # longest calls
    # The re-import key contains the start time, so it stays a valid unique key on a table
    # partitioned by time (PostgreSQL requires the partition key in every unique constraint).
    assert ("organization_id", "source", "source_id", "started_at") in indexes


def test_one_organizations_month_is_read_through_the_index(db, make):
    org = make.organization()
    with connection.cursor() as cursor:
        # With no data the planner would pick a sequential scan anyway; forbid it to see which
        # index the query can use.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT count(*) FROM billing_usagerecord "
            "WHERE organization_id = %s AND local_date BETWEEN '2026-10-01' AND '2026-10-31'",
            [org.id],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "usage_org_local_date" in plan, plan
