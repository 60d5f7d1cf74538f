"""Offer writes: compute an organization's offers, freeze them for a statement, record impressions and
answers. Each service is keyword-only and runs in one transaction.

The consent gate is here, before anything reads usage: without ``personalization_consent`` (or in the
holdout) no period is loaded and no profile is built; only generic offers, checked against account facts
(currency, country, plans, number of lines), are recommended.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from billing.audit import Actor, AuditAction, actor_of, audit_write
from billing.formatting import Formatter
from billing.models import (
    Line,
    LinePlan,
    Offer,
    OfferChangeRequest,
    OfferImpression,
    OfferRecommendation,
    OfferResponse,
    OfferRun,
    Organization,
    Statement,
)
from billing.offers import engine
from billing.periods import BillingPeriod, last_closed_period, period_containing
from billing.rating.pipeline import period_usage_load, period_usage_rate, plan_terms


class OfferError(Exception):
    """A refused answer; ``code`` is stable (the API's error codes)."""

    NOT_FOUND = "NOT_FOUND"
    ALREADY_ANSWERED = "ALREADY_ANSWERED"
    OFFER_EXPIRED = "OFFER_EXPIRED"
    BAD_DECISION = "BAD_DECISION"
    REASON_TOO_LONG = "REASON_TOO_LONG"

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


def _suppressed_offer_ids(organization: Organization, now: datetime) -> set[int]:
    """Offers this organization declined recently, or accepted (staff are on it)."""
    since = now - timedelta(days=int(setting("OFFERS_DECLINE_SUPPRESS_DAYS")))
    return set(
        OfferResponse.objects.filter(organization=organization)
        .filter(
            Q(decision=OfferResponse.Decision.DECLINED, at__gte=since) | Q(decision=OfferResponse.Decision.ACCEPTED)
        )
        .values_list("offer_id", flat=True)
    )


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


def _offers_compute(*, organization, statement, trigger, now) -> OfferRun:
    months = int(setting("OFFERS_PROFILE_MONTHS"))
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
    suppressed = _suppressed_offer_ids(organization, now)
    offers = [o for o in _valid_offers(organization, today) if o.pk not in suppressed]
    run = OfferRun(
        organization=organization,
        statement=statement,
        trigger=trigger,
        computed_at=now,
        months=len(periods) if personalized else 0,
        personalized=personalized,
        consent=consent,
        holdout=holdout,
    )
    picks: list[OfferRecommendation] = []
    if personalized and offers:
        picks = _personalized(organization, run, periods, lines, account, offers, statement, now)
    else:
        picks = _generic(organization, account, offers, statement, now)
    run.save()
    for rank, rec in enumerate(picks[: int(setting("OFFERS_MAX_SHOWN"))], 1):
        rec.run, rec.rank = run, rank
    OfferRecommendation.objects.bulk_create(picks[: int(setting("OFFERS_MAX_SHOWN"))])
    return run


def _generic(organization, account, offers, statement, now) -> list[OfferRecommendation]:
    return [
        OfferRecommendation(
            organization=organization,
            offer=offer,
            statement=statement,
            title=offer.title,
            personalized=False,
            currency=organization.currency,
            reason=offer.customer_copy,
            created_at=now,
        )
        for offer in offers
        if offer.generic
        and offer.kind != Offer.Kind.RETENTION
        and engine.eligible(offer.eligibility, account, None, account_only=True)
    ]


def _personalized(organization, run, periods, lines, account, offers, statement, now) -> list[OfferRecommendation]:
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
    signal, signal_reasons = profile.retention_signal()
    run.profile["retention_signal"] = signal_reasons
    fmt = Formatter(organization)
    scored = []
    for offer in offers:
        if offer.kind == Offer.Kind.RETENTION and not signal:
            continue
        if not engine.eligible(offer.eligibility, account, metrics):
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
            continue
        retention = offer.kind == Offer.Kind.RETENTION
        reason = engine.reason_words(
            title=offer.title,
            profile=profile,
            pricing=pricing,
            fmt=fmt,
            organization=organization,
            retention=signal_reasons if retention else None,
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
            reason=reason,
            created_at=now,
        )
        # Retention offers come first when the signal is on (they exist for exactly that case);
        # then the larger saving for the customer; ties by the catalog's order.
        scored.append(((0 if retention else 1, -pricing.saving_total, offer.priority, offer.code), rec))
    scored.sort(key=lambda item: item[0])
    return [rec for _key, rec in scored]


def statement_offers_freeze(*, statement: Statement) -> OfferRun:
    """The offers of a statement, computed once and then never again: its PDF shows exactly these."""
    return offers_compute(organization=statement.organization, statement=statement, trigger=OfferRun.Trigger.STATEMENT)


def offer_impressions_record(
    *,
    organization: Organization,
    recommendation_ids,
    channel: str,
    user=None,
    now: datetime | None = None,
) -> int:
    """Record that these recommendations were shown (ids of other organizations are ignored)."""
    if channel not in OfferImpression.Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    now = now or timezone.now()
    with transaction.atomic():
        recs = list(
            OfferRecommendation.objects.filter(organization=organization, pk__in=list(recommendation_ids)).values_list(
                "id", "offer_id"
            )
        )
        OfferImpression.objects.bulk_create(
            OfferImpression(
                organization=organization, recommendation_id=rid, offer_id=oid, channel=channel, user=user, at=now
            )
            for rid, oid in recs
        )
    return len(recs)


def offer_respond(
    *,
    organization: Organization,
    recommendation_id: int,
    decision: str,
    user=None,
    reason: str = "",
    channel: str = OfferImpression.Channel.WEB,
    now: datetime | None = None,
    actor: Actor | None = None,
) -> OfferResponse:
    """Accept or decline a recommended offer. Accepting opens a change request for staff; it never
    changes billing by itself. A declined offer is not recommended again for OFFERS_DECLINE_SUPPRESS_DAYS."""
    actor = actor_of(actor, user)
    user = actor.user
    now = now or timezone.now()
    if decision not in OfferResponse.Decision.values:
        raise OfferError("decision must be accepted or declined", OfferError.BAD_DECISION, "decision")
    reason = (reason or "").strip()
    if len(reason) > 500:
        raise OfferError("the reason is longer than 500 characters", OfferError.REASON_TOO_LONG, "reason")
    with transaction.atomic():
        rec = (
            OfferRecommendation.objects.select_for_update()
            .select_related("offer")
            .filter(organization=organization, pk=recommendation_id)
            .first()
        )
        if rec is None:  # another organization's offer answers exactly like one that does not exist
            raise OfferError("no such offer", OfferError.NOT_FOUND, "offerId")
        if OfferResponse.objects.filter(recommendation=rec).exists():
            raise OfferError("this offer has been answered already", OfferError.ALREADY_ANSWERED, "offerId")
        offer = rec.offer
        today = now.astimezone(organization.tz).date()
        if decision == OfferResponse.Decision.ACCEPTED and (
            not offer.active or offer.valid_from > today or (offer.valid_to and offer.valid_to <= today)
        ):
            raise OfferError("this offer is no longer available", OfferError.OFFER_EXPIRED, "offerId")
        response = OfferResponse.objects.create(
            organization=organization,
            recommendation=rec,
            offer=offer,
            decision=decision,
            reason=reason,
            user=user,
            channel=channel,
            at=now,
        )
        if decision == OfferResponse.Decision.ACCEPTED:
            OfferChangeRequest.objects.create(
                organization=organization, response=response, offer=offer, requested_by=user, created_at=now
            )
        audit_write(
            organization=organization,
            action=AuditAction.OFFER_ACCEPTED
            if decision == OfferResponse.Decision.ACCEPTED
            else AuditAction.OFFER_DECLINED,
            actor=actor,
            target=offer.code,
            details={"recommendation": rec.pk, "channel": channel},
        )
    return response


def offer_change_request_close(
    *, change_request: OfferChangeRequest, status: str, staff_user, note: str = ""
) -> OfferChangeRequest:
    """Staff carried out (or refused) an accepted offer; the plan change itself is done by staff."""
    if status not in (OfferChangeRequest.Status.DONE, OfferChangeRequest.Status.REJECTED):
        raise ValueError("status must be done or rejected")
    with transaction.atomic():
        OfferChangeRequest.objects.filter(pk=change_request.pk).update(
            status=status, staff_note=note, handled_by=staff_user, handled_at=timezone.now()
        )
    change_request.refresh_from_db()
    return change_request
