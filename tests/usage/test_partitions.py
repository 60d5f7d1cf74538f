"""The usage table is partitioned by month (migration billing 0011): imports land in their month's
partition, re-imports stay no-ops, the append-only trigger guards every partition, the next months'
partitions are created ahead (moving rows that were in the default partition), and a query for one
organization's month reads only that month's partition through its (organization, local_date) index."""

import importlib
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from billing.models import UsageRecord
from billing.usage.partitions import (
    DEFAULT,
    next_month,
    partition_name,
    partitions,
    partitions_ensure,
    started_window,
)
from billing.usage.scope import Scope
from billing.usage.selectors import Dimension, Period, usage_records, usage_summary
from billing.usage.writer import COLUMNS, NewUsageRecord, usage_records_write
from tests.usage.test_selectors import generate


def where_rows_are(org) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text, count(*) FROM billing_usagerecord WHERE organization_id = %s GROUP BY 1",
            [org.id],
        )
        return dict(cursor.fetchall())


@pytest.fixture
def org_with_usage(make):
    org = make.organization(time_zone="Pacific/Kiritimati", country="DE")  # UTC+14: local days start early
    site, person = make.location(org), make.person(org)
    line = make.line(org, number="+4930555888001", person=person, location=site)
    return org, [(line, person, site)]


def test_the_usage_table_is_partitioned_by_month_with_a_default_partition(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT partstrat, a.attname FROM pg_partitioned_table p "
            "JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
            "WHERE p.partrelid = 'billing_usagerecord'::regclass"
        )
        assert cursor.fetchone() == ("r", "started_at")
    names = partitions()
    assert DEFAULT in names
    this_month = datetime.now(UTC).date().replace(day=1)
    assert partition_name(this_month) in names  # created by the migration, with three months ahead


def test_imports_reimports_and_the_append_only_trigger_work_on_partitions(org_with_usage):
    org, lines = org_with_usage
    partitions_ensure(months_ahead=0, months=[date(2026, 3, 1), date(2026, 4, 1)])
    generate(org, lines, 200, seed=3, start=datetime(2026, 3, 20, tzinfo=UTC), days=20)
    spread = where_rows_are(org)
    assert set(spread) == {partition_name(date(2026, 3, 1)), partition_name(date(2026, 4, 1))}
    assert sum(spread.values()) == 200
    # A re-import of the same records is a no-op (ON CONFLICT on the partitioned unique key).
    again = [
        NewUsageRecord(**{c: getattr(r, c) for c in COLUMNS}) for r in UsageRecord.objects.filter(organization=org)
    ]
    assert usage_records_write(records=again).inserted == 0
    # Rating may update the cost; nothing else may change, and nothing may be deleted, in any partition.
    record = UsageRecord.objects.filter(organization=org).first()
    UsageRecord.objects.filter(pk=record.pk).update(cost="0.5")
    for statement in (
        "UPDATE billing_usagerecord SET duration_seconds = 1 WHERE id = %s",
        "DELETE FROM billing_usagerecord WHERE id = %s",
        f"DELETE FROM {partition_name(date(2026, 3, 1))} WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [record.pk])
    assert UsageRecord.objects.filter(organization=org).count() == 200
    # New ids keep coming from one sequence.
    ids = list(UsageRecord.objects.filter(organization=org).values_list("id", flat=True))
    assert len(set(ids)) == 200


def test_creating_a_month_moves_its_rows_out_of_the_default_partition(org_with_usage):
    org, lines = org_with_usage
    generate(org, lines, 120, seed=4, start=datetime(2024, 5, 10, tzinfo=UTC), days=10)  # no partition yet
    assert where_rows_are(org) == {DEFAULT: 120}
    before = usage_summary(
        scope=Scope(organization=org, role="admin"),
        period=Period(date(2024, 5, 1), date(2024, 5, 31)),
        group_by=[Dimension.DAY],
        source="raw",
    )
    out = StringIO()
    call_command("usage_partitions", "--months-ahead", "0", "--month", "2024-05", stdout=out)
    assert partition_name(date(2024, 5, 1)) in out.getvalue()
    assert where_rows_are(org) == {partition_name(date(2024, 5, 1)): 120}
    after = usage_summary(
        scope=Scope(organization=org, role="admin"),
        period=Period(date(2024, 5, 1), date(2024, 5, 31)),
        group_by=[Dimension.DAY],
        source="raw",
    )
    assert [(r.keys[0].value, r.totals) for r in after.rows] == [(r.keys[0].value, r.totals) for r in before.rows]
    # Idempotent: a second run creates nothing.
    assert partitions_ensure(months_ahead=0, months=[date(2024, 5, 1)], today=date(2024, 5, 3)) == []
    # Ahead of time: this month and the next three.
    created = partitions_ensure(months_ahead=3, today=date(2031, 1, 15))
    assert created == [partition_name(date(2031, m, 1)) for m in (1, 2, 3, 4)]


def test_a_local_day_window_covers_every_time_zone():
    low, high = started_window(date(2026, 3, 1), date(2026, 3, 31))
    # The first instant of 1 March at UTC+14 and the last of 31 March at UTC-12.
    assert low <= datetime(2026, 2, 28, 10, 0, tzinfo=UTC)
    assert high > datetime(2026, 4, 1, 11, 59, 59, tzinfo=UTC)


def test_one_months_drill_down_reads_one_partition_by_its_index(org_with_usage):
    org, lines = org_with_usage
    partitions_ensure(months_ahead=0, months=[date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)])
    generate(org, lines, 300, seed=5, start=datetime(2026, 2, 1, tzinfo=UTC), days=80)
    period = Period(date(2026, 3, 10), date(2026, 3, 20))
    scope = Scope(organization=org, role="admin")
    page = usage_records(scope=scope, period=period, first=100)
    assert page.records and all(period.start <= r.local_date <= period.end for r in page.records)
    low, high = started_window(period.start, period.end)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ANALYZE billing_usagerecord")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT count(*) FROM billing_usagerecord WHERE organization_id = %s "
            "AND local_date BETWEEN %s AND %s AND started_at >= %s AND started_at < %s",
            [org.id, period.start, period.end, low, high],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert partition_name(date(2026, 3, 1)) in plan
    assert partition_name(date(2026, 2, 1)) not in plan and partition_name(date(2026, 4, 1)) not in plan
    assert DEFAULT not in plan
    assert "usage_org_local" in plan or "organization_id_local_date" in plan, plan
    # The raw summary over those days equals the sum of the records.
    summary = usage_summary(scope=scope, period=period, group_by=[], source="raw")
    expected = UsageRecord.objects.filter(organization=org, local_date__range=(period.start, period.end)).count()
    assert summary.totals.records == expected > 0
    assert timedelta(0) < high - low


def index_columns(table: str) -> set[tuple[str, ...]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {tuple(c["columns"]) for c in constraints.values() if c["index"] or c["unique"]}


def test_every_partition_has_the_indexes_and_the_trigger(org_with_usage):
    partitions_ensure(months_ahead=1, months=[date(2025, 1, 1)])
    names = partitions()
    assert len(names) >= 3
    with connection.cursor() as cursor:
        for name in names:
            columns = index_columns(name)
            assert ("organization_id", "local_date") in columns, name
            assert ("organization_id", "source", "source_id", "started_at") in columns, name
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal ORDER BY 1", [name]
            )
            # The append-only row trigger (cloned from the parent) and the TRUNCATE guard (billing 0012).
            triggers = {t for (t,) in cursor.fetchall()}
            assert triggers == {"billing_usagerecord_append_only", f"{name}_no_truncate"}, name


def test_the_migration_converts_both_ways_keeping_rows_ids_and_guards(org_with_usage):
    """Reverse (plain table) and forward (partitioned) again, inside a transaction that is rolled back."""
    migration = importlib.import_module("billing.migrations.0011_usage_partitioned")
    org, lines = org_with_usage
    generate(org, lines, 50, seed=6, start=datetime(2026, 10, 25, tzinfo=UTC), days=10)
    before = sorted(UsageRecord.objects.filter(organization=org).values_list("id", "started_at", "cost"))

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        with connection.cursor() as cursor:
            migration.convert(cursor, partitioned=False)
            assert partitions() == []
            assert (
                sorted(UsageRecord.objects.filter(organization=org).values_list("id", "started_at", "cost")) == before
            )
            migration.convert(cursor, partitioned=True, today=date(2026, 11, 25))
        assert DEFAULT in partitions() and partition_name(date(2026, 10, 1)) in partitions()
        assert sorted(UsageRecord.objects.filter(organization=org).values_list("id", "started_at", "cost")) == before
        generate(org, lines, 10, seed=7, start=datetime(2026, 11, 1, tzinfo=UTC), days=2)  # ids continue
        assert UsageRecord.objects.filter(organization=org, id__gt=max(i for i, *_ in before)).count() == 10
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            UsageRecord.objects.filter(organization=org).delete()
        raise Rollback


def test_the_daily_beat_task_creates_the_coming_months_and_analyzes_the_parent(org_with_usage):
    from billing.tasks import ensure_usage_partitions

    def parent_rows_estimate():
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'billing_usagerecord'")
            return cursor.fetchone()[0]

    org, lines = org_with_usage
    generate(org, lines, 120, seed=5, start=datetime(2026, 3, 20, tzinfo=UTC), days=20)
    records = UsageRecord.objects.count()
    assert records == 120 and parent_rows_estimate() != records  # not analyzed since the rows came
    ensure_usage_partitions()
    assert parent_rows_estimate() == records
    names = partitions()
    month = datetime.now(UTC).date().replace(day=1)
    for _ in range(4):
        assert partition_name(month) in names
        month = next_month(month)
