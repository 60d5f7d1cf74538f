"""An organization's candidate offers, before the decision policy: generic ones checked against account
facts, and personalized ones priced by re-rating its billed periods under each offer's plan.

Usage is read only in ``personalized_candidates``, which its caller (``billing.offers.services``) reaches
only with consent and outside the holdout.
"""

from __future__ import annotations

from django.utils import translation

from billing.formatting import Formatter
from billing.models import Dispute, Offer, OfferRecommendation
from billing.offers import engine
from billing.offers.profile import RISK_HIGH, profile_build, retention_risk
from billing.rating.pipeline import period_usage_load, period_usage_rate, plan_terms


def generic_candidates(organization, account, offers, statement, now, excluded) -> list[OfferRecommendation]:
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


def personalized_candidates(organization, run, periods, billed_facts, lines, account, offers, statement, now, excluded):
    # Only here, with consent, is usage read. Labels are not needed: any language will do.
    loaded = [period_usage_load(organization=organization, period=p) for p in periods]
    current = [period_usage_rate(period) for period in loaded]
    profile = profile_build(currency=organization.currency, periods=loaded, rated=current, lines=lines)
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
    risk = retention_risk(profile, disputes)
    run.profile["retention_risk"] = risk.as_json()
    if risk.score >= RISK_HIGH and not signal:
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
            saving_monthly=profile.per_month_money(pricing.saving_total, organization.currency),
            tax_rate=billed_facts[-1].tax_rate,
            saving_total_incl_tax=incl_tax,
            saving_monthly_incl_tax=profile.per_month_money(incl_tax, organization.currency),
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
