"""Unusual usage: days on which a location, a person or a line cost far more than on its usual same weekdays.

Method (``METHOD``, stated on the dashboard, the page and in the API): a **robust z-score against the same
weekdays of the last 8 weeks**. For each location, person and line and each day of the period asked
about, its baseline is its cost on the same weekday in each of the ``WEEKS`` weeks before (a day without
usage counts 0; weeks before the organization's first day with usage are left out, and fewer than
``MIN_BASELINE`` baseline days give no verdict). With the baseline's median ``m`` and median absolute
deviation ``MAD``, the score is ``0.6745 × (cost − m) / MAD`` (Iglewicz and Hoaglin's modified z-score);
when the MAD is 0 the mean absolute deviation × 1.2533 stands in for it (both estimate the same spread for
normal data), and when that is 0 too, any cost above the always-equal baseline is unusual ("new"). A day is
unusual when its score is at least ``THRESHOLD`` and it cost at least ``min_excess`` more than the median.
Its money value is that excess: ``cost − m``. Only increases are listed (a day cheaper than usual is not a
cost to look at).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from statistics import median

from django.utils.translation import gettext

from billing.money import money
from billing.usage.scope import Scope
from billing.usage.selectors import Dimension, GroupKey, Period, UsageFilter, UsageQueryError, usage_summary

WEEKS = 8
MIN_BASELINE = 4
THRESHOLD = Decimal("3.5")
MAD_SCALE = Decimal("0.6745")
MEAN_AD_SCALE = Decimal("1.2533")
DIMENSIONS = (Dimension.LOCATION, Dimension.PERSON, Dimension.LINE)
DEFAULT_MIN_EXCESS = Decimal("5.00")
MAX_PERIOD_DAYS = 92
METHOD = "robust_z_score_same_weekday_8_weeks"
ZERO = Decimal(0)


def method_description() -> str:
    return gettext(
        "Robust z-score against the same weekdays of the last %(weeks)d weeks: a day is unusual when its cost "
        "is at least %(threshold)s median absolute deviations above the median of those days (modified "
        "z-score) and at least the minimum amount more than that median. The money value is the cost above "
        "the median."
    ) % {"weeks": WEEKS, "threshold": THRESHOLD}


@dataclass
class Verdict:
    median: Decimal
    score: Decimal | None  # None: the baseline never varied and the day is above it ("new")


def robust_score(value: Decimal, baseline: list[Decimal]) -> Verdict | None:
    """The modified z-score of ``value`` against ``baseline`` (pure; None without enough baseline)."""
    if len(baseline) < MIN_BASELINE:
        return None
    m = median(baseline)
    deviations = [abs(b - m) for b in baseline]
    mad = median(deviations)
    if mad > 0:
        return Verdict(m, MAD_SCALE * (value - m) / mad)
    mean_ad = sum(deviations, ZERO) / len(deviations)
    if mean_ad > 0:
        return Verdict(m, (value - m) / (MEAN_AD_SCALE * mean_ad))
    return Verdict(m, None if value > m else ZERO)


@dataclass
class Anomaly:
    dimension: Dimension
    key: GroupKey
    day: date
    cost: Decimal
    usual: Decimal  # the baseline's median
    excess: Decimal  # cost − usual, the money value of the anomaly
    score: Decimal | None  # None: the baseline was always the same ("new")
    baseline_days: int


@dataclass
class AnomalyReport:
    period: Period
    method: str
    min_excess: Decimal
    anomalies: list[Anomaly]

    @property
    def total_excess(self) -> Decimal:
        return sum((a.excess for a in self.anomalies), ZERO)


def detect(
    costs: dict[date, Decimal], *, days: list[date], first_day: date, min_excess: Decimal
) -> list[tuple[date, Decimal, Verdict, int]]:
    """The unusual ``days`` of one group's daily ``costs`` (pure): (day, cost, verdict, baseline size)."""
    found = []
    for day in days:
        baseline = [
            costs.get(day - timedelta(weeks=k), ZERO)
            for k in range(1, WEEKS + 1)
            if day - timedelta(weeks=k) >= first_day
        ]
        value = costs.get(day, ZERO)
        verdict = robust_score(value, baseline)
        if verdict is None or value - verdict.median < min_excess:
            continue
        if verdict.score is None or verdict.score >= THRESHOLD:
            found.append((day, value, verdict, len(baseline)))
    return found


def usage_anomalies(
    *,
    scope: Scope,
    period: Period,
    dimensions: tuple[Dimension, ...] = DIMENSIONS,
    filters: UsageFilter | None = None,
    min_excess: Decimal = DEFAULT_MIN_EXCESS,
    first: int | None = None,
) -> AnomalyReport:
    """The unusual days of ``period`` per location, person and line, largest money value first."""
    if period.start > period.end:
        raise UsageQueryError(f"period starts ({period.start}) after it ends ({period.end})", field="period")
    if period.days > MAX_PERIOD_DAYS:
        raise UsageQueryError(f"look for anomalies in at most {MAX_PERIOD_DAYS} days", field="period")
    if any(d not in DIMENSIONS for d in dimensions) or not dimensions:
        raise UsageQueryError("anomalies are found per location, person or line", field="dimensions")
    if min_excess < 0:
        raise UsageQueryError("the minimum amount must not be negative", field="minExcess")
    history = Period(period.start - timedelta(weeks=WEEKS), period.end)
    days = [period.start + timedelta(days=i) for i in range(period.days)]
    currency = scope.organization.currency
    found: list[Anomaly] = []
    first_day = None
    for dimension in dict.fromkeys(dimensions):
        summary = usage_summary(
            scope=scope,
            period=history,
            group_by=[Dimension.DAY, dimension],
            filters=filters,
            order_by=None,
            max_groups=history.days * 5000,
        )
        if first_day is None:
            first_day = min((r.keys[0].value for r in summary.rows if r.totals.records), default=period.end)
        by_key: dict[object, tuple[GroupKey, dict[date, Decimal]]] = {}
        for row in summary.rows:
            day_key, key = row.keys
            if key.value is None:  # usage of no location/person: nobody to point at
                continue
            by_key.setdefault(key.value, (key, defaultdict(Decimal)))[1][day_key.value] += row.totals.cost
        for key, costs in by_key.values():
            for day, value, verdict, size in detect(costs, days=days, first_day=first_day, min_excess=min_excess):
                score = verdict.score.quantize(Decimal("0.1"), ROUND_HALF_UP) if verdict.score is not None else None
                found.append(
                    Anomaly(
                        dimension,
                        key,
                        day,
                        money(value, currency),
                        money(verdict.median, currency),
                        money(value - verdict.median, currency),
                        score,
                        size,
                    )
                )
    found.sort(key=lambda a: (a.excess, a.day, a.key.label), reverse=True)
    return AnomalyReport(period, METHOD, min_excess, found[:first] if first else found)
