import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from billing.usage.scope import Scope
from billing.usage.selectors import (
    Dimension,
    Metric,
    Period,
    RecordOrder,
    UsageFilter,
    UsageQueryError,
    usage_records,
    usage_summary,
)
from billing.usage.writer import usage_records_write
from tests import factories

DESTINATIONS = ["+12125550123", "+13105550188", "+4930123456", "+491701234567", "+33142685300", "+18005550100", "2001"]


def generate(org, lines, n, seed, start, days):
    """Random usage around DST changes and month ends; the other party's country follows the number."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        line, person, location = rnd.choice(lines)
        started = start + timedelta(seconds=rnd.randrange(days * 86400))
        kind = rnd.choices(["voice", "sms", "data"], [8, 1, 1])[0]
        seconds = int(rnd.lognormvariate(4.5, 1.3)) if kind == "voice" else 0
        answered = kind != "voice" or rnd.random() > 0.2
        dest = rnd.choice(DESTINATIONS)
        direction = rnd.choice(["outbound", "outbound", "inbound"])
        data_bytes = rnd.randrange(10**7) if kind == "data" else 0
        out.append(
            factories.usage_record(
                org,
                line,
                started,
                seconds=seconds,
                dest=dest,
                kind=kind,
                direction=direction,
                answered=answered,
                person=person,
                location=location,
                data_bytes=data_bytes,
                source_id=f"{seed}-{i}",
            )
        )
    usage_records_write(records=out)
    # Rated amounts arrive later (billing); set some so cost sums are exercised too.
    from billing.models import UsageRecord

    for pk in UsageRecord.objects.filter(organization=org).values_list("pk", flat=True)[::3]:
        UsageRecord.objects.filter(pk=pk).update(cost=Decimal(pk % 997) / 1000)
    from billing.usage.rollups import rollups_rebuild

    days = UsageRecord.objects.filter(organization=org).values_list("local_date", flat=True).distinct()
    rollups_rebuild(slices={(org.id, day) for day in days})


@pytest.fixture
def warehouse(make):
    orgs = {}
    for seed, (tz, country) in enumerate([("America/New_York", "US"), ("Europe/Berlin", "DE")]):
        org = make.organization(time_zone=tz, country=country)
        sites = [make.location(org, name=f"{tz} site {i}") for i in range(3)]
        people = [make.person(org) for _ in range(4)]
        lines = []
        for i in range(6):
            number = f"+1212555{1000 + org.id * 10 + i}" if country == "US" else f"+4930555{1000 + org.id * 10 + i}"
            line = make.line(org, number=number, person=people[i % 4], location=sites[i % 3])
            lines.append((line, people[i % 4], sites[i % 3]))
        # Around both DST changes of 2026 and the month ends around them.
        # Fixed seeds (not database ids) so the data is the same whatever order tests run in.
        generate(org, lines, 700, seed=seed + 1, start=datetime(2026, 2, 27, tzinfo=UTC), days=40)
        generate(org, lines, 500, seed=seed + 100, start=datetime(2026, 10, 20, tzinfo=UTC), days=20)
        orgs[country] = (org, sites, people, lines)
    return orgs


def scope_of(org, **kw):
    return Scope(organization=org, role="admin", **kw)


def rows_as_dict(summary):
    def metrics(t):
        return (
            t.records,
            t.calls,
            t.messages,
            t.data_sessions,
            t.duration,
            t.billable,
            t.data_bytes,
            t.cost,
            t.longest,
        )

    return {tuple(k.value for k in row.keys): metrics(row.totals) for row in summary.rows}


COMBINATIONS = [
    [Dimension.LOCATION],
    [Dimension.PERSON, Dimension.MONTH],
    [Dimension.LINE, Dimension.DAY],
    [Dimension.CATEGORY, Dimension.COUNTRY],
    [Dimension.DURATION_BAND, Dimension.DIRECTION, Dimension.USAGE_TYPE],
    [Dimension.HOUR],
    [Dimension.WEEKDAY, Dimension.HOUR, Dimension.LOCATION],
    [Dimension.WEEK, Dimension.PERSON],
    [Dimension.HOUR, Dimension.COUNTRY],  # no rollup has both: answered from raw records
    [],
]


@pytest.mark.parametrize("group_by", COMBINATIONS, ids=lambda g: "+".join(g) or "totals")
def test_summaries_from_rollups_equal_summaries_from_raw_records(warehouse, group_by):
    for org, *_ in warehouse.values():
        for period in [Period(date(2026, 2, 27), date(2026, 4, 5)), Period(date(2026, 10, 24), date(2026, 11, 2))]:
            fast = usage_summary(scope=scope_of(org), period=period, group_by=group_by, order_by=None)
            slow = usage_summary(scope=scope_of(org), period=period, group_by=group_by, order_by=None, source="raw")
            assert rows_as_dict(fast) == rows_as_dict(slow)
            assert fast.totals == slow.totals
            assert fast.totals.records > 0
            expected = "raw" if {Dimension.HOUR, Dimension.COUNTRY} <= set(group_by) else None
            if expected:
                assert fast.source == "raw"
            elif Dimension.HOUR in group_by:
                assert fast.source == "hourly"
            elif set(group_by) & {Dimension.LINE, Dimension.COUNTRY, Dimension.DAY, Dimension.WEEK, Dimension.WEEKDAY}:
                assert fast.source == "daily"
            else:  # 2026-03 is a whole month inside the first period: monthly rollup plus the edge days
                assert fast.source == ("monthly" if period.start.month == 2 else "daily")


def test_local_days_follow_the_organization_time_zone(warehouse):
    org = warehouse["US"][0]
    from billing.models import UsageRecord

    rec = UsageRecord.objects.filter(organization=org).order_by("started_at").first()
    local = rec.started_at.astimezone(org.tz)
    assert (rec.local_date, rec.local_hour) == (local.date(), local.hour)
    # 2026-03-08: the US clocks jump from 02:00 to 03:00, so hour 2 never happens that day.
    summary = usage_summary(
        scope=scope_of(org),
        period=Period(date(2026, 3, 8), date(2026, 3, 8)),
        group_by=[Dimension.HOUR],
        filters=UsageFilter(),
    )
    assert 2 not in {row.keys[0].value for row in summary.rows}


def test_top_n_with_all_others_row_keeps_the_totals(warehouse):
    org = warehouse["DE"][0]
    period = Period(date(2026, 2, 1), date(2026, 4, 30))
    full = usage_summary(scope=scope_of(org), period=period, group_by=[Dimension.LINE], order_by=Metric.MINUTES)
    top = usage_summary(scope=scope_of(org), period=period, group_by=[Dimension.LINE], order_by=Metric.MINUTES, first=2)
    assert len(top.rows) == 3 and top.rows[-1].is_others and top.rows[-1].keys[0].label == "All others"
    assert [r.keys[0].value for r in top.rows[:2]] == [r.keys[0].value for r in full.rows[:2]]
    assert top.rows[0].totals.minutes >= top.rows[1].totals.minutes
    others = sum((r.totals.duration for r in top.rows), 0)
    assert others == full.totals.duration
    assert top.totals == full.totals and top.group_count == 6
    assert top.rows[0].keys[0].label.startswith("+4930555")


def test_comparison_with_the_previous_period(warehouse):
    org = warehouse["US"][0]
    summary = usage_summary(
        scope=scope_of(org), period=Period(date(2026, 3, 10), date(2026, 3, 19)), group_by=[], compare_previous=True
    )
    assert summary.previous_period == Period(date(2026, 2, 28), date(2026, 3, 9))
    direct = usage_summary(scope=scope_of(org), period=summary.previous_period, group_by=[])
    assert summary.previous_totals == direct.totals and direct.totals.records > 0


def test_filters_and_duration_limits(warehouse):
    org, sites, _people, _lines = warehouse["US"]
    period = Period(date(2026, 2, 1), date(2026, 11, 30))
    long_calls = usage_summary(
        scope=scope_of(org),
        period=period,
        group_by=[Dimension.LOCATION],
        filters=UsageFilter(min_duration_seconds=1800, locations=[sites[0].id], usage_types=["voice"]),
    )
    assert long_calls.source == "raw"
    from billing.models import UsageRecord

    expected = UsageRecord.objects.filter(
        organization=org, duration_seconds__gte=1800, location=sites[0], usage_type="voice"
    ).count()
    assert long_calls.totals.records == expected > 0
    assert all(row.keys[0].value == sites[0].id for row in long_calls.rows)


def test_location_manager_and_member_scopes(warehouse):
    org, sites, people, _lines = warehouse["DE"]
    period = Period(date(2026, 2, 1), date(2026, 11, 30))
    manager = usage_summary(
        scope=scope_of(org, location_ids=frozenset({sites[1].id})), period=period, group_by=[Dimension.LOCATION]
    )
    assert [row.keys[0].value for row in manager.rows] == [sites[1].id]
    member = usage_summary(
        scope=scope_of(org, person_ids=frozenset({people[2].id})), period=period, group_by=[Dimension.PERSON]
    )
    assert [row.keys[0].value for row in member.rows] == [people[2].id]
    page = usage_records(scope=scope_of(org, person_ids=frozenset({people[2].id})), period=period, first=100)
    assert page.records and {r.person_id for r in page.records} == {people[2].id}


def test_another_organizations_ids_find_nothing(warehouse):
    us_org = warehouse["US"][0]
    _de_org, de_sites, *_ = warehouse["DE"]
    period = Period(date(2026, 2, 1), date(2026, 11, 30))
    summary = usage_summary(
        scope=scope_of(us_org), period=period, group_by=[], filters=UsageFilter(locations=[de_sites[0].id])
    )
    assert summary.totals.records == 0
    page = usage_records(scope=scope_of(us_org), period=period, filters=UsageFilter(locations=[de_sites[0].id]))
    assert page.records == []


@pytest.mark.parametrize("order", [RecordOrder.TIME, RecordOrder.DURATION])
def test_drill_down_pages_through_every_record_once(warehouse, order, django_assert_max_num_queries):
    org = warehouse["US"][0]
    period = Period(date(2026, 3, 1), date(2026, 3, 31))
    filters = UsageFilter(usage_types=["voice"])
    seen, after = [], None
    while True:
        with django_assert_max_num_queries(1):
            page = usage_records(
                scope=scope_of(org), period=period, filters=filters, order_by=order, first=37, after=after
            )
            for record in page.records:  # related objects are loaded with the page
                assert record.line.number and (record.location is None or record.location.name)
        seen += page.records
        if not page.has_next_page:
            break
        after = page.end_cursor
    from billing.models import UsageRecord

    expected = UsageRecord.objects.filter(
        organization=org, local_date__range=(period.start, period.end), usage_type="voice"
    )
    assert len(seen) == len({r.id for r in seen}) == expected.count()
    keys = [r.started_at if order == RecordOrder.TIME else r.duration_seconds for r in seen]
    assert keys == sorted(keys, reverse=True)
    assert all(r.destination == "" and r.destination_masked for r in seen)  # masked unless allowed


def test_numbers_revealed_only_when_the_scope_allows(warehouse):
    org = warehouse["DE"][0]
    period = Period(date(2026, 3, 1), date(2026, 3, 31))
    page = usage_records(scope=scope_of(org, reveal_numbers=True), period=period, first=5)
    assert all(r.destination for r in page.records)


@pytest.mark.parametrize(
    "kwargs, field, code",
    [
        (dict(period=Period(date(2026, 3, 2), date(2026, 3, 1))), "period", "BAD_ARGUMENT"),
        (dict(period=Period(date(2020, 1, 1), date(2026, 3, 1))), "period", "PERIOD_TOO_LONG"),
        (
            dict(filters=UsageFilter(min_duration_seconds=10, max_duration_seconds=5)),
            "filter.minDurationSeconds",
            "BAD_ARGUMENT",
        ),
        (dict(filters=UsageFilter(hours=[24])), "filter.hours", "BAD_ARGUMENT"),
        (dict(group_by=[Dimension.DAY, Dimension.DAY]), "groupBy", "BAD_ARGUMENT"),
        (dict(first=0), "first", "BAD_ARGUMENT"),
    ],
)
def test_bad_arguments_are_clear_errors(org, kwargs, field, code):
    args = {"scope": scope_of(org), "period": Period(date(2026, 3, 1), date(2026, 3, 31)), "group_by": [], **kwargs}
    with pytest.raises(UsageQueryError) as info:
        usage_summary(**args)
    assert (info.value.field, info.value.code) == (field, code)


def test_bad_cursor_is_a_clear_error(org):
    with pytest.raises(UsageQueryError) as info:
        usage_records(scope=scope_of(org), period=Period(date(2026, 3, 1), date(2026, 3, 31)), after="garbage!")
    assert info.value.code == "BAD_CURSOR"
