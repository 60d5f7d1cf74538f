"""Staff reads across organizations, counted from the recorded events: the offer report (acceptance per
offer, personalized against holdout), the decision log for offline evaluation, what a campaign did, and the
retention risk's precision on history. Staff only: nothing here is scoped to one organization.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Sum

from billing.models import (
    Dispute,
    Line,
    Offer,
    OfferDecision,
    OfferImpression,
    OfferOutcome,
    OfferRecommendation,
    OfferResponse,
    Organization,
    UsageMonthly,
)
from billing.offers.learning import LoggedDecision
from billing.offers.profile import RISK_HIGH, Profile, retention_risk
from billing.periods import add_months

# --- Staff report ---------------------------------------------------------------------------------


@dataclass
class GroupNumbers:
    recommended: int = 0  # recommendations made
    shown: int = 0  # recommendations with at least one impression
    impressions: int = 0
    accepted: int = 0
    declined: int = 0
    savings_monthly_accepted: Decimal = Decimal(0)

    @property
    def acceptance_rate(self) -> Decimal | None:
        return (Decimal(self.accepted) / self.shown * 100).quantize(Decimal("0.1")) if self.shown else None


@dataclass
class ReportRow:
    offer: Offer
    personalized: GroupNumbers  # organizations that got personalized offers
    holdout: GroupNumbers  # organizations in the holdout (generic offers only)
    other: GroupNumbers  # not personalized for lack of consent
    savings_by_currency: dict[str, Decimal]  # estimated monthly savings of accepted offers

    @property
    def groups(self) -> list[GroupNumbers]:
        return [self.personalized, self.holdout, self.other]

    @property
    def impressions(self) -> int:
        return self.personalized.impressions + self.holdout.impressions + self.other.impressions

    @property
    def accepted(self) -> int:
        return self.personalized.accepted + self.holdout.accepted + self.other.accepted

    @property
    def shown(self) -> int:
        return self.personalized.shown + self.holdout.shown + self.other.shown

    @property
    def acceptance_rate(self) -> Decimal | None:
        return (Decimal(self.accepted) / self.shown * 100).quantize(Decimal("0.1")) if self.shown else None


def offer_report(*, since: datetime | None = None) -> list[ReportRow]:
    """Per offer: impressions, acceptance rate (accepted / recommendations shown at least once), estimated
    monthly savings of accepted offers, and the same numbers for the holdout. Counted from the recorded
    impressions and answers only (staff only: across organizations)."""
    recs = OfferRecommendation.objects.all()
    if since is not None:
        recs = recs.filter(created_at__gte=since)
    rows: dict[int, ReportRow] = {}
    offers = {o.pk: o for o in Offer.objects.all()}

    def group(rec_row) -> GroupNumbers:
        offer_id, personalized, holdout = rec_row
        row = rows.get(offer_id)
        if row is None:
            row = rows[offer_id] = ReportRow(offers[offer_id], GroupNumbers(), GroupNumbers(), GroupNumbers(), {})
        if personalized:
            return row.personalized
        return row.holdout if holdout else row.other

    rec_info = {}
    for rec_id, offer_id, personalized, holdout, saving, currency in recs.values_list(
        "id", "offer_id", "personalized", "run__holdout", "saving_monthly", "currency"
    ):
        rec_info[rec_id] = (offer_id, personalized, holdout, saving, currency)
        group((offer_id, personalized, holdout)).recommended += 1
    impressions = defaultdict(int)
    for rec_id in OfferImpression.objects.filter(recommendation_id__in=recs.values("id")).values_list(
        "recommendation_id", flat=True
    ):
        impressions[rec_id] += 1
    for rec_id, count in impressions.items():
        g = group(rec_info[rec_id][:3])
        g.impressions += count
        g.shown += 1
    for rec_id, decision in OfferResponse.objects.filter(recommendation_id__in=recs.values("id")).values_list(
        "recommendation_id", "decision"
    ):
        offer_id, personalized, holdout, saving, currency = rec_info[rec_id]
        g = group((offer_id, personalized, holdout))
        if decision == OfferResponse.Decision.ACCEPTED:
            g.accepted += 1
            if saving is not None:
                g.savings_monthly_accepted += saving
                savings = rows[offer_id].savings_by_currency
                savings[currency] = savings.get(currency, Decimal(0)) + saving
        else:
            g.declined += 1
    return sorted(rows.values(), key=lambda r: (r.offer.priority, r.offer.code))


# --- The decision log, for offline evaluation -------------------------------------------------------


def decision_log(*, since: datetime | None = None) -> list[LoggedDecision]:
    """Logged decisions whose first offer's outcome is known (accepted; or declined or ignored, which
    count as not accepted), oldest first. Decisions where the contact cap, not the policy, chose (no
    propensity) and offers still open are left out. Staff only: across organizations."""
    decisions = OfferDecision.objects.filter(chosen__isnull=False, propensity__isnull=False, propensity__gt=0)
    if since is not None:
        decisions = decisions.filter(at__gte=since)
    rows = list(decisions.order_by("at", "id").values_list("run_id", "chosen_id", "candidates", "propensity"))
    outcomes: dict[tuple[int, int], set[str]] = defaultdict(set)
    for run_id, offer_id, kind in OfferOutcome.objects.filter(
        recommendation__run_id__in=[r[0] for r in rows],
        kind__in=(OfferOutcome.Kind.ACCEPTED, OfferOutcome.Kind.DECLINED, OfferOutcome.Kind.IGNORED),
    ).values_list("recommendation__run_id", "offer_id", "kind"):
        outcomes[(run_id, offer_id)].add(kind)
    log = []
    for run_id, chosen_id, candidates, propensity in rows:
        kinds = outcomes.get((run_id, chosen_id))
        if not kinds:
            continue
        code = next(c["code"] for c in candidates if c["offer"] == chosen_id)
        log.append(
            LoggedDecision(
                candidates=candidates,
                chosen=code,
                propensity=float(propensity),
                accepted=OfferOutcome.Kind.ACCEPTED in kinds,
            )
        )
    return log


# --- Staff campaigns ---------------------------------------------------------------------------------


@dataclass
class CampaignResults:
    organizations: int = 0  # organizations shown at least one of its offers
    shown: int = 0  # recommendations shown
    accepted: int = 0
    declined: int = 0
    ignored: int = 0
    savings_monthly_accepted: dict[str, Decimal] | None = None  # per currency

    @property
    def acceptance_rate(self) -> Decimal | None:
        return (Decimal(self.accepted) / self.shown * 100).quantize(Decimal("0.1")) if self.shown else None


def campaign_results(*, campaign) -> CampaignResults:
    """What a campaign's offers did within its period, in its segment, from the recorded outcomes."""
    outcomes = OfferOutcome.objects.filter(
        offer__in=campaign.offers.all(), at__date__gte=campaign.starts_on, at__date__lt=campaign.ends_on
    ).values_list("organization_id", "recommendation_id", "kind", "segment")
    result = CampaignResults(savings_monthly_accepted={})
    orgs, accepted_recs = set(), []
    for org_id, rec_id, kind, segment in outcomes:
        if segment and not campaign.matches(segment):
            continue
        if kind == OfferOutcome.Kind.SHOWN:
            result.shown += 1
            orgs.add(org_id)
        elif kind == OfferOutcome.Kind.ACCEPTED:
            result.accepted += 1
            accepted_recs.append(rec_id)
        elif kind == OfferOutcome.Kind.DECLINED:
            result.declined += 1
        else:
            result.ignored += 1
    result.organizations = len(orgs)
    for currency, saving in OfferRecommendation.objects.filter(pk__in=accepted_recs).values_list(
        "currency", "saving_monthly"
    ):
        if saving is not None:
            result.savings_monthly_accepted[currency] = result.savings_monthly_accepted.get(currency, 0) + saving
    return result


# --- Retention risk: its precision on history ----------------------------------------------------------


@dataclass
class RiskBacktest:
    """Each (organization, month) from the fourth month of its usage on: the risk over the three months
    before, and whether the organization then showed the signs of leaving in that month (switched off
    more lines than it added, or its call minutes fell by 15 % or more from the month before)."""

    points: list[tuple[str, date, int, bool]]  # (account, month, score, left)

    @property
    def flagged(self) -> int:
        return sum(1 for _a, _m, score, _left in self.points if score >= RISK_HIGH)

    @property
    def true_positives(self) -> int:
        return sum(1 for _a, _m, score, left in self.points if score >= RISK_HIGH and left)

    @property
    def positives(self) -> int:
        return sum(1 for *_x, left in self.points if left)

    @property
    def precision(self) -> Decimal | None:
        return (Decimal(self.true_positives) / self.flagged).quantize(Decimal("0.001")) if self.flagged else None

    @property
    def recall(self) -> Decimal | None:
        return (Decimal(self.true_positives) / self.positives).quantize(Decimal("0.001")) if self.positives else None


def retention_risk_backtest() -> RiskBacktest:
    """Staff only. Organizations without consent are skipped (their usage is not read). Minutes come from
    the monthly rollups (calendar months, outbound voice), lines from their switch-on and -off dates,
    disputes from the statements of the months."""
    points = []
    for org in Organization.objects.filter(personalization_consent=True).order_by("account_number"):
        minutes = {
            month: Decimal(seconds or 0) / 60
            for month, seconds in UsageMonthly.objects.filter(
                organization=org, usage_type="voice", direction="outbound"
            )
            .values("local_date")
            .annotate(s=Sum("billable_seconds"))
            .values_list("local_date", "s")
        }
        if len(minutes) < 4:
            continue
        lines = list(Line.objects.filter(organization=org).values_list("activated_on", "deactivated_on"))
        disputes = list(Dispute.objects.filter(statement__organization=org).values_list("statement__period_start"))
        months = sorted(minutes)
        for i in range(3, len(months)):
            window, month = months[i - 3 : i], months[i]
            start, end = window[0], add_months(window[-1], 1) - timedelta(days=1)
            month_end = add_months(month, 1) - timedelta(days=1)
            profile = Profile(
                months=3,
                period_start=start,
                period_end=end,
                minutes_by_month=[minutes[m] for m in window],
                minutes_by_key={},
                minutes_by_country={},
                minutes_by_location={},
                minutes_by_person={},
                usage_cost_total=Decimal(0),
                overage_total=Decimal(0),
                lines_active=sum(1 for on, off in lines if on <= end and (off is None or off > end)),
                lines_added=sum(1 for on, _off in lines if start < on <= end),
                lines_removed=sum(1 for _on, off in lines if off is not None and start < off <= end),
            )
            score = retention_risk(profile, sum(1 for (d,) in disputes if start <= d <= end)).score
            off_then = sum(1 for _on, off in lines if off is not None and month <= off <= month_end)
            on_then = sum(1 for on, _off in lines if month <= on <= month_end)
            before = minutes[months[i - 1]]
            fell = bool(before) and (minutes[month] - before) / before * 100 <= -15
            points.append((org.account_number, month, score, off_then > on_then or fell))
    return RiskBacktest(points)
