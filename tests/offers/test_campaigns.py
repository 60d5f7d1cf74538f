"""Staff campaigns: offers + period + segment + cap, in the admin, with their results."""

from datetime import date

from billing.models import OfferCampaign
from billing.offers.reports import campaign_results
from billing.offers.responses import offer_impressions_record, offer_respond
from billing.offers.services import offers_compute
from tests.offers.conftest import ISSUED_AT


def _campaign(offers, *, segment="*/*/*", cap=1, starts_on=date(2026, 11, 1), ends_on=date(2027, 2, 1)):
    campaign = OfferCampaign.objects.create(
        name="Winter international", starts_on=starts_on, ends_on=ends_on, segment=segment, cap=cap
    )
    campaign.offers.set(offers)
    return campaign


def _codes(run):
    return [r.offer.code for r in run.recommendations.select_related("offer").order_by("rank")]


def test_campaign_offers_only_in_period_for_the_segment_within_the_cap(meridian, catalog):
    _plans, offers = catalog
    europe, world = offers["europe-pack-eur"], offers["world-pack-eur"]
    free = offers_compute(organization=meridian, now=ISSUED_AT)
    assert {"europe-pack-eur", "world-pack-eur"} <= set(free.decision.excluded) | set(_codes(free))
    campaign = _campaign([europe, world], segment="l/*/*")  # large organizations only: not this one
    run = offers_compute(organization=meridian, now=ISSUED_AT)
    assert "europe-pack-eur" not in _codes(run) and "world-pack-eur" not in _codes(run)
    assert "is for segment l/*/*, not s/intl/" in run.decision.excluded["europe-pack-eur"]
    # The policy's first choice was removed by the campaign, not by the policy: no propensity is logged,
    # so the offline evaluation leaves the decision out.
    assert free.decision.candidates[0]["code"] == run.decision.candidates[0]["code"] == "europe-pack-eur"
    assert run.decision.chosen is not None and run.decision.propensity is None
    campaign.segment = "s/intl/*"
    campaign.save()
    run = offers_compute(organization=meridian, now=ISSUED_AT)
    in_campaign = [c for c in _codes(run) if c in ("europe-pack-eur", "world-pack-eur")]
    assert len(in_campaign) == 1  # cap 1
    other = ({"europe-pack-eur", "world-pack-eur"} - set(in_campaign)).pop()
    assert "its cap of 1 offer(s) is reached" in run.decision.excluded[other]
    campaign.starts_on, campaign.ends_on = date(2027, 1, 1), date(2027, 2, 1)
    campaign.save()
    run = offers_compute(organization=meridian, now=ISSUED_AT)
    assert "runs 2027-01-01 – 2027-02-01" in run.decision.excluded["europe-pack-eur"]


def test_campaign_results_in_the_admin(meridian, catalog, make, client):
    _plans, offers = catalog
    campaign = _campaign([offers["europe-pack-eur"], offers["world-pack-eur"]], cap=2)
    run = offers_compute(organization=meridian, statement=meridian.issued[-1], now=ISSUED_AT)
    recs = [r for r in run.recommendations.select_related("offer") if r.offer.code.endswith("pack-eur")]
    assert len(recs) == 2
    offer_impressions_record(
        organization=meridian, recommendation_ids=[r.pk for r in recs], channel="web", now=ISSUED_AT
    )
    offer_respond(organization=meridian, recommendation_id=recs[0].pk, decision="accepted", now=ISSUED_AT)
    offer_respond(organization=meridian, recommendation_id=recs[1].pk, decision="declined", now=ISSUED_AT)
    results = campaign_results(campaign=campaign)
    assert (results.organizations, results.shown, results.accepted, results.declined) == (1, 2, 1, 1)
    assert results.acceptance_rate == 50 and results.savings_monthly_accepted == {"EUR": recs[0].saving_monthly}
    client.force_login(make.user("staff", is_staff=True, is_superuser=True))
    page = client.get(f"/admin/billing/offercampaign/{campaign.pk}/change/").content.decode()
    assert "<th>Accepted</th><td>1</td>" in page and f"{recs[0].saving_monthly} EUR" in page
    listing = client.get("/admin/billing/offercampaign/").content.decode()
    assert "50.0 %" in listing
