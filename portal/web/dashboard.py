"""The dashboard: this period's charges and projection, the last statement, the 12-month trend, the
top locations and people, and unusual items. Everything comes from the scoped usage selectors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

from babel.dates import format_date
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from billing.audit_findings.selectors import findings_summary, findings_visible
from billing.models import BillFinding, Statement
from billing.months import month_start
from billing.periods import last_closed_period, period_containing
from billing.statements.charts import column_chart
from billing.usage.comparison import usage_comparison
from billing.usage.scope import Scope
from billing.usage.selectors import (
    Dimension,
    Metric,
    Period,
    RecordOrder,
    UsageFilter,
    usage_records,
    usage_summary,
)
from portal.web.analysis import dashboard_anomalies
from portal.web.offers import offers_panel_context
from portal.web.usage import explorer_url
from portal.web.usage_forms import today_for

LONG_CALL_SECONDS = 3600
JUMP_RATIO = Decimal("1.5")  # a location's cost at least 1.5 × the period before ...
JUMP_SHARE = Decimal("0.02")  # ... and the increase at least 2 % of the organization's cost: not noise
TOP = 5
OFFERS_PANEL = "billing/offers/_panel.html"


@dataclass
class Jump:
    location_id: int
    name: str
    cost: Decimal
    previous: Decimal
    pct: Decimal | None  # the explorer's change in percent (billing.usage.comparison)


def projection(cost: Decimal, period: Period, today: date) -> Decimal:
    """Linear projection of the usage charges to the end of the billing period (days elapsed so far)."""
    elapsed = (min(today, period.end) - period.start).days + 1
    total_days = period.days
    return (cost * total_days / elapsed).quantize(Decimal("0.01"), ROUND_HALF_UP) if elapsed > 0 else cost


def location_jumps(scope: Scope, organization) -> tuple[Period, list[Jump]]:
    """Locations whose cost in the last closed period jumped against the billing period before it: the
    explorer's comparison (``usage_comparison``), so both pages give the same percent."""
    last = last_closed_period(organization)
    compared = usage_comparison(
        scope=scope,
        period=Period(last.start, last.end),
        group_by=[Dimension.LOCATION],
        filters=UsageFilter(),
        order_by=Metric.COST,
    )
    floor = compared.summary.totals.cost * JUMP_SHARE
    jumps = []
    for row in compared.rows:
        key, cost, was = row.row.keys[0], row.row.totals.cost, row.previous.cost
        if key.value is None or row.row.is_others:
            continue
        if cost - was >= floor and cost >= was * JUMP_RATIO and cost > 0:
            jumps.append(Jump(key.value, key.label, cost, was, row.pct))
    return compared.summary.period, jumps[:3]


def dashboard_context(request) -> dict:
    caller = request.caller
    scope = caller.scope
    organization = scope.organization
    today = today_for(organization)
    billing_period = period_containing(organization, today)
    so_far = Period(billing_period.start, today)
    current = usage_summary(scope=scope, period=so_far, group_by=[], order_by=None)
    cost = current.totals.cost
    full_period = Period(billing_period.start, billing_period.end)

    trend_period = Period(month_start(today, 11), today)
    trend = usage_summary(scope=scope, period=trend_period, group_by=[Dimension.MONTH], order_by=None)
    by_month = {r.keys[0].value: r.totals for r in trend.rows}
    months = []
    for back in range(11, -1, -1):
        first = month_start(today, back)
        totals = by_month.get(first)
        months.append(
            {
                "month": first,
                "cost": totals.cost if totals else Decimal(0),
                "minutes": totals.minutes if totals else Decimal(0),
            }
        )
    # Month names in the page's language (the organization's, activated by portal_view).
    locale = translation.to_locale(translation.get_language() or "en")
    chart = column_chart(
        [(format_date(m["month"], "LLL", locale=locale), m["cost"]) for m in months],
        title=gettext("Usage cost per month, %(first)s to %(last)s")
        % {
            "first": format_date(months[0]["month"], "LLLL y", locale=locale),
            "last": format_date(months[-1]["month"], "LLLL y", locale=locale),
        },
    )

    # A period with no usage yet (its first day, say): the top lists show the last complete period.
    top_fallback = not current.totals.records
    top_period = so_far
    if top_fallback:
        closed = last_closed_period(organization)
        top_period = Period(closed.start, closed.end)
    period_params = {"period": "last_month" if top_fallback else "this_period"}

    def linked(rows, dim, next_dim):
        return [
            (
                row,
                None
                if row.is_others or row.keys[0].value is None
                else explorer_url(**period_params, **{dim: row.keys[0].value}, dim=next_dim),
            )
            for row in rows
        ]

    top_locations = usage_summary(
        scope=scope, period=top_period, group_by=[Dimension.LOCATION], order_by=Metric.COST, first=TOP
    )
    top_people = usage_summary(
        scope=scope, period=top_period, group_by=[Dimension.PERSON], order_by=Metric.COST, first=TOP
    )
    long_calls = usage_records(
        scope=scope,
        period=so_far,
        filters=UsageFilter(min_duration_seconds=LONG_CALL_SECONDS),
        order_by=RecordOrder.DURATION,
        first=5,
    )
    jump_period, jumps = location_jumps(scope, organization)

    last_statement = None
    offers_panel = None
    if caller.sees_billing:
        last_statement = (
            Statement.objects.filter(
                organization=organization, status__in=[Statement.Status.ISSUED, Statement.Status.PAID]
            )
            .order_by("-period_start")
            .first()
        )
        offers_panel = OFFERS_PANEL

    findings = {}
    if scope.person_ids is None:  # findings are about what the organization pays (not for members)
        findings = {
            "findings_summary": findings_summary(scope),
            "findings_top": list(findings_visible(scope, status=BillFinding.Status.OPEN)[:5]),
        }
    return {
        **findings,
        "period": full_period,
        "today": today,
        "cost_so_far": cost,
        "projected": projection(cost, full_period, today),
        "current": current.totals,
        "months": months,
        "trend_chart": chart,
        "top_fallback": top_fallback,
        "top_period": top_period,
        "top_locations": linked(top_locations.rows, "location", "person"),
        "top_people": linked(top_people.rows, "person", "duration_band"),
        "long_calls": long_calls.records,
        "long_calls_url": reverse("usage-records")
        + "?"
        + urlencode({"period": "this_period", "min_minutes": 60, "by": "duration"}),
        "jumps": [(j, explorer_url(period="last_month", location=j.location_id, dim="person")) for j in jumps],
        "jump_period": jump_period,
        "jump_url": explorer_url(period="last_month", dim="location"),
        "locations_url": explorer_url(dim="location", **period_params),
        "people_url": explorer_url(dim="person", **period_params),
        "last_statement": last_statement,
        "offers_panel": offers_panel,
        **(offers_panel_context(request, caller.membership) if offers_panel else {}),
        "reveal_numbers": scope.reveal_numbers,
        **dashboard_anomalies(scope, today),
    }
