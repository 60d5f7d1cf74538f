# Over 400 lines: the staff report (acceptance, holdout uplift with confidence intervals, retention) reads one event history; next split: uplift statistics into their own module.
"""Offer reads: the offers a caller may see, and the staff report computed from the recorded events."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.formatting import Formatter
from billing.models import (
    Offer,
    OfferChangeRequest,
    OfferDecision,
    OfferImpression,
    OfferOutcome,
    OfferRecommendation,
    OfferResponse,
    OfferRun,
    Statement,
)
from billing.offers.engine import RISK_HIGH, Profile, period_words, retention_risk
from billing.offers.learning import LoggedDecision
from billing.offers.services import setting
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


# --- Uplift: personalized against holdout organizations -------------------------------------------------

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
    from billing.models import Line, UsageMonthly

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
    from billing.models import Dispute, Line, Organization, UsageMonthly
    from billing.periods import add_months

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
