"""The offers' decision policy: which of an organization's candidate offers it is shown now, in which order.

Offers rest after an answer (declined, accepted, ignored); staff campaigns gate their offers by segment,
period and cap; the contact policy caps how many different offers reach an organization per window; the
rest are ranked by expected value under the learned acceptance model (``billing.offers.learning``), and the
decision is logged with its propensities for offline evaluation. The settings of all this are read here.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Q

from billing.models import (
    OfferAcceptance,
    OfferCampaign,
    OfferDecision,
    OfferOutcome,
    OfferRecommendation,
    OfferResponse,
    Organization,
)
from billing.offers import learning


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


def resting_offers(organization: Organization, now: datetime, tz) -> dict[int, str]:
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


def campaign_filter(organization, recs, segment, now, excluded) -> list[OfferRecommendation]:
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


def offers_decide(organization, run, picks, segment, now, excluded) -> list[OfferRecommendation]:
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
    ordered = campaign_filter(organization, ordered, segment, now, excluded)
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
