"""Offer reads: the offers a caller may see, and the staff report computed from the recorded events."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from billing.formatting import Formatter
from billing.models import Offer, OfferImpression, OfferRecommendation, OfferResponse, OfferRun, Statement
from billing.offers.services import setting
from billing.usage.scope import Scope

# Offers and their explanations are billing information: administrators and analysts of the organization
# with an unrestricted scope (a location manager or member never sees them).


@dataclass(frozen=True)
class OfferView:
    id: int  # the recommendation's id: what the customer accepts or declines
    code: str
    kind: str
    title: str
    copy: str
    reason: str
    personalized: bool
    retention: bool
    currency: str
    saving_monthly: Decimal | None
    saving_total: Decimal | None
    saving_monthly_display: str
    months: int
    status: str  # open, accepted or declined
    statement_id: int | None
    recommendation: OfferRecommendation


def may_see_offers(scope: Scope) -> bool:
    return scope.sees_offers


def offers_for(*, scope: Scope, statement: Statement | None = None, now: datetime | None = None) -> list[OfferView]:
    """The offers shown next to ``statement`` (frozen with it), or the organization's latest offers.

    Offers the organization declined within OFFERS_DECLINE_SUPPRESS_DAYS are left out, at most
    OFFERS_MAX_SHOWN are returned. Three queries, whatever the number of offers.
    """
    if not may_see_offers(scope):
        return []
    organization = scope.organization
    now = now or timezone.now()
    runs = OfferRun.objects.filter(organization=organization)
    if statement is not None:
        if statement.organization_id != organization.id:
            return []
        run = runs.filter(statement=statement).first()
    else:
        run = runs.exclude(legacy=True).order_by("-computed_at", "-id").first()
    if run is None:
        return []
    recs = list(
        OfferRecommendation.objects.filter(run=run, organization=organization)
        .select_related("offer", "response")
        .order_by("rank")
    )
    since = now - timedelta(days=int(setting("OFFERS_DECLINE_SUPPRESS_DAYS")))
    declined = set(
        OfferResponse.objects.filter(
            organization=organization, decision=OfferResponse.Decision.DECLINED, at__gte=since
        ).values_list("offer_id", flat=True)
    )
    if not organization.personalization_consent:
        # Consent withdrawn since the offers were computed: their usage-based reasons are not shown anymore.
        recs = [rec for rec in recs if not rec.personalized]
    fmt = Formatter(organization)
    views = [view_of(rec, fmt) for rec in recs if rec.offer_id not in declined]
    return views[: int(setting("OFFERS_MAX_SHOWN"))]


def view_of(rec: OfferRecommendation, fmt: Formatter | None = None) -> OfferView:
    """An OfferView of a recommendation loaded with ``offer`` and ``response``."""
    fmt = fmt or Formatter(rec.organization)
    response = getattr(rec, "response", None)
    return OfferView(
        id=rec.pk,
        code=rec.offer.code,
        kind=rec.offer.kind,
        title=rec.title,
        copy=rec.offer.customer_copy,
        reason=rec.reason,
        personalized=rec.personalized,
        retention=rec.retention,
        currency=rec.currency,
        saving_monthly=rec.saving_monthly,
        saving_total=rec.saving_total,
        saving_monthly_display=fmt.money(rec.saving_monthly) if rec.saving_monthly is not None else "",
        months=rec.months,
        status=response.decision if response else "open",
        statement_id=rec.statement_id,
        recommendation=rec,
    )


def statement_pdf_offers(*, statement: Statement) -> list[dict]:
    """The offers frozen with a statement, for its PDF (nothing read here can change after freezing)."""
    run = OfferRun.objects.filter(statement=statement).first()
    if run is None:
        return []
    return [
        {"id": rec.pk, "title": rec.title, "explanation": rec.reason}
        for rec in OfferRecommendation.objects.filter(run=run).order_by("rank")
    ]


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
