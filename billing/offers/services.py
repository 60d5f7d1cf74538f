# Over 400 lines: computing offers is one consent-gated path (billed periods, generic and personalized candidates, the contact policy and the learned ranking) in one transaction; next split: the decision policy into its own module.
"""Offer writes: compute an organization's offers and freeze them for a statement (answers to them:
``billing.offers.responses``). Each service is keyword-only and runs in one transaction.

The consent gate is here, before anything reads usage: without ``personalization_consent`` (or in the
holdout) no period is loaded and no profile is built; only generic offers, checked against account facts
(currency, country, plans, number of lines), are recommended.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone, translation

from billing.formatting import Formatter
from billing.models import (
    Dispute,
    Line,
    LinePlan,
    Offer,
    OfferAcceptance,
    OfferCampaign,
    OfferDecision,
    OfferOutcome,
    OfferRecommendation,
    OfferResponse,
    OfferRun,
    Organization,
    Statement,
)
from billing.offers import engine, learning
from billing.periods import BillingPeriod, last_closed_period, period_containing
from billing.rating.pipeline import period_usage_load, period_usage_rate, plan_terms


class OfferError(Exception):
    """A refused answer; ``code`` is stable (the API's error codes)."""

    NOT_FOUND = "NOT_FOUND"
    ALREADY_ANSWERED = "ALREADY_ANSWERED"
    OFFER_EXPIRED = "OFFER_EXPIRED"
    BAD_DECISION = "BAD_DECISION"
    REASON_TOO_LONG = "REASON_TOO_LONG"
    ALREADY_REQUESTED = "ALREADY_REQUESTED"

    def __init__(self, message: str, code: str, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.field = field


def setting(name: str):
    defaults = {
        "OFFERS_PROFILE_MONTHS": 3,
        "OFFERS_MAX_SHOWN": 3,
        "OFFERS_DECLINE_SUPPRESS_DAYS": 90,
        "OFFERS_HOLDOUT_SHARE": 0.10,
        "OFFERS_HOLDOUT_SALT": "offers-holdout-2026",
        # Learning (README "Learning"): what an acceptance is worth, and the share of decisions that explore.
        "OFFERS_VALUE": "saving",  # "saving": the customer's monthly saving; "margin": Offer.margin_monthly
        "OFFERS_EXPLORATION": 0.10,
        # Contact policy (README "Contact policy"): at most OFFERS_CONTACT_CAP different offers shown to an
        # organization within any OFFERS_CONTACT_WINDOW_DAYS ("one campaign per customer per quarter");
        # None switches the cap off. An offer shown OFFERS_IGNORE_IMPRESSIONS times without an answer is
        # "ignored" and rests for OFFERS_IGNORE_REST_DAYS.
        "OFFERS_CONTACT_CAP": 1,
        "OFFERS_CONTACT_WINDOW_DAYS": 91,
        "OFFERS_IGNORE_IMPRESSIONS": 3,
        "OFFERS_IGNORE_REST_DAYS": 180,
    }
    return getattr(settings, name, defaults[name])


def in_holdout(organization: Organization) -> bool:
    """Deterministic: the same organization is always in (or out of) the holdout for a given salt."""
    digest = hashlib.sha256(f"{setting('OFFERS_HOLDOUT_SALT')}:{organization.pk}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
    return bucket < float(setting("OFFERS_HOLDOUT_SHARE"))


def _periods_ending(organization: Organization, last: BillingPeriod, months: int) -> list[BillingPeriod]:
    periods = [last]
    while len(periods) < months:
        periods.insert(0, period_containing(organization, periods[0].start - timedelta(days=1)))
    return periods


def _resting_offers(organization: Organization, now: datetime, tz) -> dict[int, str]:
    """Offers this organization may not be shown now, with why: declined recently, accepted (staff are on
    it), ignored recently, or new offers beyond the contact cap (those are added by the caller)."""
    why: dict[int, str] = {}
    since = now - timedelta(days=int(setting("OFFERS_DECLINE_SUPPRESS_DAYS")))
    for offer_id, decision, at in (
        OfferResponse.objects.filter(organization=organization)
        .filter(
            Q(decision=OfferResponse.Decision.DECLINED, at__gte=since) | Q(decision=OfferResponse.Decision.ACCEPTED)
        )
        .values_list("offer_id", "decision", "at")
    ):
        day = at.astimezone(tz).date().isoformat()
        if decision == OfferResponse.Decision.ACCEPTED:
            why[offer_id] = f"accepted on {day} (a change request for staff)"
        else:
            why.setdefault(offer_id, f"declined on {day}: rests {setting('OFFERS_DECLINE_SUPPRESS_DAYS')} days")
    ignored_since = now - timedelta(days=int(setting("OFFERS_IGNORE_REST_DAYS")))
    for offer_id, at in OfferOutcome.objects.filter(
        organization=organization, kind=OfferOutcome.Kind.IGNORED, at__gte=ignored_since
    ).values_list("offer_id", "at"):
        why.setdefault(
            offer_id,
            f"ignored ({setting('OFFERS_IGNORE_IMPRESSIONS')} impressions without an answer) on "
            f"{at.astimezone(tz).date().isoformat()}: rests {setting('OFFERS_IGNORE_REST_DAYS')} days",
        )
    return why


def contact_window(organization: Organization, now: datetime) -> tuple[set[int], int | None]:
    """The offers first shown to the organization within the sliding window, and how many new offers may
    still be shown (None: no cap)."""
    cap = setting("OFFERS_CONTACT_CAP")
    since = now - timedelta(days=int(setting("OFFERS_CONTACT_WINDOW_DAYS")))
    shown = set(
        OfferOutcome.objects.filter(
            organization=organization, kind=OfferOutcome.Kind.SHOWN, at__gte=since, at__lte=now
        ).values_list("offer_id", flat=True)
    )
    return shown, None if cap is None else max(int(cap) - len(shown), 0)


def _billed(organization: Organization, periods: list[BillingPeriod]):
    """The periods among ``periods`` that an issued statement billed, with those statements' totals.
    A period before the organization's first statement was never billed: no saving is claimed on it."""
    statements = {
        s.period_start: s
        for s in Statement.objects.filter(
            organization=organization,
            status__in=(Statement.Status.ISSUED, Statement.Status.PAID),
            period_start__in=[p.start for p in periods],
        )
    }
    billed = [p for p in periods if p.start in statements]
    facts = [
        engine.BilledStatement(
            subtotal=statements[p.start].subtotal,
            tax_rate=statements[p.start].tax_rate,
            tax_amount=statements[p.start].tax_amount,
        )
        for p in billed
    ]
    return billed, facts


def _valid_offers(organization: Organization, day: date):
    return (
        Offer.objects.filter(active=True, valid_from__lte=day, plan__currency=organization.currency)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=day))
        .select_related("plan")
        .prefetch_related("plan__rates", "plan__allowances")
        .order_by("priority", "code")
    )


def offers_compute(
    *,
    organization: Organization,
    statement: Statement | None = None,
    trigger: str = OfferRun.Trigger.STAFF,
    now: datetime | None = None,
) -> OfferRun:
    """Compute and store the organization's offers. With ``statement``: once per statement (a second
    call returns the run already frozen for it), over the periods ending with the statement's."""
    now = now or timezone.now()
    with transaction.atomic():
        if statement is not None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext('billing.offers'), %s)", [statement.pk])
            existing = OfferRun.objects.filter(statement=statement).first()
            if existing is not None:
                return existing
        return _offers_compute(organization=organization, statement=statement, trigger=trigger, now=now)


def offers_profiling_stop(*, organization: Organization) -> int:
    """The organization withdrew its consent: delete what was derived from its usage, in the caller's
    transaction (consent_set's). Profiles of its runs are emptied, its decision log (segments, scores)
    deleted, the segment on its outcomes cleared. Computations are refused by ``offers_compute``, which
    reads the consent under the organization's row lock. Returns the number of runs whose profile went.

    Kept: the recommendations themselves (a statement's frozen offers are part of that issued statement;
    the selectors no longer show personalized ones without consent) and the acceptance model's counts,
    which are totals over all organizations with no reference to this one."""
    with transaction.atomic():
        Organization.objects.select_for_update().filter(pk=organization.pk).first()
        cleared = OfferRun.objects.filter(organization=organization).exclude(profile={}).update(profile={})
        OfferDecision.objects.filter(organization=organization).delete()
        OfferOutcome.objects.filter(organization=organization).exclude(segment="").update(segment="")
    return cleared


def _offers_compute(*, organization, statement, trigger, now) -> OfferRun:
    months = int(setting("OFFERS_PROFILE_MONTHS"))
    # Consent as committed now, under the row lock consent_set takes: a withdrawal either committed before
    # (no usage is read) or waits for this computation and then deletes its profile.
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    consent = organization.personalization_consent
    holdout = in_holdout(organization)
    personalized = consent and not holdout
    last = (
        period_containing(organization, statement.period_start)
        if statement is not None
        else last_closed_period(organization, now)
    )
    periods = _periods_ending(organization, last, months)
    today = now.astimezone(organization.tz).date()
    plan_codes = frozenset(
        LinePlan.objects.filter(organization=organization, valid_from__lte=last.end)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=last.end))
        .values_list("plan__code", flat=True)
    )
    lines = list(Line.objects.filter(organization=organization).values_list("id", "activated_on", "deactivated_on"))
    account = engine.Account(
        currency=organization.currency,
        country=organization.country,
        plan_codes=plan_codes,
        lines_active=sum(1 for _id, on, off in lines if on <= last.end and (off is None or off > last.end)),
    )
    resting = _resting_offers(organization, now, organization.tz)
    excluded = {}
    offers = []
    for offer in _valid_offers(organization, today):
        if offer.pk in resting:
            excluded[offer.code] = resting[offer.pk]
        else:
            offers.append(offer)
    billed, billed_facts = _billed(organization, periods) if personalized else ([], [])
    if personalized and not billed:
        excluded["*"] = "no billed period yet: savings are claimed only on issued statements"
    run = OfferRun(
        organization=organization,
        statement=statement,
        trigger=trigger,
        computed_at=now,
        months=len(billed),
        personalized=personalized,
        consent=consent,
        holdout=holdout,
    )
    picks: list[OfferRecommendation] = []
    metrics = None
    if personalized and offers and billed:
        picks, metrics = _personalized(
            organization, run, billed, billed_facts, lines, account, offers, statement, now, excluded
        )
    else:
        picks = _generic(organization, account, offers, statement, now, excluded)
    run.save()
    segment = learning.segment_of(metrics, account.lines_active)
    picks = _decide(organization, run, picks, segment, now, excluded)
    for rank, rec in enumerate(picks, 1):
        rec.run, rec.rank = run, rank
    OfferRecommendation.objects.bulk_create(picks)
    return run


def _campaign_filter(organization, recs, segment, now, excluded) -> list[OfferRecommendation]:
    """Offers that belong to a staff campaign are shown only through an active campaign for the
    organization's segment, and at most the campaign's cap of its offers per organization."""
    if not recs:
        return recs
    today = now.astimezone(organization.tz).date()
    campaigns = list(
        OfferCampaign.objects.filter(offers__in=[r.offer_id for r in recs]).distinct().prefetch_related("offers")
    )
    if not campaigns:
        return recs
    by_offer: dict[int, list[OfferCampaign]] = defaultdict(list)
    for campaign in campaigns:
        for offer in campaign.offers.all():
            by_offer[offer.pk].append(campaign)
    used: dict[int, set[int]] = {}
    kept = []
    for rec in recs:
        mine = by_offer.get(rec.offer_id)
        if not mine:
            kept.append(rec)
            continue
        why = []
        for campaign in mine:
            if not (campaign.starts_on <= today < campaign.ends_on):
                why.append(f"campaign {campaign.name!r} runs {campaign.starts_on} – {campaign.ends_on}")
                continue
            if not campaign.matches(segment):
                why.append(f"campaign {campaign.name!r} is for segment {campaign.segment}, not {segment}")
                continue
            if campaign.pk not in used:
                used[campaign.pk] = set(
                    OfferOutcome.objects.filter(
                        organization=organization,
                        kind=OfferOutcome.Kind.SHOWN,
                        offer__in=[o.pk for o in campaign.offers.all()],
                        at__date__gte=campaign.starts_on,
                        at__date__lt=campaign.ends_on,
                    ).values_list("offer_id", flat=True)
                )
            taken = used[campaign.pk]
            if rec.offer_id not in taken and len(taken) >= campaign.cap:
                why.append(f"campaign {campaign.name!r}: its cap of {campaign.cap} offer(s) is reached")
                continue
            taken.add(rec.offer_id)
            break
        else:
            excluded[rec.offer.code] = "; ".join(why)
            continue
        kept.append(rec)
    return kept


def _value_of(rec: OfferRecommendation) -> Decimal:
    if setting("OFFERS_VALUE") == "margin":
        return rec.offer.margin_monthly or Decimal(0)
    if rec.saving_monthly is not None:
        return rec.saving_monthly
    return Decimal(1)  # a generic offer has no known saving: ranked by P(accept) alone


def _decide(organization, run, picks, segment, now, excluded) -> list[OfferRecommendation]:
    """Rank the candidates by expected value under the acceptance model, apply the contact cap and the
    number shown, and log the decision (candidates, scores, the one shown first and its propensity)."""
    value_basis = setting("OFFERS_VALUE")
    if value_basis not in ("saving", "margin"):
        raise ValueError(f"OFFERS_VALUE must be 'saving' or 'margin', not {value_basis!r}")
    exploration = min(float(setting("OFFERS_EXPLORATION")), learning.MAX_EXPLORATION)
    counts: dict[int, tuple[int, int]] = {}
    overall: dict[int, list[int]] = {}
    for offer_id, seg, accepted, not_accepted in OfferAcceptance.objects.filter(
        offer_id__in=[rec.offer_id for rec in picks]
    ).values_list("offer_id", "segment", "accepted", "not_accepted"):
        if seg == segment:
            counts[offer_id] = (accepted, not_accepted)
        total = overall.setdefault(offer_id, [0, 0])
        total[0], total[1] = total[0] + accepted, total[1] + not_accepted
    # Retention offers stay first when the retention signal is on (they exist for exactly that case).
    retention = [rec for rec in picks if rec.retention]
    others = [rec for rec in picks if not rec.retention]
    ordered: list[OfferRecommendation] = []
    candidates: list[dict] = []
    choice = None
    explored = False
    for group in (retention, others):
        if not group:
            continue
        arms = [
            learning.Arm(
                rec.offer.code,
                _value_of(rec),
                *counts.get(rec.offer_id, (0, 0)),
                prior=learning.prior_from(*overall.get(rec.offer_id, (0, 0))),
            )
            for rec in group
        ]
        # Seeded by the run: the same run decides the same way when replayed.
        rng = random.Random(f"{organization.pk}:{run.pk}:{now.isoformat()}")
        group_choice = learning.choose(arms, exploration=exploration, rng=rng)
        if choice is None:
            choice, explored = group_choice, group_choice.explored
            candidates = [
                {
                    "offer": rec.offer_id,
                    "code": arm.key,
                    "value": str(arm.value),
                    "accepted": arm.accepted,
                    "not_accepted": arm.not_accepted,
                    "prior": [round(arm.prior[0], 4), round(arm.prior[1], 4)],
                    "p_mean": round(arm.p_mean, 6),
                    "score": round(group_choice.scores[i], 6),
                    "propensity": round(group_choice.propensities[i], 6),
                }
                for i, (rec, arm) in enumerate(zip(group, arms, strict=True))
            ]
            candidates = [candidates[i] for i in group_choice.order]
        ordered += [group[i] for i in group_choice.order]
    policy_first = ordered[0] if ordered else None
    ordered = _campaign_filter(organization, ordered, segment, now, excluded)
    shown, room = contact_window(organization, now)
    kept = []
    for rec in ordered:
        if rec.offer_id not in shown and room is not None:
            if room <= 0:
                excluded[rec.offer.code] = (
                    f"contact cap: at most {setting('OFFERS_CONTACT_CAP')} different offer(s) per "
                    f"{setting('OFFERS_CONTACT_WINDOW_DAYS')} days ({len(shown)} shown in the window)"
                )
                continue
            room -= 1
        kept.append(rec)
    max_shown = int(setting("OFFERS_MAX_SHOWN"))
    for rec in kept[max_shown:]:
        excluded[rec.offer.code] = f"ranked below the {max_shown} offers shown"
    kept = kept[:max_shown]
    chosen = kept[0] if kept else None
    propensity = None
    if chosen is not None and candidates:
        propensity = next((c["propensity"] for c in candidates if c["offer"] == chosen.offer_id), None)
    OfferDecision.objects.create(
        organization=organization,
        run=run,
        segment=segment,
        policy="ev-thompson",
        value_basis=value_basis,
        exploration=Decimal(str(exploration)),
        candidates=candidates,
        excluded=excluded,
        chosen=chosen.offer if chosen else None,
        # The chosen offer's logged propensity is only a policy propensity when the caps and campaigns kept
        # the policy's first choice; otherwise they chose, and the evaluation skips it (propensity None).
        propensity=Decimal(str(propensity))
        if chosen is not None and choice is not None and chosen is policy_first
        else None,
        explored=explored,
        at=now,
    )
    return kept


def _generic(organization, account, offers, statement, now, excluded) -> list[OfferRecommendation]:
    for offer in offers:
        if not offer.generic or offer.kind == Offer.Kind.RETENTION:
            excluded.setdefault(offer.code, "not a generic offer (needs a personalized profile)")
        elif not engine.eligible(offer.eligibility, account, None, account_only=True):
            excluded.setdefault(offer.code, "the account does not meet its conditions")
    return [
        OfferRecommendation(
            organization=organization,
            offer=offer,
            statement=statement,
            title=offer.title,
            personalized=False,
            currency=organization.currency,
            reason=offer.customer_copy,
            price_monthly=offer.plan.monthly_fee,
            term_months=offer.term_months,
            created_at=now,
        )
        for offer in offers
        if offer.generic
        and offer.kind != Offer.Kind.RETENTION
        and engine.eligible(offer.eligibility, account, None, account_only=True)
    ]


def _personalized(organization, run, periods, billed_facts, lines, account, offers, statement, now, excluded):
    # Only here, with consent, is usage read. Labels are not needed: any language will do.
    loaded = [period_usage_load(organization=organization, period=p) for p in periods]
    current = [period_usage_rate(period) for period in loaded]
    profile = engine.profile_build(currency=organization.currency, periods=loaded, rated=current, lines=lines)
    names = {
        "location": dict(organization.locations.values_list("id", "name")),
        "person": dict(organization.persons.values_list("id", "name")),
    }
    run.profile = profile.as_json(names)
    metrics = profile.metrics()
    language = engine.reason_language(organization)
    with translation.override(language):
        signal, signal_reasons = profile.retention_signal()
    run.profile["retention_signal"] = signal_reasons
    disputes = Dispute.objects.filter(
        statement__organization=organization,
        statement__period_start__gte=profile.period_start,
        statement__period_start__lte=profile.period_end,
    ).count()
    risk = engine.retention_risk(profile, disputes)
    run.profile["retention_risk"] = risk.as_json()
    if risk.score >= engine.RISK_HIGH and not signal:
        # The risk score (disputes included) makes retention offers eligible too, and says why.
        signal, signal_reasons = True, [why for _points, why in risk.reasons]
    fmt = Formatter(organization)
    scored = []
    for offer in offers:
        if offer.kind == Offer.Kind.RETENTION and not signal:
            excluded[offer.code] = "retention offer: no retention signal"
            continue
        if not engine.eligible(offer.eligibility, account, metrics):
            excluded[offer.code] = "the usage does not meet its conditions"
            continue
        terms = plan_terms(offer.plan)
        overlay = engine.overlay_bundle(terms) if offer.overlay else engine.overlay_replace(terms)
        pricing = engine.price_candidate(
            currency=organization.currency,
            periods=loaded,
            current=current,
            overlay=overlay,
            replaces_plan=not offer.overlay,
        )
        # Never present an offer that would cost more (or the same) as a saving: it is not recommended.
        if pricing is None or pricing.saving_total <= 0:
            excluded[offer.code] = (
                "some usage would have no price under it" if pricing is None else "would not save anything"
            )
            continue
        incl_tax = engine.saving_incl_tax(
            currency=organization.currency, statements=billed_facts, savings=pricing.saving_by_period
        )
        retention = offer.kind == Offer.Kind.RETENTION
        with translation.override(language):
            reason = engine.reason_words(
                title=offer.title,
                profile=profile,
                pricing=pricing,
                fmt=fmt,
                organization=organization,
                retention=signal_reasons if retention else None,
                saving_incl_tax=incl_tax,
                price=offer.plan.monthly_fee,
                term_months=offer.term_months,
            )
        rec = OfferRecommendation(
            organization=organization,
            offer=offer,
            statement=statement,
            title=offer.title,
            personalized=True,
            retention=retention,
            currency=organization.currency,
            months=profile.months,
            period_start=profile.period_start,
            period_end=profile.period_end,
            cost_current=pricing.cost_current,
            cost_with_offer=pricing.cost_with_offer,
            saving_total=pricing.saving_total,
            saving_monthly=profile.per_month(pricing.saving_total),
            tax_rate=billed_facts[-1].tax_rate,
            saving_total_incl_tax=incl_tax,
            saving_monthly_incl_tax=profile.per_month(incl_tax),
            price_monthly=offer.plan.monthly_fee,
            term_months=offer.term_months,
            changes=[
                {"what": list(key), "before": str(before), "after": str(after)}
                for key, (before, after) in pricing.changed_amounts.items()
            ],
            reason=reason,
            created_at=now,
        )
        # Retention offers come first when the signal is on (they exist for exactly that case);
        # then the larger saving for the customer; ties by the catalog's order.
        scored.append(((0 if retention else 1, -pricing.saving_total, offer.priority, offer.code), rec))
    scored.sort(key=lambda item: item[0])
    return [rec for _key, rec in scored], metrics


def statement_offers_freeze(*, statement: Statement) -> OfferRun:
    """The offers of a statement, computed once and then never again: its PDF shows exactly these."""
    return offers_compute(organization=statement.organization, statement=statement, trigger=OfferRun.Trigger.STATEMENT)
