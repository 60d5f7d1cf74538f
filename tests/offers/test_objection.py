"""Objection: withdrawing consent stops profiling at once; no usage is read after it."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import OfferDecision, OfferOutcome, OfferRun, Organization
from billing.offers import candidates
from billing.offers.responses import offer_impressions_record
from billing.offers.services import offers_compute
from portal.account import consent_set
from tests.offers.conftest import ISSUED_AT


def test_withdrawing_consent_deletes_profiles_and_scores_and_no_usage_is_read_after(meridian, make, monkeypatch):
    run = offers_compute(organization=meridian, statement=meridian.issued[-1], now=ISSUED_AT)
    assert run.personalized and run.profile and OfferDecision.objects.filter(organization=meridian).exists()
    offer_impressions_record(
        organization=meridian, recommendation_ids=[run.recommendations.first().pk], channel="web", now=ISSUED_AT
    )
    assert OfferOutcome.objects.filter(organization=meridian).exclude(segment="").exists()
    stale = Organization.objects.get(pk=meridian.pk)  # e.g. a task that loaded the organization earlier
    consent_set(organization=meridian, consent=False, changed_by=make.user())
    assert not OfferRun.objects.filter(organization=meridian).exclude(profile={}).exists()
    assert not OfferDecision.objects.filter(organization=meridian).exists()
    assert not OfferOutcome.objects.filter(organization=meridian).exclude(segment="").exists()

    def no_usage(**kwargs):
        raise AssertionError("usage read after the objection")

    monkeypatch.setattr(candidates, "period_usage_load", no_usage)
    with CaptureQueriesContext(connection) as queries:
        after = offers_compute(organization=stale, now=ISSUED_AT)  # the stale object still says "consent"
    assert not after.personalized and not after.consent and after.profile == {}
    assert not after.recommendations.filter(personalized=True).exists()
    assert not [q["sql"] for q in queries.captured_queries if "billing_usagerecord" in q["sql"]]
    # The task that freezes a statement's offers is refused the same way.
    from billing.offers.tasks import compute_organization_offers

    with CaptureQueriesContext(connection) as queries:
        compute_organization_offers(meridian.pk)
    assert not [q["sql"] for q in queries.captured_queries if "billing_usagerecord" in q["sql"]]


def test_the_check_can_fail_usage_is_read_with_consent(meridian, monkeypatch):
    # The same probe sees the usage query when consent is on (so the test above can fail).
    with CaptureQueriesContext(connection) as queries:
        offers_compute(organization=meridian, statement=meridian.issued[-1], now=ISSUED_AT)
    assert [q["sql"] for q in queries.captured_queries if "billing_usagerecord" in q["sql"]]
