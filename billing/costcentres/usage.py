"""Usage grouped by cost centre, for any period and any caller's scope: the usage summary's COST_CENTRE
dimension.

Read from the daily rollup (per line, person, location and local day, within the caller's scope and filters),
each row allocated by the rules in force on its day (``billing.costcentres.allocation``) and split by their
percentages. Splitting makes fractional records, seconds and bytes: each metric is shared out over the cost
centres by largest remainder (whole units; cost to 6 decimal places), so the groups add up to the totals of
the same query without cost centres. ``level`` rolls the tree up: a cost centre deeper than ``level``
(0 = the roots) is counted at its ancestor on that level. What no rule covers is the group "Unallocated"
(value null).

A query's size is bounded like any summary: the daily rollup's rows of the period (at most
``MAX_PERIOD_DAYS``), and the groups are at most the organization's cost centres plus one.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db import connection

from billing.costcentres.allocation import Allocator
from billing.costcentres.chargeback import apportion
from billing.models import CostCentre
from billing.usage.scope import Scope
from billing.usage.selectors import (
    Dimension,
    GroupKey,
    Metric,
    Period,
    SummaryRow,
    Totals,
    UsageFilter,
    UsageQueryError,
    UsageSummary,
)
from billing.usage.selectors import _validate_period as validate_period

SUMMED = ("records", "calls", "messages", "data_sessions", "duration", "billable", "data_bytes")
SIX = Decimal("0.000001")


def _at_level(cost_centres: dict[int, CostCentre], level: int | None):
    depth: dict[int, int] = {}

    def depth_of(pk: int) -> int:
        if pk not in depth:
            parent = cost_centres[pk].parent_id
            depth[pk] = 0 if parent is None or parent not in cost_centres else depth_of(parent) + 1
        return depth[pk]

    def up(pk: int | None) -> int | None:
        if pk is None or level is None:
            return pk
        while depth_of(pk) > level:
            pk = cost_centres[pk].parent_id
        return pk

    return up


def cost_centre_summary(
    *,
    scope: Scope,
    period: Period,
    filters: UsageFilter | None = None,
    level: int | None = None,
    order_by: Metric | None = Metric.COST,
    descending: bool = True,
    first: int | None = None,
) -> UsageSummary:
    filters = filters or UsageFilter()
    validate_period(period)
    filters.validate()
    if level is not None and level < 0:
        raise UsageQueryError("costCentreLevel is 0 (the roots) or more", field="costCentreLevel")
    not_daily = filters.dimensions() & {Dimension.HOUR}
    if not_daily or filters.needs_raw():
        raise UsageQueryError("usage by cost centre cannot be filtered by hour of day or call duration", field="filter")
    where, params = scope.sql("d")
    clauses, filter_params = filters.sql("d")
    sql = (
        "SELECT d.line_id, d.person_id, d.location_id, d.local_date, sum(d.records), "
        "sum(d.records) FILTER (WHERE d.usage_type = 'voice'), sum(d.records) FILTER (WHERE d.usage_type = 'sms'), "
        "sum(d.records) FILTER (WHERE d.usage_type = 'data'), "
        "sum(d.duration_seconds) FILTER (WHERE d.usage_type = 'voice'), "
        "sum(d.billable_seconds) FILTER (WHERE d.usage_type = 'voice'), sum(d.data_bytes), sum(d.cost), "
        "max(d.max_duration_seconds) FILTER (WHERE d.usage_type = 'voice') "
        f"FROM billing_usagedaily d WHERE {' AND '.join([where, 'd.local_date BETWEEN %s AND %s', *clauses])} "
        "GROUP BY 1, 2, 3, 4"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, period.start, period.end, *filter_params])
        rows = cursor.fetchall()
    cost_centres = {c.pk: c for c in CostCentre.objects.filter(organization=scope.organization)}
    up = _at_level(cost_centres, level)
    allocator = Allocator(scope.organization)
    exact: dict[int | None, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    longest: dict[int | None, int] = defaultdict(int)
    totals = Totals()
    for line_id, person_id, location_id, day, *metrics in rows:
        values = dict(zip((*SUMMED, "cost"), (Decimal(m or 0) for m in metrics[:8]), strict=True))
        for name in SUMMED:
            setattr(totals, name, getattr(totals, name) + int(values[name]))
        totals.cost += values["cost"]
        totals.longest = max(totals.longest, metrics[8] or 0)
        for cc, percent in allocator.shares(line_id, person_id, location_id, day):
            key = up(cc)
            for name, value in values.items():
                exact[key][name] += value * percent / 100
            longest[key] = max(longest[key], metrics[8] or 0)
    keys = sorted(exact, key=lambda k: (k is None, cost_centres[k].code if k is not None else ""))
    shared = {
        name: apportion([exact[k][name] for k in keys], Decimal(getattr(totals, name)), Decimal(1)) for name in SUMMED
    }
    shared["cost"] = apportion([exact[k]["cost"] for k in keys], totals.cost.quantize(SIX), SIX)
    out = []
    for i, key in enumerate(keys):
        t = Totals(**{name: int(shared[name][i]) for name in SUMMED}, cost=shared["cost"][i], longest=longest[key])
        label = f"{cost_centres[key].code} {cost_centres[key].name}" if key is not None else "Unallocated"
        out.append(SummaryRow(keys=[GroupKey(Dimension.COST_CENTRE, key, label)], totals=t))
    if order_by is not None:
        out.sort(key=lambda r: (r.totals.metric(order_by), str(r.keys[0].value)), reverse=descending)
    group_count = len(out)
    if first is not None and len(out) > first:
        others = Totals()
        for row in out[first:]:
            others.add(row.totals)
        others_key = GroupKey(Dimension.COST_CENTRE, None, "All others")
        out = [*out[:first], SummaryRow(keys=[others_key], totals=others, is_others=True)]
    return UsageSummary(
        period=period,
        group_by=[Dimension.COST_CENTRE],
        rows=out,
        totals=totals,
        previous_period=None,
        previous_totals=None,
        previous_basis=None,
        group_count=group_count,
        source="daily",
    )
