from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, connection, transaction

from billing.models import Statement, StatementLine, UsageRecord
from billing.periods import billing_period, last_closed_period, period_containing
from billing.statements.services import BillingError, adjustment_create, statement_issue
from billing.usage.writer import usage_records_write
from tests import factories

NOW = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)


def issue(org):
    return factories.issued_statement(org, now=NOW)


def test_hand_computed_statement_matches_to_the_cent(billed_org):
    adjustment_create(organization=billed_org, amount=D("-5.00"), reason="Goodwill credit for outage")
    st = issue(billed_org)
    lines = [(x.kind, x.description, x.quantity, x.amount) for x in st.lines.all()]
    assert lines == [
        ("recurring", "Business Flex — +493011112222", D("31.000"), D("20.00")),
        ("recurring", "Business Flex — +493011113333 (16 of 31 days)", D("16.000"), D("10.32")),
        ("usage", "Calls: International (EU) — 1 record", D("1.500"), D("0.38")),
        ("usage", "Calls: Local — 1 record", D("0.000"), D("0.00")),
        ("usage", "Calls: Mobile — 1 record", D("0.600"), D("0.12")),
        ("usage", "Calls: National — 2 records", D("2.000"), D("0.20")),
        ("usage", "Text messages: Mobile — 1 record", D("1.000"), D("0.09")),
        ("allowance", "Included in Business Flex (per line): 10.00 of 10.00 min used", D("10.000"), D("0.00")),
        ("allowance", "Included in Business Flex (per line): 2.00 of 5.16 min used", D("2.000"), D("0.00")),
        ("adjustment", "Credit: Goodwill credit for outage", D("0.000"), D("-5.00")),
    ]
    assert (st.recurring_total, st.usage_total, st.adjustments_total) == (D("30.32"), D("0.79"), D("-5.00"))
    assert st.subtotal == D("26.11") and st.tax_amount == D("4.96") and st.total == D("31.07")
    assert st.total == sum(x.amount for x in st.lines.all()) + st.tax_amount
    assert st.status == "issued" and st.number == "2026-000001" and st.due_date == date(2026, 12, 3)
    # Usage is rated in place; the unanswered and inbound calls cost nothing; November stays unrated.
    costs = dict(UsageRecord.objects.filter(organization=billed_org).values_list("billable_seconds", "cost"))
    assert costs[400] == D("0.200000") and costs[31] == D("0.120000") and costs[90] == D("0.375000")
    assert UsageRecord.objects.filter(organization=billed_org, local_date__month=11, cost__isnull=True).count() == 1
    # Breakdowns count every usage type (Ben's text message too) and add up to the usage total: Anna's
    # exact 0.695 and Ben's 0.09 share out 0.79 by largest remainder (69.94 and 9.06 cents: 70 and 9).
    by_person = {b.label: (b.calls, b.messages, b.amount) for b in st.breakdowns.filter(dimension="person")}
    assert by_person == {"Anna": (6, 0, D("0.70")), "Ben": (1, 1, D("0.09"))}
    by_band = {b.label: (b.calls, b.amount) for b in st.breakdowns.filter(dimension="duration_band")}
    assert sum(amount for _calls, amount in by_band.values()) == D("0.70")  # calls only: 0.38 + 0.12 + 0.20


def test_rerun_returns_the_same_statement(billed_org):
    first = issue(billed_org)
    again = issue(billed_org)
    assert again.pk == first.pk and Statement.objects.filter(organization=billed_org).count() == 1
    assert first.lines.count() == again.lines.count()


def test_numbers_are_sequential(billed_org, make):
    first = issue(billed_org)
    other = make.organization(billing_day=1)
    second = statement_issue(organization=other, period=billing_period(other, 2026, 10), now=NOW)
    assert (first.number, second.number) == ("2026-000001", "2026-000002")


def test_open_period_is_refused(billed_org):
    with pytest.raises(BillingError, match="not closed"):
        statement_issue(organization=billed_org, period=billing_period(billed_org, 2026, 11), now=NOW)


def test_issued_statement_is_immutable_in_the_database(billed_org):
    st = issue(billed_org)
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        Statement.objects.filter(pk=st.pk).update(total=D("1.00"))
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        StatementLine.objects.filter(statement=st).update(amount=D("0"))
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        StatementLine.objects.create(statement=st, position=99, kind="usage", description="sneaky", amount=1)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM billing_statement WHERE id = %s", [st.pk])
    with pytest.raises(IntegrityError, match="cannot go from issued to draft"), transaction.atomic():
        Statement.objects.filter(pk=st.pk).update(status="draft")
    Statement.objects.filter(pk=st.pk).update(status="paid", paid_at=NOW)  # allowed transition
    paid = Statement.objects.get(pk=st.pk)
    assert (paid.status, paid.total, paid.number) == ("paid", st.total, st.number)


def test_periods_follow_the_billing_day(make):
    org = make.organization(billing_day=15, time_zone="America/New_York")
    assert billing_period(org, 2026, 1).end == date(2026, 2, 14)
    assert period_containing(org, date(2026, 3, 3)).start == date(2026, 2, 15)
    # 2026-11-15 03:00 UTC is still the 14th in New York: the period ending on the 14th is not closed.
    assert last_closed_period(org, datetime(2026, 11, 15, 3, tzinfo=UTC)).start == date(2026, 9, 15)
    assert last_closed_period(org, datetime(2026, 11, 15, 6, tzinfo=UTC)).start == date(2026, 10, 15)


def test_a_missed_period_is_caught_up_first_and_never_issued_after_a_later_one(billed_org):
    """Billing started with August; issuing October while September has no statement issues September
    first: numbers follow the periods and October's previous balance counts both. A period before an
    issued one is refused (its balance would be missing from the later statement)."""
    from billing.models import Line
    from tests.fixtures_billing import usage

    line = Line.objects.get(organization=billed_org, number="+493011112222")
    usage_records_write(
        records=[
            usage(
                billed_org,
                line,
                datetime(2026, 8, 20, 9, tzinfo=UTC),
                seconds=120,
                dest="+498912345678",
                location=billed_org.berlin,
                person=billed_org.anna,
            )
        ]
    )
    statement_issue(organization=billed_org, period=billing_period(billed_org, 2026, 8), now=NOW)
    october = issue(billed_org)
    statements = list(Statement.objects.filter(organization=billed_org).order_by("period_start"))
    assert [(s.period_start, s.number) for s in statements] == [
        (date(2026, 8, 1), "2026-000001"),
        (date(2026, 9, 1), "2026-000002"),
        (date(2026, 10, 1), "2026-000003"),
    ]
    august, september = statements[0], statements[1]
    assert september.recurring_total == D("20.00") and september.previous_balance == august.total
    assert october.pk == statements[2].pk and october.previous_balance == august.total + september.total
    with pytest.raises(BillingError, match="comes before statement 2026-000001"):
        statement_issue(organization=billed_org, period=billing_period(billed_org, 2026, 7), now=NOW)
    assert Statement.objects.filter(organization=billed_org).count() == 3
