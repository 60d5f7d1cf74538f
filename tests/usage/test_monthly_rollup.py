"""The monthly rollup answers summaries over whole months exactly like the daily rollup and the raw
records, and stays right wherever the daily rollup is rebuilt (import, re-import, rating, statements)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection

from billing.periods import period_containing
from billing.statements.services import statement_issue
from billing.usage.scope import Scope
from billing.usage.selectors import Dimension, Metric, Period, UsageFilter, usage_summary, whole_months
from billing.usage.writer import usage_records_write
from tests.usage.test_selectors import generate, rows_as_dict, scope_of, warehouse  # noqa: F401 - fixture

MONTHLY_GROUPS = [
    [Dimension.LOCATION, Dimension.MONTH],
    [Dimension.PERSON],
    [Dimension.DURATION_BAND],
    [Dimension.CATEGORY, Dimension.DIRECTION, Dimension.USAGE_TYPE],
    [],
]
# Whole months only, and whole months with partial months at one or both edges.
PERIODS = [
    Period(date(2026, 3, 1), date(2026, 3, 31)),
    Period(date(2026, 2, 1), date(2026, 4, 30)),
    Period(date(2026, 2, 27), date(2026, 4, 5)),
    Period(date(2026, 10, 24), date(2026, 11, 30)),
    Period(date(2026, 10, 1), date(2026, 11, 5)),
]


def same_answer(scope, period, group_by, filters=None, compare=("daily", "raw")):
    """The summary the selector chooses, and the same question forced over daily and over raw records."""
    answers = {
        source: usage_summary(
            scope=scope, period=period, group_by=group_by, filters=filters, order_by=None, source=source
        )
        for source in (None, *compare)
    }
    chosen = answers[None]
    for source in compare:
        assert rows_as_dict(chosen) == rows_as_dict(answers[source]), source
        assert chosen.totals == answers[source].totals, source
    assert isinstance(chosen.totals.cost, Decimal)
    return chosen


def monthly_table(org) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT local_date, location_id, person_id, usage_type, category, direction, duration_band, records, "
            "answered, duration_seconds, billable_seconds, max_duration_seconds, data_bytes, cost "
            "FROM billing_usagemonthly WHERE organization_id = %s ORDER BY 1, 2, 3, 4, 5, 6, 7",
            [org.id],
        )
        return cursor.fetchall()


def monthly_from_raw(org) -> list[tuple]:
    """What the monthly rollup must hold, computed from the usage records themselves."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT date_trunc('month', local_date)::date, location_id, person_id, usage_type, category, direction, "
            "duration_band, count(*), count(*) FILTER (WHERE answered), sum(duration_seconds), "
            "sum(billable_seconds), max(duration_seconds), sum(data_bytes), coalesce(sum(cost), 0) "
            "FROM billing_usagerecord WHERE organization_id = %s GROUP BY 1, 2, 3, 4, 5, 6, 7 "
            "ORDER BY 1, 2, 3, 4, 5, 6, 7",
            [org.id],
        )
        return cursor.fetchall()


def test_whole_months_of_a_period():
    assert whole_months(Period(date(2026, 3, 1), date(2026, 3, 31))) == (date(2026, 3, 1), date(2026, 3, 31))
    assert whole_months(Period(date(2026, 2, 27), date(2026, 4, 5))) == (date(2026, 3, 1), date(2026, 3, 31))
    assert whole_months(Period(date(2026, 1, 31), date(2026, 3, 1))) == (date(2026, 2, 1), date(2026, 2, 28))
    assert whole_months(Period(date(2024, 2, 1), date(2024, 2, 29))) == (date(2024, 2, 1), date(2024, 2, 29))
    assert whole_months(Period(date(2026, 12, 1), date(2027, 1, 31))) == (date(2026, 12, 1), date(2027, 1, 31))
    assert whole_months(Period(date(2026, 3, 2), date(2026, 3, 31))) is None
    assert whole_months(Period(date(2026, 3, 1), date(2026, 3, 30))) is None
    assert whole_months(Period(date(2026, 3, 15), date(2026, 4, 14))) is None


@pytest.mark.parametrize("group_by", MONTHLY_GROUPS, ids=lambda g: "+".join(g) or "totals")
def test_summaries_over_whole_months_read_the_monthly_rollup_and_equal_daily_and_raw(warehouse, group_by):  # noqa: F811
    for org, *_ in warehouse.values():
        assert monthly_table(org) == monthly_from_raw(org)
        for period in PERIODS:
            summary = same_answer(scope_of(org), period, group_by)
            assert summary.source == "monthly"
            assert summary.totals.records > 0


def test_location_manager_member_and_filters_get_the_same_answer_from_the_monthly_rollup(warehouse):  # noqa: F811
    org, sites, people, lines = warehouse["DE"]
    manager = scope_of(org, location_ids=frozenset({sites[0].id, sites[2].id}))
    member = scope_of(org, person_ids=frozenset({people[1].id}))
    filters = [
        None,
        UsageFilter(locations=[sites[1].id]),
        UsageFilter(persons=[people[0].id, people[3].id], usage_types=["voice"]),
        UsageFilter(categories=["international", "mobile"], directions=["outbound"]),
        UsageFilter(duration_bands=[0, 1, 2]),
    ]
    period = Period(date(2026, 2, 27), date(2026, 4, 30))
    for scope in (manager, member, scope_of(org)):
        for f in filters:
            for group_by in ([Dimension.LOCATION, Dimension.MONTH], [Dimension.PERSON], []):
                summary = same_answer(scope, period, group_by, f)
                assert summary.source == "monthly"
    # The scope really limits the monthly answer: the manager sees only their two sites.
    by_site = usage_summary(scope=manager, period=period, group_by=[Dimension.LOCATION])
    assert {row.keys[0].value for row in by_site.rows} == {sites[0].id, sites[2].id}
    everyone = usage_summary(scope=scope_of(org), period=period, group_by=[])
    assert 0 < by_site.totals.records < everyone.totals.records


@pytest.mark.parametrize(
    ("group_by", "filters", "period"),
    [
        ([Dimension.DAY], None, Period(date(2026, 3, 1), date(2026, 3, 31))),
        ([Dimension.LINE], None, Period(date(2026, 3, 1), date(2026, 3, 31))),
        ([Dimension.COUNTRY], None, Period(date(2026, 3, 1), date(2026, 3, 31))),
        ([Dimension.WEEK], None, Period(date(2026, 3, 1), date(2026, 3, 31))),
        ([Dimension.PERSON], UsageFilter(countries=["US"]), Period(date(2026, 3, 1), date(2026, 3, 31))),
        ([Dimension.PERSON], UsageFilter(weekdays=[1, 2]), Period(date(2026, 3, 1), date(2026, 3, 31))),
        ([Dimension.PERSON], None, Period(date(2026, 3, 2), date(2026, 4, 5))),  # no whole month
    ],
)
def test_questions_the_monthly_rollup_cannot_answer_use_the_daily_one(warehouse, group_by, filters, period):  # noqa: F811
    org = warehouse["US"][0]
    summary = same_answer(scope_of(org), period, group_by, filters)
    assert summary.source == "daily"
    assert summary.totals.records > 0


def test_hour_and_duration_questions_still_use_hourly_and_raw(warehouse):  # noqa: F811
    org = warehouse["US"][0]
    march = Period(date(2026, 3, 1), date(2026, 3, 31))
    assert same_answer(scope_of(org), march, [Dimension.HOUR], compare=["raw"]).source == "hourly"
    long_calls = UsageFilter(min_duration_seconds=120)
    assert same_answer(scope_of(org), march, [Dimension.PERSON], long_calls, compare=["raw"]).source == "raw"


def test_previous_period_is_answered_by_its_own_table(warehouse):  # noqa: F811
    org = warehouse["DE"][0]
    # 2026-04-01..04-30 is a whole billing period (billing day 1): it is compared with the billing period
    # before, March, also a whole month.
    summary = usage_summary(
        scope=scope_of(org),
        period=Period(date(2026, 4, 1), date(2026, 4, 30)),
        group_by=[Dimension.PERSON],
        order_by=Metric.COST,
        compare_previous=True,
    )
    assert summary.source == "monthly" and summary.previous_basis == "billing_period"
    assert summary.previous_period == Period(date(2026, 3, 1), date(2026, 3, 31))
    raw = usage_summary(scope=scope_of(org), period=summary.previous_period, group_by=[], source="raw")
    assert summary.previous_totals == raw.totals


def test_forcing_the_monthly_rollup_for_a_day_question_is_refused(warehouse):  # noqa: F811
    org = warehouse["US"][0]
    with pytest.raises(ValueError, match="monthly rollup cannot answer"):
        usage_summary(
            scope=scope_of(org),
            period=Period(date(2026, 3, 1), date(2026, 3, 31)),
            group_by=[Dimension.DAY],
            source="monthly",
        )


def test_more_usage_and_a_reimport_keep_the_monthly_rollup_right(warehouse):  # noqa: F811
    org, _sites, _people, lines = warehouse["US"]
    before = monthly_table(org)
    march = Period(date(2026, 3, 1), date(2026, 3, 31))
    old = usage_summary(scope=scope_of(org), period=march, group_by=[])
    # More calls in March and in a month with no usage yet (the writer rebuilds the touched days).
    generate(org, lines, 150, seed=77, start=datetime(2026, 3, 10, tzinfo=UTC), days=40)
    after = monthly_table(org)
    assert after != before
    assert after == monthly_from_raw(org)
    new = usage_summary(scope=scope_of(org), period=march, group_by=[])
    assert new.source == "monthly" and new.totals.records > old.totals.records
    # Re-importing the same records changes nothing.
    from billing.models import UsageRecord
    from billing.usage.writer import COLUMNS, NewUsageRecord

    fields = COLUMNS
    again = [
        NewUsageRecord(**{name: getattr(r, name) for name in fields})
        for r in UsageRecord.objects.filter(organization=org, local_date__month=3)
    ]
    assert usage_records_write(records=again).inserted == 0
    assert monthly_table(org) == after


def test_rating_and_a_statement_issue_keep_the_monthly_costs_right(billed_org):
    scope = Scope(organization=billed_org, role="admin")
    period = period_containing(billed_org, date(2026, 10, 20))
    october = Period(period.start, period.end)
    assert whole_months(october) == (october.start, october.end)
    unrated = usage_summary(scope=scope, period=october, group_by=[Dimension.PERSON])
    assert unrated.source == "monthly" and unrated.totals.cost == 0
    statement_issue(organization=billed_org, period=period, now=datetime(2026, 11, 2, tzinfo=UTC))
    assert monthly_table(billed_org) == monthly_from_raw(billed_org)
    rated = same_answer(scope, october, [Dimension.PERSON])
    assert rated.source == "monthly"
    assert rated.totals.cost > 0
    assert isinstance(rated.totals.cost, Decimal)
