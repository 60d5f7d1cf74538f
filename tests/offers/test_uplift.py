"""Uplift: revenue, usage and lines lost of personalized against holdout organizations, per quarter and
per offer, with a confidence interval, in the staff report."""

from datetime import UTC, date, datetime
from decimal import Decimal as D

from billing.models import OfferRecommendation, OfferRun, Statement
from billing.offers.uplift import uplift_report

AT = datetime(2026, 11, 6, 9, tzinfo=UTC)


def _org(make, catalog, *, personalized: bool, revenue: str, lines_lost: int, offer=None):
    org = make.organization(personalization_consent=True)
    Statement.objects.create(
        organization=org,
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        status="issued",
        number=f"T-{org.pk}",
        currency="EUR",
        subtotal=D(revenue),
        total=D(revenue),
        issued_at=AT,
    )
    run = OfferRun.objects.create(
        organization=org,
        trigger="staff",
        computed_at=AT,
        months=1,
        personalized=personalized,
        consent=True,
        holdout=not personalized,
    )
    if offer is not None:
        OfferRecommendation.objects.create(
            organization=org,
            run=run,
            offer=offer,
            rank=1,
            title=offer.title,
            personalized=True,
            currency="EUR",
            saving_total=D("10.00"),
            reason="…",
            created_at=AT,
        )
    for i in range(lines_lost):
        line = make.line(org, since=datetime(2026, 1, 1, tzinfo=UTC))
        line.deactivated_on = date(2026, 11, 2 + i)
        line.save()
    return org


def test_uplift_per_quarter_and_per_offer_with_a_confidence_interval(make, catalog, client):
    _plans, offers = catalog
    europe = offers["europe-pack-eur"]
    _org(make, catalog, personalized=True, revenue="100.00", lines_lost=0, offer=europe)
    _org(make, catalog, personalized=True, revenue="140.00", lines_lost=1, offer=europe)
    _org(make, catalog, personalized=True, revenue="400.00", lines_lost=0)  # another offer: only in "all"
    _org(make, catalog, personalized=False, revenue="90.00", lines_lost=2)
    _org(make, catalog, personalized=False, revenue="110.00", lines_lost=0)
    make.organization(personalization_consent=False)  # neither group
    rows = {(r.quarter, r.offer, r.metric): r for r in uplift_report()}
    # Per offer: 100 and 140 against 90 and 110: +20, 95 % CI ±1.96·√(800/2 + 200/2) = ±43.83.
    per_offer = rows[("2026-Q4", "europe-pack-eur", "revenue")]
    assert (per_offer.personalized_n, per_offer.holdout_n) == (2, 2)
    assert (per_offer.personalized_mean, per_offer.holdout_mean) == (D("120.00"), D("100.00"))
    assert (per_offer.difference, per_offer.ci_low, per_offer.ci_high) == (D("20.00"), D("-23.83"), D("63.83"))
    everyone = rows[("2026-Q4", "", "revenue")]
    assert everyone.personalized_n == 3 and everyone.personalized_mean == D("213.33")
    lines = rows[("2026-Q4", "europe-pack-eur", "lines_lost")]
    assert (lines.personalized_mean, lines.holdout_mean, lines.difference) == (D("0.50"), D("1.00"), D("-0.50"))
    assert rows[("2026-Q4", "", "minutes")].difference == D("0.00")
    # In the staff report.
    client.force_login(make.user("staff", is_staff=True, is_superuser=True))
    html = client.get("/admin/billing/offer/report/").content.decode()
    assert 'id="offer-uplift"' in html
    assert 'data-quarter="2026-Q4" data-offer="europe-pack-eur" data-metric="revenue"' in html
    assert "-23.83 … 63.83" in html
