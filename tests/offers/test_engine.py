"""The engine: profile, savings equal to re-issued statements to the cent, never a saving that costs more,
consent, holdout, retention."""

from datetime import date
from decimal import ROUND_HALF_UP
from decimal import Decimal as D

import pytest
from django.db.models import Sum

from billing.models import Offer, OfferRecommendation, OfferRun, UsageRecord
from billing.offers import candidates, engine
from billing.offers.policy import in_holdout
from billing.offers.profile import profile_build
from billing.offers.services import offers_compute
from billing.periods import billing_period
from billing.rating.pipeline import period_usage_load, period_usage_rate, plan_terms
from tests.offers.conftest import ISSUED_AT, charges, consultancy, issue_periods, reissued_with


@pytest.fixture
def meridian(make, catalog):
    return consultancy(make, catalog)


def test_europe_pack_saving_equals_the_statements_reissued_with_the_pack(meridian, catalog):
    statements = issue_periods(meridian)
    run = offers_compute(organization=meridian, statement=statements[-1], now=ISSUED_AT)
    assert run.personalized and run.months == 3
    recs = list(run.recommendations.select_related("offer").order_by("rank"))
    assert recs, "the consultancy gets offers"
    europe = next(r for r in recs if r.offer.code == "europe-pack-eur")
    assert recs[0] == europe, "the pack that saves the most comes first"
    reissued = reissued_with(meridian, europe.offer, statements)
    assert europe.saving_total == charges(statements) - reissued
    assert europe.saving_total > D("100")
    assert europe.cost_current - europe.cost_with_offer == europe.saving_total
    assert europe.saving_monthly == (europe.saving_total / 3).quantize(D("0.01"), ROUND_HALF_UP)
    # Every other recommended offer holds to the same rule (plan changes included).
    for rec in recs[1:]:
        assert rec.saving_total == charges(statements) - reissued_with(meridian, rec.offer, statements)
    # Plain words in the organization's language, its currency and locale (nl-NL: € 1.234,56).
    eu_minutes = UsageRecord.objects.filter(
        organization=meridian, zone="EU", direction="outbound", answered=True, usage_type="voice"
    ).aggregate(s=Sum("billable_seconds"))["s"] / D(60)
    assert europe.reason.startswith(
        f"Op basis van {engine.Formatter(meridian).number(eu_minutes)} minuten gesprekken naar Europa"
    )
    assert "(vooral naar Duitsland) in 5 aug\u2009–\u20094 nov 2026 had" in europe.reason
    assert engine.Formatter(meridian).money(europe.saving_total) in europe.reason
    assert "u had" in europe.reason and "bespaard" in europe.reason


def test_profile_counts_minutes_lines_and_trend(meridian):
    periods = [billing_period(meridian, y, m) for y, m in ((2026, 8), (2026, 9), (2026, 10))]
    loaded = [period_usage_load(organization=meridian, period=p) for p in periods]
    rated = [period_usage_rate(x) for x in loaded]
    lines = [(ln.id, ln.activated_on, ln.deactivated_on) for ln in meridian.lines.all()]
    profile = profile_build(currency="EUR", periods=loaded, rated=rated, lines=lines)
    for period, minutes in zip(periods, profile.minutes_by_month, strict=True):
        seconds = UsageRecord.objects.filter(
            organization=meridian,
            local_date__range=(period.start, period.end),
            usage_type="voice",
            direction="outbound",
            answered=True,
        ).aggregate(s=Sum("billable_seconds"))["s"]
        assert minutes == D(seconds) / 60
    eu = UsageRecord.objects.filter(organization=meridian, zone="EU", direction="outbound", answered=True)
    assert profile.minutes_by_key[("international", "EU")] == D(eu.aggregate(s=Sum("billable_seconds"))["s"]) / 60
    assert profile.lines_added == 1 and profile.lines_removed == 1 and profile.lines_active == 4
    assert profile.metrics()["minutes_per_month.international.EU"] == profile.per_month(
        profile.minutes_by_key[("international", "EU")]
    )

    def seconds(m):
        return (m * 60).quantize(D(1))

    assert seconds(sum(profile.minutes_by_person.values())) == seconds(profile.minutes_total)
    assert seconds(sum(profile.minutes_by_month)) == seconds(profile.minutes_total)
    signal, reasons = profile.retention_signal()
    assert not signal, reasons  # one line switched off, one added: not a customer on the way out


def test_an_offer_that_would_cost_more_is_never_presented_as_a_saving(make, catalog):
    _plans, offers = catalog
    org = consultancy(make, catalog, eu_calls_per_day=0, name="Quiet B.V.")
    statements = issue_periods(org)
    pack = offers["europe-pack-eur"]
    pack.eligibility = {}  # eligible for everyone: the engine must still refuse to call it a saving
    pack.save()
    loaded = [
        period_usage_load(organization=org, period=billing_period(org, *ym))
        for ym in ((2026, 8), (2026, 9), (2026, 10))
    ]
    pricing = engine.price_candidate(
        currency="EUR",
        periods=loaded,
        current=[period_usage_rate(x) for x in loaded],
        overlay=engine.overlay_bundle(plan_terms(pack.plan)),
        replaces_plan=False,
    )
    assert pricing.saving_total < 0  # the pack's fee, and nothing to save on
    assert pricing.saving_total == charges(statements) - reissued_with(org, pack, statements)
    run = offers_compute(organization=org, statement=statements[-1], now=ISSUED_AT)
    assert not run.recommendations.filter(offer=pack).exists()
    assert all(r.saving_total > 0 for r in run.recommendations.all())


def test_candidate_that_cannot_price_some_usage_is_not_offered(meridian, make, catalog):
    statements = issue_periods(meridian)
    cheap = make.plan(code="no-international-eur", currency="EUR", monthly_fee=D("1.00"))  # only a catch-all 0.02 voice
    offer = Offer.objects.create(
        code="cheap", kind="plan_change", plan=cheap, title="Cheap", customer_copy="Cheap.", valid_from=date(2026, 1, 1)
    )
    run = offers_compute(organization=meridian, statement=statements[-1], now=ISSUED_AT)
    # No rate for texts: the texts would look free. Not a saving we can state.
    assert not run.recommendations.filter(offer=offer).exists()


def test_consent_off_builds_no_profile_and_shows_only_generic_offers(make, catalog, monkeypatch):
    org = consultancy(make, catalog, consent=False, name="Private B.V.")
    statements = issue_periods(org)

    def must_not_read_usage(**kwargs):
        raise AssertionError("usage read without consent")

    monkeypatch.setattr(candidates, "period_usage_load", must_not_read_usage)
    outbound = UsageRecord.objects.filter(organization=org, direction="outbound", answered=True, usage_type="voice")
    eu_minutes = D(outbound.filter(zone="EU").aggregate(s=Sum("billable_seconds"))["s"] or 0) / 60
    all_seconds = outbound.aggregate(s=Sum("billable_seconds"))["s"]
    run = offers_compute(organization=org, statement=statements[-1], now=ISSUED_AT)
    assert not run.personalized and not run.consent and run.profile == {}
    recs = list(run.recommendations.select_related("offer"))
    assert recs, "generic offers are still shown"
    for rec in recs:
        assert not rec.personalized and rec.saving_total is None and rec.cost_current is None
        assert rec.offer.generic and rec.reason == rec.offer.customer_copy
        # Nothing of the organization's own usage leaks into the text (its figures, computed here from the rows).
        assert eu_minutes and engine.Formatter(org).number(eu_minutes) not in rec.reason
        assert engine.Formatter(org).number(D(all_seconds) / 60) not in rec.reason
    assert not OfferRecommendation.objects.filter(organization=org, personalized=True).exists()


def test_holdout_is_deterministic_and_sees_no_personalized_offers(meridian, settings, make):
    settings.OFFERS_HOLDOUT_SHARE = 0.5
    orgs = [meridian] + [make.organization() for _ in range(199)]
    first = [in_holdout(o) for o in orgs]
    assert first == [in_holdout(o) for o in orgs]  # same answer every time
    assert 60 < sum(first) < 140  # about half
    settings.OFFERS_HOLDOUT_SALT = "another-salt"
    assert first != [in_holdout(o) for o in orgs]  # the salt reshuffles
    settings.OFFERS_HOLDOUT_SHARE = 1.0
    statements = issue_periods(meridian)
    run = offers_compute(organization=meridian, statement=statements[-1], now=ISSUED_AT)
    assert run.holdout and run.consent and not run.personalized and run.profile == {}
    assert run.recommendations.exists()
    assert not run.recommendations.filter(personalized=True).exists()
    settings.OFFERS_HOLDOUT_SHARE = 0.0
    assert offers_compute(organization=meridian, now=ISSUED_AT).recommendations.filter(personalized=True).exists()


def test_at_most_n_offers(meridian, settings):
    statements = issue_periods(meridian)
    settings.OFFERS_MAX_SHOWN = 1
    run = offers_compute(organization=meridian, statement=statements[-1], now=ISSUED_AT)
    assert run.recommendations.count() == 1


def test_retention_signal_brings_a_retention_offer_forward(make, catalog):
    _plans, offers = catalog
    org = consultancy(make, catalog, eu_calls_per_day=0, name="Shrinking B.V.", add_line=False)
    issue_periods(org)
    run = offers_compute(organization=org, now=ISSUED_AT)
    recs = list(run.recommendations.select_related("offer").order_by("rank"))
    retention = [r for r in recs if r.offer.kind == Offer.Kind.RETENTION]
    assert retention, [r.offer.code for r in recs]
    assert recs[0] == retention[0] and retention[0].retention
    reason = retention[0].reason
    # The consultancy is Dutch: the reasons are written in Dutch.
    assert reason.startswith("Het viel ons op dat uw belminuten ") and "en 1 lijn werd opgezegd." in reason
    assert run.profile["retention_signal"] and "had Business Light" in reason and "gekost" in reason
    assert retention[0].saving_total > 0


def test_statement_run_is_computed_once(meridian):
    statements = issue_periods(meridian)
    first = offers_compute(organization=meridian, statement=statements[-1], now=ISSUED_AT)
    again = offers_compute(organization=meridian, statement=statements[-1], now=ISSUED_AT)
    assert first.pk == again.pk
    assert OfferRun.objects.filter(statement=statements[-1]).count() == 1
    # The second call made no recommendations of its own: the organization has exactly the first run's.
    first_ids = sorted(first.recommendations.values_list("id", flat=True))
    assert (
        first_ids
        and sorted(OfferRecommendation.objects.filter(organization=meridian).values_list("id", flat=True)) == first_ids
    )


def test_withdrawn_consent_hides_personalized_offers_already_computed(meridian, make):
    from billing.offers.selectors import offers_for
    from portal.scopes import scope_for

    statements = issue_periods(meridian)
    offers_compute(organization=meridian, statement=statements[-1], now=ISSUED_AT)
    scope = scope_for(make.membership(make.user(), meridian, role="admin"))
    assert any(v.personalized for v in offers_for(scope=scope, statement=statements[-1]))
    meridian.personalization_consent = False
    meridian.save()
    scope = scope_for(make.membership(make.user(), meridian, role="admin"))
    assert not any(v.personalized for v in offers_for(scope=scope, statement=statements[-1]))
