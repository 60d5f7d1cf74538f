import hashlib
from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from billing.models import Line, LineAssignment, Location, Organization, UsageRecord
from devtools.demo.seed import DEMO_PASSWORD

ARGS = ["--scale", "0.2", "--months", "2", "--end", "2026-11-01"]


def seed(*extra):
    out = StringIO()
    call_command("seed_demo", *ARGS, *extra, stdout=out)
    return out.getvalue()


def digest() -> str:
    """Content of the warehouse without database ids: equal digests mean equal data."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT o.account_number, l.number, u.usage_type, u.started_at, u.duration_seconds, u.billable_seconds,
                      u.direction, u.answered, u.destination, u.category, u.data_bytes, u.source_id,
                      p.name, loc.name
               FROM billing_usagerecord u JOIN billing_organization o ON o.id = u.organization_id
               JOIN billing_line l ON l.id = u.line_id LEFT JOIN billing_person p ON p.id = u.person_id
               LEFT JOIN billing_location loc ON loc.id = u.location_id
               ORDER BY o.account_number, u.source_id"""
        )
        return hashlib.sha256(repr(cursor.fetchall()).encode()).hexdigest()


@pytest.mark.slow
def test_same_seed_same_data_other_seed_other_data(db):
    seed("--seed", "7")
    first = digest()
    seed("--seed", "7", "--reset")  # --reset works despite the append-only triggers
    assert digest() == first
    seed("--seed", "8", "--reset")
    assert digest() != first


@pytest.mark.slow
def test_customer_shapes(db):
    text = seed()
    orgs = {o.account_number: o for o in Organization.objects.all()}
    assert len(orgs) == 4
    retail = orgs["RET-200871"]
    assert Location.objects.filter(organization=retail).count() == 40  # stores do not shrink with --scale
    assert {o.time_zone for o in orgs.values()} == {
        "America/New_York",
        "Europe/Berlin",
        "Europe/London",
        "Europe/Amsterdam",
    }
    assert sorted(o.personalization_consent for o in orgs.values()) == [False, True, True, True]

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT o.account_number,
                      avg(duration_seconds) FILTER (WHERE usage_type = 'voice' AND answered),
                      avg((category = 'international')::int) FILTER (WHERE usage_type = 'voice'),
                      avg((NOT answered)::int) FILTER (WHERE usage_type = 'voice' AND direction = 'outbound'),
                      avg((extract(isodow FROM local_date) >= 6)::int),
                      avg((local_hour BETWEEN 8 AND 18)::int),
                      min(local_date), max(local_date)
               FROM billing_usagerecord u JOIN billing_organization o ON o.id = u.organization_id
               GROUP BY 1"""
        )
        stats = {row[0]: row[1:] for row in cursor.fetchall()}
    longest_avg = max(stats, key=lambda k: stats[k][0])
    most_international = max(stats, key=lambda k: stats[k][1])
    assert longest_avg == "CCC-300552" and most_international == "MER-400117"
    for account, (_avg, _intl, unanswered, weekend, business_hours, first, last) in stats.items():
        assert 0.08 < unanswered < 0.3, account
        assert business_hours > 0.85, account
        assert first == date(2026, 9, 1) and last == date(2026, 10, 31)
        if account != "RET-200871":  # stores open on Saturdays
            assert weekend < 0.05, account
    assert UsageRecord.objects.filter(usage_type="voice", duration_seconds__gte=3 * 3600).exists()
    assert UsageRecord.objects.filter(organization=retail, category="premium").count() >= 20
    assert (
        UsageRecord.objects.filter(usage_type="sms").exists() and UsageRecord.objects.filter(usage_type="data").exists()
    )
    assert "law-admin" in text and DEMO_PASSWORD in text


@pytest.mark.slow
def test_history_is_stamped_as_it_was(db):
    seed()
    moved = LineAssignment.objects.filter(valid_to__isnull=False).select_related("line").first()
    assert moved is not None
    before = UsageRecord.objects.filter(line=moved.line, started_at__lt=moved.valid_to).values_list(
        "person_id", flat=True
    )
    after = UsageRecord.objects.filter(line=moved.line, started_at__gte=moved.valid_to).values_list(
        "person_id", flat=True
    )
    assert set(before) == {moved.person_id}
    assert after and moved.person_id not in set(after)
    assert Line.objects.filter(deactivated_on__isnull=False).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), sum(duration_seconds), sum(data_bytes) FROM billing_usagerecord")
        raw = cursor.fetchone()
        cursor.execute("SELECT sum(records), sum(duration_seconds), sum(data_bytes) FROM billing_usagedaily")
        assert cursor.fetchone() == raw
        cursor.execute("SELECT sum(records), sum(duration_seconds), sum(data_bytes) FROM billing_usagemonthly")
        assert cursor.fetchone() == raw


@pytest.mark.slow
def test_if_empty_is_a_no_op_and_logins_work(db):
    seed()
    count = UsageRecord.objects.count()
    assert "nothing to do" in seed("--if-empty") and UsageRecord.objects.count() == count
    with pytest.raises(CommandError, match="--reset"):
        seed()
    client = Client()
    assert client.login(username="retail-manager", password=DEMO_PASSWORD)
    assert "Kaufhaus Nord GmbH" in client.get("/").content.decode()
    assert client.login(username="staff", password=DEMO_PASSWORD)
