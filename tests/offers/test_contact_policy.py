"""The contact policy: a sliding-window cap on the offers shown to an organization, declined and
ignored offers rest, and staff see why an offer was not shown."""

from datetime import timedelta

from billing.models import OfferDecision, OfferOutcome
from billing.offers.responses import offer_impressions_record, offer_respond
from billing.offers.services import offers_compute
from tests.offers.conftest import ISSUED_AT


def _codes(run):
    return [r.offer.code for r in run.recommendations.select_related("offer").order_by("rank")]


def _show(org, run, at):
    offer_impressions_record(
        organization=org,
        recommendation_ids=list(run.recommendations.values_list("id", flat=True)),
        channel="web",
        now=at,
    )


def test_one_campaign_per_customer_per_quarter(meridian, settings):
    settings.OFFERS_CONTACT_CAP, settings.OFFERS_CONTACT_WINDOW_DAYS = 1, 91
    first = offers_compute(organization=meridian, statement=meridian.issued[-1], now=ISSUED_AT)
    assert len(_codes(first)) == 1  # one new offer at a time, the best one
    shown = _codes(first)[0]
    capped = [code for code, why in first.decision.excluded.items() if why.startswith("contact cap")]
    assert capped and shown not in capped
    _show(meridian, first, ISSUED_AT)
    # Ten days later the same offer may be shown again (same campaign), no other one.
    later = offers_compute(organization=meridian, now=ISSUED_AT + timedelta(days=10))
    assert _codes(later) == [shown]
    # Declined: it rests, and the window is still full, so nothing is shown at all.
    offer_respond(
        organization=meridian,
        recommendation_id=later.recommendations.get().pk,
        decision="declined",
        now=ISSUED_AT + timedelta(days=10),
    )
    rest = offers_compute(organization=meridian, now=ISSUED_AT + timedelta(days=11))
    assert _codes(rest) == []
    assert rest.decision.excluded[shown].startswith("declined on ")
    assert "(1 shown in the window)" in rest.decision.excluded[capped[0]]
    # The window slides: once the first impression is older than 91 days, a new offer may be shown.
    OfferOutcome.objects.filter(kind="shown").update(at=ISSUED_AT + timedelta(days=11) - timedelta(days=92))
    fresh = offers_compute(organization=meridian, now=ISSUED_AT + timedelta(days=11))
    assert len(_codes(fresh)) == 1 and _codes(fresh)[0] != shown


def test_an_offer_ignored_n_times_rests(meridian, settings):
    settings.OFFERS_IGNORE_IMPRESSIONS, settings.OFFERS_IGNORE_REST_DAYS = 2, 180
    run = offers_compute(organization=meridian, statement=meridian.issued[-1], now=ISSUED_AT)
    top = run.recommendations.order_by("rank").first()
    offer_impressions_record(organization=meridian, recommendation_ids=[top.pk], channel="pdf", now=ISSUED_AT)
    assert not OfferOutcome.objects.filter(kind="ignored").exists()  # once is not ignoring
    offer_impressions_record(organization=meridian, recommendation_ids=[top.pk], channel="web", now=ISSUED_AT)
    assert OfferOutcome.objects.filter(kind="ignored", recommendation=top).count() == 1
    again = offers_compute(organization=meridian, now=ISSUED_AT + timedelta(days=1))
    assert top.offer.code not in _codes(again)
    assert again.decision.excluded[top.offer.code].startswith("ignored (2 impressions without an answer)")
    OfferOutcome.objects.filter(kind="ignored").update(at=ISSUED_AT - timedelta(days=181))
    assert top.offer.code in _codes(offers_compute(organization=meridian, now=ISSUED_AT + timedelta(days=1)))


def test_staff_see_why_an_offer_was_not_shown(meridian, make, client, settings):
    settings.OFFERS_CONTACT_CAP = 1
    run = offers_compute(organization=meridian, statement=meridian.issued[-1], now=ISSUED_AT)
    decision = OfferDecision.objects.get(run=run)
    staff = make.user("staff", is_staff=True, is_superuser=True)
    client.force_login(staff)
    page = client.get(f"/admin/billing/offerdecision/{decision.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    capped = [code for code, why in decision.excluded.items() if why.startswith("contact cap")]
    assert capped and all(code in html for code in capped)
    assert "contact cap: at most 1 different offer(s) per 91 days" in html
    assert "propensity" in html
    run_page = client.get(f"/admin/billing/offerrun/{run.pk}/change/").content.decode()
    assert "Why other offers were not shown" in run_page and capped[0] in run_page
