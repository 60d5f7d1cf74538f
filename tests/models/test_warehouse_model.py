from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from billing.models import LineAssignment, UsageDaily, UsageRecord
from billing.usage.writer import NewUsageRecord, usage_records_write


def record(org, line, started_at, seconds=120, source_id="r1", **kw):
    values = dict(
        organization_id=org.id,
        line_id=line.id,
        person_id=None,
        location_id=None,
        usage_type="voice",
        started_at=started_at,
        local_date=started_at.astimezone(org.tz).date(),
        local_hour=started_at.astimezone(org.tz).hour,
        duration_seconds=seconds,
        billable_seconds=seconds,
        duration_band=1,
        direction="outbound",
        answered=True,
        destination="+4930123456",
        destination_masked="+49 30 •••• 56",
        category="local",
        country="DE",
        zone="",
        data_bytes=0,
        source="test",
        source_id=source_id,
        import_batch_id=None,
    )
    values.update(kw)
    return NewUsageRecord(**values)


def test_no_missing_migrations(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_line_assignments_of_one_line_cannot_overlap(org, make):
    line = make.line(org)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    LineAssignment.objects.create(organization=org, line=line, valid_from=start, valid_to=start + timedelta(days=30))
    LineAssignment.objects.create(organization=org, line=line, valid_from=start + timedelta(days=30))  # adjacent: fine
    with pytest.raises(IntegrityError), transaction.atomic():
        LineAssignment.objects.create(organization=org, line=line, valid_from=start + timedelta(days=10))
    other = make.line(org)
    LineAssignment.objects.create(organization=org, line=other, valid_from=start)  # other line: fine


def test_line_plans_of_one_line_cannot_overlap(org, make):
    line, plan = make.line(org), make.plan()
    make.line_plan(line, plan, valid_from=date(2026, 1, 1), valid_to=date(2026, 2, 1))
    make.line_plan(line, plan, valid_from=date(2026, 2, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        make.line_plan(line, plan, valid_from=date(2026, 1, 15), valid_to=date(2026, 1, 20))


def test_writer_is_idempotent_and_keeps_rollups_equal_to_records(org, make):
    line = make.line(org)
    t0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    batch = [record(org, line, t0 + timedelta(hours=i), seconds=30 * (i + 1), source_id=f"r{i}") for i in range(48)]
    first = usage_records_write(records=batch)
    assert (first.inserted, first.duplicates) == (48, 0)
    again = usage_records_write(records=batch + [record(org, line, t0, source_id="new", seconds=5)])
    assert (again.inserted, again.duplicates) == (1, 48)
    assert UsageRecord.objects.filter(organization=org).count() == 49
    with connection.cursor() as c:
        c.execute(
            "SELECT local_date, count(*), sum(duration_seconds) FROM billing_usagerecord "
            "WHERE organization_id = %s GROUP BY 1 ORDER BY 1",
            [org.id],
        )
        raw = c.fetchall()
        c.execute(
            "SELECT local_date, sum(records), sum(duration_seconds) FROM billing_usagedaily "
            "WHERE organization_id = %s GROUP BY 1 ORDER BY 1",
            [org.id],
        )
        rolled = c.fetchall()
        c.execute("SELECT sum(records) FROM billing_usagehourly WHERE organization_id = %s", [org.id])
        hourly_total = c.fetchone()[0]
    assert raw == rolled
    assert len(raw) == 3  # 48 hours from 09:00 Berlin time span three local days
    assert hourly_total == 49
    assert UsageDaily.objects.filter(organization=org).exists()


def test_usage_records_are_append_only_in_the_database(org, make):
    line = make.line(org)
    usage_records_write(records=[record(org, line, datetime(2026, 3, 1, tzinfo=UTC))])
    rec = UsageRecord.objects.get(organization=org)
    UsageRecord.objects.filter(pk=rec.pk).update(cost="0.120000")  # rating columns may be set
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        UsageRecord.objects.filter(pk=rec.pk).update(duration_seconds=1)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        UsageRecord.objects.filter(pk=rec.pk).delete()
    assert UsageRecord.objects.get(pk=rec.pk).duration_seconds == 120
