"""The benchmark's bulk dataset builder writes exactly what ``seed_demo`` writes through the usage writer.

The reduced CI form of the 10 M build: a tiny dataset built both ways from the same seed, compared
row by row (records and all three rollups, by natural keys since ids differ between the builds).
"""

from datetime import date

import pytest
from django.db import connection

from billing.models import UsageRecord
from billing.usage.partitions import DEFAULT
from devtools.benchmark.dataset import dataset_build
from devtools.demo.seed import demo_accounts, seed_demo, seed_reset

END = date(2026, 3, 17)  # pinned: the data's last day is the 16th, mid-month, and March has a DST change

# Ids replaced by what survives a rebuild: account number, line number, employee number, location code.
_KEYS = """
    JOIN billing_organization o ON o.id = t.organization_id
    LEFT JOIN billing_person p ON p.id = t.person_id
    LEFT JOIN billing_location l ON l.id = t.location_id
"""
_RECORD = """o.account_number, ln.number, p.employee_number, l.code, t.usage_type, t.started_at, t.local_date,
    t.local_hour, t.duration_seconds, t.billable_seconds, t.duration_band, t.direction, t.answered, t.destination,
    t.destination_masked, t.category, t.country, t.zone, t.data_bytes, t.source, t.source_id, t.cost"""
_METRICS = "t.records, t.answered, t.duration_seconds, t.billable_seconds, t.max_duration_seconds, t.data_bytes, t.cost"
SNAPSHOTS = {
    "records": f"SELECT {_RECORD} FROM billing_usagerecord t JOIN billing_line ln ON ln.id = t.line_id {_KEYS}",
    "daily": f"""SELECT o.account_number, t.local_date, ln.number, l.code, p.employee_number, t.usage_type,
        t.category, t.country, t.direction, t.duration_band, {_METRICS}
        FROM billing_usagedaily t JOIN billing_line ln ON ln.id = t.line_id {_KEYS}""",
    "hourly": f"""SELECT o.account_number, t.local_date, t.local_hour, l.code, p.employee_number, t.usage_type,
        t.category, t.direction, t.duration_band, {_METRICS} FROM billing_usagehourly t {_KEYS}""",
    "monthly": f"""SELECT o.account_number, t.local_date, l.code, p.employee_number, t.usage_type, t.category,
        t.direction, t.duration_band, {_METRICS} FROM billing_usagemonthly t {_KEYS}""",
}


def snapshot() -> dict[str, list[tuple]]:
    out = {}
    with connection.cursor() as cursor:
        for name, sql in SNAPSHOTS.items():
            cursor.execute(f"{sql} WHERE o.account_number = ANY(%s)", [demo_accounts()])
            out[name] = sorted(cursor.fetchall(), key=repr)
    return out


@pytest.mark.django_db
def test_bulk_build_equals_the_usage_writers_records_and_rollups():
    report = dataset_build(scale=0.02, end=END, months=2, log=lambda _line: None)
    bulk = snapshot()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {DEFAULT}")  # noqa: S608 - constant
        in_default = cursor.fetchone()[0]

    seed_reset()
    seed_demo(seed=42, scale=0.02, months=2, end=END, log=lambda _line: None)
    written = snapshot()

    assert report.records == len(bulk["records"]) == UsageRecord.objects.count() > 1000
    assert in_default == 0  # every month had its partition before the COPY
    # Every usage type, inbound and outbound, and all three months (January's tail to mid-March).
    assert {r[4] for r in bulk["records"]} == {"voice", "sms", "data"}
    assert {r[11] for r in bulk["records"]} == {"inbound", "outbound"}
    assert {r[1] for r in bulk["monthly"]} == {date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)}
    assert sum(r[8] for r in bulk["monthly"]) == report.records
    for name in SNAPSHOTS:
        assert bulk[name] == written[name], name
