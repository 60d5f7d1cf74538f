"""Cost forecast: the current billing period to its end and the next three, per group, with an error band.

Method (``METHOD``, stated on the page and in the API): a **weekday-seasonal run rate**. For each group
the cost of each day of the week is the mean cost of that weekday over the last ``WEEKS`` weeks of
complete days (the days before ``as_of``; fewer when the organization's usage began later: the history
starts at its first day with usage). A future day is forecast at its weekday's rate. To the period end:
the actual cost so far (``as_of`` included) plus the rate of every later day, plus what the rate still
expects of ``as_of`` itself when less than that has been used yet.

Error band: a back-test on the organization's own history. The same method is run from each of the last
``BACKTESTS`` weekly origins whose horizon (as many days as the forecast covers) has already passed, and
each forecast is compared with what was then used: ``actual / forecast - 1``. The band is the 10th to the
90th percentile of those errors applied to the forecast part (never below 0). A later period's band is the
error of forecasting as many days straight after the history (the extra lead time is not modelled). With
fewer than ``MIN_BACKTESTS`` usable origins there is no band, and the answer says so.

Money is Decimal throughout; results are rounded once, half-up, to the currency's minor unit.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.utils.translation import gettext

from billing.money import money
from billing.periods import period_containing
from billing.usage.scope import Scope
from billing.usage.selectors import Dimension, GroupKey, Period, UsageFilter, UsageQueryError, usage_summary
from billing.usage.timeseries import TIME_DIMENSIONS

WEEKS = 8
BACKTESTS = 12
MIN_BACKTESTS = 3
MIN_FIT_DAYS = 14  # two of every weekday before a back-test origin
NEXT_PERIODS = 3
LOW_PERCENTILE, HIGH_PERCENTILE = Decimal(10), Decimal(90)
MAX_GROUPS_SHOWN = 50
METHOD = "weekday_seasonal_run_rate"

ZERO = Decimal(0)


def method_description() -> str:
    return gettext(
        "Weekday-seasonal run rate: each day of the week is forecast at the mean cost of that weekday over "
        "the last %(weeks)d weeks of complete days. The band is the 10th to 90th percentile of the errors "
        "of the same method back-tested from up to %(backtests)d weekly origins of your own history."
    ) % {"weeks": WEEKS, "backtests": BACKTESTS}


# --- The pure part: a group's daily costs in, Decimal amounts out ------------------------------------


def weekday_rates(costs: dict[date, Decimal], last_day: date, first_day: date) -> dict[int, Decimal] | None:
    """Mean cost per ISO weekday over the ``WEEKS`` weeks ending ``last_day`` (not before ``first_day``)."""
    start = max(first_day, last_day - timedelta(days=7 * WEEKS - 1))
    if start > last_day:
        return None
    sums: dict[int, Decimal] = defaultdict(Decimal)
    counts: dict[int, int] = defaultdict(int)
    day = start
    while day <= last_day:
        sums[day.isoweekday()] += costs.get(day, ZERO)
        counts[day.isoweekday()] += 1
        day += timedelta(days=1)
    overall = sum(sums.values(), ZERO) / sum(counts.values())
    return {wd: (sums[wd] / counts[wd] if counts[wd] else overall) for wd in range(1, 8)}


def expected(rates: dict[int, Decimal], start: date, end: date) -> Decimal:
    total, day = ZERO, start
    while day <= end:
        total += rates[day.isoweekday()]
        day += timedelta(days=1)
    return total


def actual(costs: dict[date, Decimal], start: date, end: date) -> Decimal:
    return sum((v for d, v in costs.items() if start <= d <= end), ZERO)


def backtest_errors(costs: dict[date, Decimal], first_day: date, last_complete: date, horizon: int) -> list[Decimal]:
    """``actual / forecast - 1`` of the method run from weekly origins whose ``horizon`` days have passed."""
    errors = []
    for k in range(BACKTESTS):
        origin = last_complete - timedelta(days=horizon + 7 * k)
        if (origin - first_day).days + 1 < MIN_FIT_DAYS:
            break
        rates = weekday_rates(costs, origin, first_day)
        predicted = expected(rates, origin + timedelta(days=1), origin + timedelta(days=horizon))
        if predicted > 0:
            used = actual(costs, origin + timedelta(days=1), origin + timedelta(days=horizon))
            errors.append(used / predicted - 1)
    return errors


def percentile(values: list[Decimal], p: Decimal) -> Decimal:
    """Linear interpolation between closest ranks (numpy's default), in Decimal."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def error_band(errors: list[Decimal]) -> tuple[Decimal, Decimal] | None:
    if len(errors) < MIN_BACKTESTS:
        return None
    return percentile(errors, LOW_PERCENTILE), percentile(errors, HIGH_PERCENTILE)


@dataclass
class Projection:
    period: Period
    actual: Decimal  # used so far (0 for a period that has not begun)
    forecast: Decimal  # expected for the rest of the period
    low: Decimal | None  # the band of the whole period's cost (actual + the forecast's band)
    high: Decimal | None
    backtests: int  # origins the band was computed from

    @property
    def projected(self) -> Decimal:
        return self.actual + self.forecast


def project(
    costs: dict[date, Decimal],
    *,
    first_day: date,
    as_of: date,
    period: Period,
    currency: str,
) -> Projection:
    """One group's forecast of ``period`` made on ``as_of`` (which lies in it or before it)."""
    last_complete = as_of - timedelta(days=1)
    rates = weekday_rates(costs, last_complete, first_day) if first_day <= last_complete else None
    if period.start > as_of:
        used, start = ZERO, period.start
        forecast = expected(rates, start, period.end) if rates else ZERO
    else:
        used = actual(costs, period.start, as_of)
        forecast = ZERO
        if rates:
            forecast = expected(rates, as_of + timedelta(days=1), period.end)
            forecast += max(rates[as_of.isoweekday()] - costs.get(as_of, ZERO), ZERO)
        start = as_of
    horizon = (period.end - start).days + 1
    errors = backtest_errors(costs, first_day, last_complete, horizon) if rates else []
    band = error_band(errors)
    low = high = None
    if band is not None:
        low = money(used + max(forecast * (1 + band[0]), ZERO), currency)
        high = money(used + max(forecast * (1 + band[1]), ZERO), currency)
    return Projection(period, money(used, currency), money(forecast, currency), low, high, len(errors))


# --- Reading the history and the forecast of every group ---------------------------------------------


@dataclass
class GroupForecast:
    key: GroupKey | None  # None for the total and for "others"
    label: str
    current: Projection
    next_periods: list[Projection]
    is_others: bool = False


@dataclass
class Forecast:
    as_of: date
    method: str
    period: Period  # the current billing period
    history: Period  # the days of history used: from the first day with usage (at most history_days() back)
    group_by: Dimension | None
    total: GroupForecast
    groups: list[GroupForecast]
    group_count: int


def history_days() -> int:
    """How far back the forecast reads: the fit window plus the longest back-test (a period) and its origins."""
    return 7 * WEEKS + 7 * BACKTESTS + 31


def usage_forecast(
    *,
    scope: Scope,
    as_of: date,
    group_by: Dimension | None = None,
    filters: UsageFilter | None = None,
    first: int = 10,
) -> Forecast:
    """Forecast of the billing period containing ``as_of`` and the ``NEXT_PERIODS`` after it."""
    if group_by is not None and group_by in TIME_DIMENSIONS:
        raise UsageQueryError("forecast groups are not time (location, person, line, ...)", field="groupBy")
    if not 1 <= first <= MAX_GROUPS_SHOWN:
        raise UsageQueryError(f"first must be between 1 and {MAX_GROUPS_SHOWN}", field="first")
    organization = scope.organization
    billing = period_containing(organization, as_of)
    periods = [Period(billing.start, billing.end)]
    for _n in range(NEXT_PERIODS):
        following = period_containing(organization, periods[-1].end + timedelta(days=1))
        periods.append(Period(following.start, following.end))
    history = Period(min(billing.start, as_of - timedelta(days=history_days())), as_of)
    group = [group_by] if group_by else []
    summary = usage_summary(
        scope=scope,
        period=history,
        group_by=[Dimension.DAY, *group],
        filters=filters,
        order_by=None,
        max_groups=history.days * 2000,
    )
    total_costs: dict[date, Decimal] = defaultdict(Decimal)
    by_group: dict[object, tuple[GroupKey, dict[date, Decimal]]] = {}
    # Each group's history starts on its own first day with usage: the weeks before a new line or person
    # existed are not weeks of zero cost (zeros after its first day are).
    starts: dict[object, date] = {}
    for row in summary.rows:
        day = row.keys[0].value
        key = row.keys[1] if group_by else None
        if row.totals.records:
            starts[None] = min(starts.get(None, day), day)
            if key is not None:
                starts[key.value] = min(starts.get(key.value, day), day)
        total_costs[day] += row.totals.cost
        if key is not None:
            by_group.setdefault(key.value, (key, defaultdict(Decimal)))[1][day] += row.totals.cost
    no_usage = as_of + timedelta(days=1)
    currency = organization.currency

    def forecast_of(key, label, costs, first_day, is_others=False) -> GroupForecast:
        projections = [project(costs, first_day=first_day, as_of=as_of, period=p, currency=currency) for p in periods]
        return GroupForecast(key, label, projections[0], projections[1:], is_others)

    first_day = starts.get(None, no_usage)
    total = forecast_of(None, gettext("Total"), total_costs, first_day)
    ranked = sorted(by_group.values(), key=lambda kc: (actual(kc[1], billing.start, as_of), kc[0].label), reverse=True)
    groups = [forecast_of(key, key.label, costs, starts.get(key.value, no_usage)) for key, costs in ranked[:first]]
    if len(ranked) > first:
        rest: dict[date, Decimal] = defaultdict(Decimal)
        for _key, costs in ranked[first:]:
            for day, cost in costs.items():
                rest[day] += cost
        rest_start = min((starts.get(key.value, no_usage) for key, _costs in ranked[first:]), default=no_usage)
        groups.append(forecast_of(None, gettext("All others"), rest, rest_start, is_others=True))
    read = Period(max(history.start, min(first_day, as_of)), as_of)
    return Forecast(as_of, METHOD, periods[0], read, group_by, total, groups, len(ranked))
