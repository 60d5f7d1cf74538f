"""The holdout's uplift: per quarter, currency and offer, what personalized organizations did against the
holdout's (revenue, call minutes, lines switched off), with Welch 95 % confidence intervals. Staff only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, Sum

from billing.models import Line, OfferRecommendation, OfferRun, Statement, UsageMonthly

Z95 = Decimal("1.96")
UPLIFT_METRICS = ("revenue", "minutes", "lines_lost")


@dataclass
class UpliftRow:
    """One metric of one quarter (and one offer, or all): the personalized organizations' mean per
    organization against the holdout's, the difference and its 95 % confidence interval (Welch, normal
    approximation; None with fewer than two organizations in a group)."""

    quarter: str
    offer: str  # an offer code, or "" for all personalized organizations
    currency: str
    metric: str
    personalized_n: int
    holdout_n: int
    personalized_mean: Decimal | None
    holdout_mean: Decimal | None
    difference: Decimal | None
    ci_low: Decimal | None
    ci_high: Decimal | None


def _quarter(day) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def _mean_var(values: list[Decimal]) -> tuple[Decimal | None, Decimal | None]:
    if not values:
        return None, None
    mean = sum(values, Decimal(0)) / len(values)
    if len(values) < 2:
        return mean, None
    return mean, sum(((v - mean) ** 2 for v in values), Decimal(0)) / (len(values) - 1)


def _uplift_row(quarter, offer, currency, metric, treated: list[Decimal], control: list[Decimal]) -> UpliftRow:
    two = Decimal("0.01")
    m1, v1 = _mean_var(treated)
    m0, v0 = _mean_var(control)
    diff = low = high = None
    if m1 is not None and m0 is not None:
        diff = m1 - m0
        if v1 is not None and v0 is not None:
            half = Z95 * (v1 / len(treated) + v0 / len(control)).sqrt()
            low, high = (diff - half).quantize(two), (diff + half).quantize(two)
        diff = diff.quantize(two)
    return UpliftRow(
        quarter,
        offer,
        currency,
        metric,
        len(treated),
        len(control),
        m1.quantize(two) if m1 is not None else None,
        m0.quantize(two) if m0 is not None else None,
        diff,
        low,
        high,
    )


def uplift_report() -> list[UpliftRow]:
    """Per quarter, per currency, and per offer: revenue (statements' subtotals before tax), outbound
    call minutes and lines switched off, per organization, personalized against holdout. An organization
    is in a quarter's personalized group when an offer run of that quarter personalized its offers, in the
    holdout when a run of the quarter put it there; organizations without consent are in neither. Staff
    only: across organizations. A handful of grouped queries, whatever the number of organizations."""
    groups: dict[tuple[str, int], str] = {}
    currency_of: dict[int, str] = {}
    for org_id, currency, at, personalized in OfferRun.objects.filter(
        Q(personalized=True) | Q(holdout=True, consent=True)
    ).values_list("organization_id", "organization__currency", "computed_at", "personalized"):
        key = (_quarter(at.date()), org_id)
        currency_of[org_id] = currency
        groups[key] = "personalized" if personalized or groups.get(key) == "personalized" else "holdout"
    offers_of: dict[tuple[str, int], set[str]] = defaultdict(set)
    for org_id, at, code in OfferRecommendation.objects.filter(personalized=True).values_list(
        "organization_id", "created_at", "offer__code"
    ):
        offers_of[(_quarter(at.date()), org_id)].add(code)
    org_ids = {org_id for _q, org_id in groups}
    values: dict[tuple[str, int], dict[str, Decimal]] = defaultdict(
        lambda: {metric: Decimal(0) for metric in UPLIFT_METRICS}
    )
    for org_id, start, subtotal in Statement.objects.filter(
        organization_id__in=org_ids, status__in=(Statement.Status.ISSUED, Statement.Status.PAID)
    ).values_list("organization_id", "period_start", "subtotal"):
        values[(_quarter(start), org_id)]["revenue"] += subtotal
    for org_id, month, seconds in (
        UsageMonthly.objects.filter(organization_id__in=org_ids, usage_type="voice", direction="outbound")
        .values("organization_id", "local_date")
        .annotate(s=Sum("billable_seconds"))
        .values_list("organization_id", "local_date", "s")
    ):
        values[(_quarter(month), org_id)]["minutes"] += Decimal(seconds or 0) / 60
    for org_id, off in Line.objects.filter(organization_id__in=org_ids, deactivated_on__isnull=False).values_list(
        "organization_id", "deactivated_on"
    ):
        values[(_quarter(off), org_id)]["lines_lost"] += 1
    rows = []
    quarters = sorted({q for q, _org in groups})
    for quarter in quarters:
        for currency in sorted({currency_of[o] for q, o in groups if q == quarter}):
            members = [o for (q, o), _g in groups.items() if q == quarter and currency_of[o] == currency]
            treated = [o for o in members if groups[(quarter, o)] == "personalized"]
            control = [o for o in members if groups[(quarter, o)] == "holdout"]
            codes = sorted(set().union(*(offers_of.get((quarter, o), set()) for o in treated)))
            for offer in ["", *codes]:
                group = treated if not offer else [o for o in treated if offer in offers_of.get((quarter, o), ())]
                for metric in UPLIFT_METRICS:
                    rows.append(
                        _uplift_row(
                            quarter,
                            offer,
                            currency,
                            metric,
                            [values[(quarter, o)][metric] for o in group],
                            [values[(quarter, o)][metric] for o in control],
                        )
                    )
    return rows
