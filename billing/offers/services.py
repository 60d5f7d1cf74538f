"""Offer writes: compute an organization's offers and freeze them for a statement (answers to them:
``billing.offers.responses``). Each service is keyword-only and runs in one transaction. What may be offered
comes from ``billing.offers.candidates``; what is shown of it, from the policy in ``billing.offers.policy``.

The consent gate is here, before anything reads usage: without ``personalization_consent`` (or in the
holdout) no period is loaded and no profile is built; only generic offers, checked against account facts
(currency, country, plans, number of lines), are recommended.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from billing.models import (
    Line,
    LinePlan,
    Offer,
    OfferDecision,
    OfferOutcome,
    OfferRecommendation,
    OfferRun,
    Organization,
    Statement,
)
from billing.offers import engine, learning
from billing.offers.candidates import generic_candidates, personalized_candidates
from billing.offers.policy import in_holdout, offers_decide, resting_offers, setting
from billing.periods import BillingPeriod, last_closed_period, period_containing


def _periods_ending(organization: Organization, last: BillingPeriod, months: int) -> list[BillingPeriod]:
    periods = [last]
    while len(periods) < months:
        periods.insert(0, period_containing(organization, periods[0].start - timedelta(days=1)))
    return periods


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
    resting = resting_offers(organization, now, organization.tz)
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
        picks, metrics = personalized_candidates(
            organization, run, billed, billed_facts, lines, account, offers, statement, now, excluded
        )
    else:
        picks = generic_candidates(organization, account, offers, statement, now, excluded)
    run.save()
    segment = learning.segment_of(metrics, account.lines_active)
    picks = offers_decide(organization, run, picks, segment, now, excluded)
    for rank, rec in enumerate(picks, 1):
        rec.run, rec.rank = run, rank
    OfferRecommendation.objects.bulk_create(picks)
    return run


def statement_offers_freeze(*, statement: Statement) -> OfferRun:
    """The offers of a statement, computed once and then never again: its PDF shows exactly these."""
    return offers_compute(organization=statement.organization, statement=statement, trigger=OfferRun.Trigger.STATEMENT)
