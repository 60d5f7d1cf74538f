"""Offer reads: the offers a caller may see (pages, API) and the offers frozen on a statement's PDF.

Staff reads across organizations are elsewhere: the report, the decision log, campaigns and the retention
backtest in ``billing.offers.reports``, the holdout uplift statistics in ``billing.offers.uplift``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.formatting import Formatter
from billing.models import (
    OfferChangeRequest,
    OfferOutcome,
    OfferRecommendation,
    OfferResponse,
    OfferRun,
    Statement,
)
from billing.offers.engine import period_words
from billing.offers.policy import setting
from billing.usage.scope import Scope

# Offers and their explanations are billing information: administrators and analysts of the organization
# with an unrestricted scope (a location manager or member never sees them).
ZONE_LABELS = {
    "EU": gettext_lazy("Europe"),
    "NA": gettext_lazy("North America"),
    "APAC": gettext_lazy("Asia-Pacific"),
    "ROW": gettext_lazy("the rest of the world"),
}
CATEGORY_LABELS = {
    "local": gettext_lazy("Local calls"),
    "national": gettext_lazy("National calls"),
    "mobile": gettext_lazy("Calls to mobiles"),
    "toll_free": gettext_lazy("Toll-free calls"),
    "premium": gettext_lazy("Premium-rate calls"),
    "internal": gettext_lazy("Internal calls"),
}


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
    # The claim in full: over which billed months, before and after tax, the offer's price and term, and
    # which usage lines change (each before -> after, over the same months).
    period_display: str = ""
    saving_total_display: str = ""
    saving_total_incl_tax_display: str = ""
    saving_monthly_incl_tax_display: str = ""
    tax_percent: str = ""
    price_display: str = ""
    term_months: int = 0
    changes: tuple = ()


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
    # Offers shown OFFERS_IGNORE_IMPRESSIONS times without an answer rest; an offer whose request staff
    # have open shows as requested, whichever statement it was requested from.
    ignored = set(
        OfferOutcome.objects.filter(
            recommendation__in=[r.pk for r in recs], kind=OfferOutcome.Kind.IGNORED
        ).values_list("recommendation_id", flat=True)
    )
    recs = [rec for rec in recs if rec.pk not in ignored or getattr(rec, "response", None) is not None]
    requested = set(
        OfferChangeRequest.objects.filter(organization=organization, status=OfferChangeRequest.Status.OPEN).values_list(
            "offer_id", flat=True
        )
    )
    if not organization.personalization_consent:
        # Consent withdrawn since the offers were computed: their usage-based reasons are not shown anymore.
        recs = [rec for rec in recs if not rec.personalized]
    fmt = Formatter(organization)
    views = [view_of(rec, fmt, requested=requested) for rec in recs if rec.offer_id not in declined]
    return views[: int(setting("OFFERS_MAX_SHOWN"))]


def _change_words_now(what) -> str:
    usage_type, category, zone = what
    if usage_type != "voice":
        return {"sms": _("Text messages"), "data": _("Data")}.get(usage_type, usage_type)
    if category == "international" and zone:
        return _("Calls to %(zone)s") % {"zone": ZONE_LABELS.get(zone, zone)}
    return str(CATEGORY_LABELS.get(category, category or _("Other calls")))


# Translated when the page renders (in the reader's language), not when the view is built.
_change_words = lazy(_change_words_now, str)


def view_of(rec: OfferRecommendation, fmt: Formatter | None = None, requested: set[int] = frozenset()) -> OfferView:
    """An OfferView of a recommendation loaded with ``offer`` and ``response``."""
    fmt = fmt or Formatter(rec.organization)
    response = getattr(rec, "response", None)
    status = response.decision if response else "accepted" if rec.offer_id in requested else "open"

    def m(value) -> str:
        return fmt.money(value) if value is not None else ""

    period = ""
    if rec.period_start and rec.period_end:
        period = period_words(rec.period_start, rec.period_end, fmt.locale, rec.organization.billing_day)
    return OfferView(
        period_display=period,
        saving_total_display=m(rec.saving_total),
        saving_total_incl_tax_display=m(rec.saving_total_incl_tax),
        saving_monthly_incl_tax_display=m(rec.saving_monthly_incl_tax),
        tax_percent=fmt.number(rec.tax_rate * 100, 0) if rec.tax_rate else "",
        price_display=m(rec.price_monthly),
        term_months=rec.term_months,
        changes=tuple(
            {"what": _change_words(c["what"]), "before": m(Decimal(c["before"])), "after": m(Decimal(c["after"]))}
            for c in rec.changes
        ),
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
        status=status,
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
