"""Offer answers: impressions, accept/decline with the change request staff carry out, and what each
outcome teaches the acceptance model (``billing.offers.learning``). Each service is keyword-only, runs in
one transaction and writes its audit row; ``billing.offers.services`` computes the offers answered here.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from billing.audit import Actor, AuditAction, actor_of, audit_write
from billing.models import (
    OfferAcceptance,
    OfferChangeRequest,
    OfferImpression,
    OfferOutcome,
    OfferRecommendation,
    OfferResponse,
    Organization,
)
from billing.offers.policy import setting


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
        Organization.objects.select_for_update().filter(pk=organization.pk).first()
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
        _outcomes_after_impressions(organization, [rid for rid, _oid in recs], now)
    return len(recs)


def _segment_of_runs(recommendation_ids) -> dict[int, str]:
    return dict(
        OfferRecommendation.objects.filter(pk__in=list(recommendation_ids)).values_list("id", "run__decision__segment")
    )


def _learn(offer_id: int, segment: str | None, *, accepted: int = 0, not_accepted: int = 0, now: datetime) -> None:
    """Update the acceptance model of (offer, segment) by the given counts (in the caller's transaction)."""
    if segment is None:  # a run from before the decision log: nothing to learn into
        return
    row, _ = OfferAcceptance.objects.select_for_update().get_or_create(
        offer_id=offer_id, segment=segment, defaults={"updated_at": now}
    )
    row.accepted = max(row.accepted + accepted, 0)
    row.not_accepted = max(row.not_accepted + not_accepted, 0)
    row.updated_at = now
    row.save(update_fields=["accepted", "not_accepted", "updated_at"])


def _outcomes_after_impressions(organization: Organization, recommendation_ids: list[int], now: datetime) -> None:
    """First impression: "shown". The OFFERS_IGNORE_IMPRESSIONS-th without an answer: "ignored", which
    counts as not accepted and makes the offer rest."""
    if not recommendation_ids:
        return
    segments = _segment_of_runs(recommendation_ids)
    offers = dict(OfferRecommendation.objects.filter(pk__in=recommendation_ids).values_list("id", "offer_id"))
    OfferOutcome.objects.bulk_create(
        [
            OfferOutcome(
                organization=organization,
                recommendation_id=rid,
                offer_id=offers[rid],
                segment=segments.get(rid) or "",
                kind=OfferOutcome.Kind.SHOWN,
                at=now,
            )
            for rid in recommendation_ids
        ],
        ignore_conflicts=True,
    )
    threshold = int(setting("OFFERS_IGNORE_IMPRESSIONS"))
    # The organization's row lock (taken by the caller) makes "not yet ignored" hold until we commit, so
    # each recommendation is counted as ignored once; the queries do not grow with the number shown.
    ignored = list(
        OfferRecommendation.objects.filter(pk__in=recommendation_ids, response__isnull=True)
        .exclude(outcomes__kind=OfferOutcome.Kind.IGNORED)
        .annotate(n=Count("impressions"))
        .filter(n__gte=threshold)
        .values_list("id", "offer_id")
    )
    if not ignored:
        return
    OfferOutcome.objects.bulk_create(
        OfferOutcome(
            organization=organization,
            recommendation_id=rid,
            offer_id=offer_id,
            segment=segments.get(rid) or "",
            kind=OfferOutcome.Kind.IGNORED,
            at=now,
        )
        for rid, offer_id in ignored
    )
    per_arm: dict[tuple[int, str], int] = defaultdict(int)
    for rid, offer_id in ignored:
        if segments.get(rid):
            per_arm[(offer_id, segments[rid])] += 1
    if per_arm:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO billing_offeracceptance (offer_id, segment, accepted, not_accepted, updated_at) "
                "SELECT o, s, 0, n, %s FROM unnest(%s::bigint[], %s::text[], %s::int[]) AS t(o, s, n) "
                "ON CONFLICT (offer_id, segment) DO UPDATE SET "
                "not_accepted = billing_offeracceptance.not_accepted + EXCLUDED.not_accepted, "
                "updated_at = EXCLUDED.updated_at",
                [now, [k[0] for k in per_arm], [k[1] for k in per_arm], list(per_arm.values())],
            )


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
        # One open request per offer and organization: the same offer frozen on two statements must not
        # give staff two requests (the database refuses a second one too: offer_change_request_one_open).
        Organization.objects.select_for_update().filter(pk=organization.pk).first()
        if (
            decision == OfferResponse.Decision.ACCEPTED
            and OfferChangeRequest.objects.filter(
                organization=organization, offer=offer, status=OfferChangeRequest.Status.OPEN
            ).exists()
        ):
            raise OfferError(
                "this offer has been requested already: our staff are on it", OfferError.ALREADY_REQUESTED, "offerId"
            )
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
        segment = _segment_of_runs([rec.pk]).get(rec.pk)
        OfferOutcome.objects.create(
            organization=organization,
            recommendation=rec,
            offer=offer,
            segment=segment or "",
            kind=OfferOutcome.Kind.ACCEPTED
            if decision == OfferResponse.Decision.ACCEPTED
            else OfferOutcome.Kind.DECLINED,
            at=now,
        )
        was_ignored = OfferOutcome.objects.filter(recommendation=rec, kind=OfferOutcome.Kind.IGNORED).exists()
        if decision == OfferResponse.Decision.ACCEPTED:
            # An offer counted as ignored and then accepted after all: the answer replaces the guess.
            _learn(offer.pk, segment, accepted=1, not_accepted=-1 if was_ignored else 0, now=now)
        elif not was_ignored:
            _learn(offer.pk, segment, not_accepted=1, now=now)
        audit_write(
            organization=organization,
            action=AuditAction.OFFER_ACCEPTED
            if decision == OfferResponse.Decision.ACCEPTED
            else AuditAction.OFFER_DECLINED,
            actor=actor,
            target=offer.code,
            details={"recommendation": rec.pk, "channel": channel, "offer": offer.title, "reason": reason},
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
