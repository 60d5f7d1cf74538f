"""Time series, pivot, forecast and anomalies on pinned data with answers worked out by hand."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from billing.usage import forecast as fc
from billing.usage.anomalies import robust_score, usage_anomalies
from billing.usage.forecast import percentile, project, usage_forecast
from billing.usage.pivot import usage_pivot
from billing.usage.scope import Scope
from billing.usage.selectors import Dimension, Metric, Period, UsageFilter, UsageQueryError, usage_summary
from billing.usage.timeseries import usage_timeseries
from tests.usage.analysis_data import days, firm, write_daily

OCT = Period(date(2026, 10, 1), date(2026, 10, 31))


@pytest.fixture
def pinned(make):
    org = firm(make)
    write_daily(org, org.line_a, {d: "2.00" for d in days(date(2026, 9, 1), date(2026, 11, 20))})
    write_daily(org, org.line_b, {d: "1.00" for d in days(date(2026, 10, 1), date(2026, 10, 31))})
    write_daily(org, org.line_c, {date(2026, 10, 5): "7.50", date(2026, 11, 2): "3.25"})
    return org


def test_time_series_has_every_day_and_stacks_the_top_series_plus_others(pinned):
    scope = Scope(organization=pinned)
    ts = usage_timeseries(scope=scope, period=OCT, interval=Dimension.DAY, split_by=Dimension.PERSON, top=1)
    assert len(ts.buckets) == 31 and ts.buckets[0] == date(2026, 10, 1)
    assert [s.label for s in ts.series] == ["Anna", "Others"]
    assert ts.series_count == 3 and ts.stacked
    others = ts.series[1].values(Metric.COST)
    assert others[4] == Decimal("8.50") and others[5] == Decimal("1.00")  # Ben + Cem on 5 Oct, Ben on 6 Oct
    assert sum(t.cost for t in ts.totals) == usage_summary(scope=scope, period=OCT, group_by=[]).totals.cost
    weeks = usage_timeseries(scope=scope, period=OCT, interval=Dimension.WEEK, metric=Metric.CALLS)
    assert weeks.buckets[0] == date(2026, 9, 28) and len(weeks.buckets) == 5
    assert sum(weeks.series[0].values(Metric.CALLS)) == 31 + 31 + 1


def test_time_series_refuses_a_non_time_interval(pinned):
    with pytest.raises(UsageQueryError) as err:
        usage_timeseries(scope=Scope(organization=pinned), period=OCT, interval=Dimension.PERSON)
    assert err.value.field == "interval"


def test_pivot_person_by_month_totals_both_ways(pinned):
    scope = Scope(organization=pinned)
    period = Period(date(2026, 9, 1), date(2026, 11, 30))
    pivot = usage_pivot(scope=scope, period=period, rows=Dimension.PERSON, columns=Dimension.MONTH)
    assert pivot.columns == [date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)]
    table = {r.label: r.values(Metric.COST) for r in pivot.rows}
    assert table == {
        "Anna": [Decimal("60.00"), Decimal("62.00"), Decimal("40.00")],
        "Ben": [Decimal(0), Decimal("31.00"), Decimal(0)],
        "Cem": [Decimal(0), Decimal("7.50"), Decimal("3.25")],
    }
    assert [r.label for r in pivot.rows] == ["Anna", "Ben", "Cem"]  # by row total, largest first
    assert [c.cost for c in pivot.column_totals] == [Decimal("60.00"), Decimal("100.50"), Decimal("43.25")]
    assert [r.total.cost for r in pivot.rows] == [Decimal("162.00"), Decimal("31.00"), Decimal("10.75")]
    assert pivot.total.cost == Decimal("203.75") == sum(c.cost for c in pivot.column_totals)
    top = usage_pivot(scope=scope, period=period, rows=Dimension.PERSON, columns=Dimension.MONTH, first=1)
    assert [r.label for r in top.rows] == ["Anna", "All others"]
    assert top.rows[1].values(Metric.COST) == [Decimal(0), Decimal("38.50"), Decimal("3.25")]
    assert top.total.cost == pivot.total.cost

    longest = usage_pivot(
        scope=scope, period=period, rows=Dimension.PERSON, columns=Dimension.MONTH, metric=Metric.CALLS
    )
    assert [c.calls for c in longest.column_totals] == [30, 31 + 31 + 1, 20 + 1]


def test_a_flat_history_forecasts_its_run_rate_with_a_zero_width_band(pinned):
    scope = Scope(organization=pinned)
    result = usage_forecast(scope=scope, as_of=date(2026, 11, 20), filters=UsageFilter(persons=[pinned.anna.id]))
    current = result.total.current
    assert result.period == Period(date(2026, 11, 1), date(2026, 11, 30))
    assert (current.actual, current.forecast, current.projected) == (
        Decimal("40.00"),
        Decimal("20.00"),
        Decimal("60.00"),
    )
    assert (current.low, current.high, current.backtests) == (Decimal("60.00"), Decimal("60.00"), 8)
    months = [(p.period.start, p.projected, p.low, p.high, p.backtests) for p in result.total.next_periods]
    assert months == [
        (date(2026, 12, 1), Decimal("62.00"), Decimal("62.00"), Decimal("62.00"), 6),
        (date(2027, 1, 1), Decimal("62.00"), Decimal("62.00"), Decimal("62.00"), 6),
        (date(2027, 2, 1), Decimal("56.00"), Decimal("56.00"), Decimal("56.00"), 6),
    ]


def test_forecast_per_person_adds_up_to_the_total(pinned):
    result = usage_forecast(scope=Scope(organization=pinned), as_of=date(2026, 11, 20), group_by=Dimension.PERSON)
    assert [g.label for g in result.groups] == ["Anna", "Cem", "Ben"]  # by cost so far this period
    assert sum(g.current.actual for g in result.groups) == result.total.current.actual == Decimal("43.25")
    by_label = {g.label: g for g in result.groups}
    # Each group's history starts on its own first day with usage: Ben's on 1 October, not the organization's
    # 1 September (the weeks before he had a line are not weeks of zero cost).
    ben = {d: Decimal("1.00") for d in days(date(2026, 10, 1), date(2026, 10, 31))}
    expected = project(ben, first_day=date(2026, 10, 1), as_of=date(2026, 11, 20), period=result.period, currency="EUR")
    assert by_label["Ben"].current == expected and expected.forecast > 0


def test_forecast_is_weekday_seasonal():
    first = date(2026, 8, 3)  # a Monday
    costs = {d: Decimal(10) if d.isoweekday() <= 5 else Decimal(0) for d in days(first, date(2026, 11, 19))}
    projection = project(
        costs,
        first_day=first,
        as_of=date(2026, 11, 20),
        period=Period(date(2026, 11, 1), date(2026, 11, 30)),
        currency="EUR",
    )
    # 1–20 Nov: 15 weekdays used (20 Nov has no usage yet); 20 Nov (Friday) and 23–27 and 30 Nov still to come.
    assert projection.actual == Decimal("140.00")
    assert projection.forecast == Decimal("70.00")


def test_backtest_band_from_alternating_weeks():
    """Weeks alternate 10 and 20 a day: every 8-week fit says 15 a day, so a week's forecast of 105 was
    70 or 140 in fact: errors of −1/3 and +1/3, six each over twelve origins; the band is 70 to 140."""
    last_complete = date(2026, 11, 22)  # a Sunday
    first = last_complete - timedelta(days=139)  # a Monday
    costs = {d: Decimal(10) if ((d - first).days // 7) % 2 == 0 else Decimal(20) for d in days(first, last_complete)}
    as_of = last_complete + timedelta(days=1)
    errors = fc.backtest_errors(costs, first, last_complete, 7)
    assert len(errors) == fc.BACKTESTS == 12
    assert sorted(e.quantize(Decimal("0.0001")) for e in errors) == [Decimal("-0.3333")] * 6 + [Decimal("0.3333")] * 6
    projection = project(
        costs, first_day=first, as_of=as_of, period=Period(as_of, as_of + timedelta(days=6)), currency="EUR"
    )
    assert (projection.forecast, projection.low, projection.high) == (
        Decimal("105.00"),
        Decimal("70.00"),
        Decimal("140.00"),
    )


def test_percentile_interpolates_between_ranks():
    values = [Decimal(v) for v in ("0.4", "0", "0.2", "0.1", "0.3")]
    assert percentile(values, Decimal(10)) == Decimal("0.04")
    assert percentile(values, Decimal(90)) == Decimal("0.36")
    assert fc.error_band(values[:2]) is None  # fewer than three back-tests: no band


def test_too_little_history_gives_no_band(make):
    org = firm(make)
    write_daily(org, org.line_a, {d: "3.00" for d in days(date(2026, 11, 1), date(2026, 11, 10))})
    result = usage_forecast(scope=Scope(organization=org), as_of=date(2026, 11, 10))
    assert result.total.current.projected == Decimal("90.00")
    assert result.total.current.low is None and result.total.current.backtests == 0


def test_robust_score_falls_back_to_the_mean_absolute_deviation():
    verdict = robust_score(Decimal(30), [Decimal(10)] * 7 + [Decimal(12)])
    assert verdict.median == 10 and verdict.score.quantize(Decimal("0.01")) == Decimal("63.83")
    assert robust_score(Decimal(5), [Decimal(0)] * 8).score is None  # always 0 before: "new"
    assert robust_score(Decimal(5), [Decimal(0)] * 3) is None  # too little baseline


def pattern(day: date) -> Decimal:
    return Decimal("2.00") + Decimal("0.10") * (day.toordinal() % 3)


@pytest.fixture
def spiky(make):
    org = firm(make)
    history = days(date(2026, 9, 1), date(2026, 11, 30))
    write_daily(org, org.line_a, {d: (Decimal("30.00") if d == date(2026, 11, 10) else pattern(d)) for d in history})
    write_daily(
        org, org.line_b, {d: (Decimal("1.50") if d == date(2026, 11, 12) else Decimal("1.00")) for d in history}
    )
    write_daily(org, org.line_c, {date(2026, 11, 16): "12.00"})
    return org


def test_a_planted_spike_and_a_new_cost_are_found_with_their_money_value(spiky):
    report = usage_anomalies(scope=Scope(organization=spiky), period=Period(date(2026, 11, 1), date(2026, 11, 30)))
    from statistics import median

    usual = median(pattern(date(2026, 11, 10) - timedelta(weeks=k)) for k in range(1, 9))
    spike = Decimal("30.00") - usual
    found = [(a.dimension.value, a.key.label, a.day, a.excess) for a in report.anomalies]
    assert sorted(found) == sorted(
        [
            ("location", "HQ", date(2026, 11, 10), spike),
            ("person", "Anna", date(2026, 11, 10), spike),
            ("line", "+493011110001", date(2026, 11, 10), spike),
            ("location", "Depot", date(2026, 11, 16), Decimal("12.00")),
            ("person", "Cem", date(2026, 11, 16), Decimal("12.00")),
            ("line", "+493011110003", date(2026, 11, 16), Decimal("12.00")),
        ]
    )
    assert report.anomalies[0].excess == spike and report.anomalies[0].score > 3
    new = [a for a in report.anomalies if a.day == date(2026, 11, 16)]
    assert all(a.score is None and a.usual == 0 for a in new)
    # Ben's +0.50 on 12 Nov is unusual for a flat line but below the minimum amount; with none it is listed.
    low = usage_anomalies(
        scope=Scope(organization=spiky),
        period=Period(date(2026, 11, 12), date(2026, 11, 12)),
        dimensions=(Dimension.PERSON,),
        min_excess=Decimal("0.10"),
    )
    assert [(a.key.label, a.excess) for a in low.anomalies] == [("Ben", Decimal("0.50"))]


def test_anomalies_are_read_within_the_scope(spiky):
    scope = Scope(organization=spiky, location_ids=frozenset({spiky.hq.id}))
    report = usage_anomalies(scope=scope, period=Period(date(2026, 11, 1), date(2026, 11, 30)))
    assert {a.key.label for a in report.anomalies} == {"HQ", "Anna", "+493011110001"}
