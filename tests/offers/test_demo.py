"""On the demo data: the consultancy with heavy international calling gets the Europe pack, priced to the
cent on its real statements; the retailer without consent gets nothing personalized."""

from io import StringIO

import pytest
from django.core.management import call_command

from billing.models import Organization
from billing.offers.services import offers_compute
from billing.periods import billing_period
from billing.statements.services import statement_issue
from tests.offers.conftest import ISSUED_AT, charges, reissued_with


@pytest.mark.slow
def test_demo_consultancy_gets_the_europe_pack_priced_on_its_statements(db, settings):
    settings.OFFERS_HOLDOUT_SHARE = 0.0
    call_command("seed_demo", "--scale", "0.2", "--months", "4", "--end", "2026-11-06", stdout=StringIO())
    meridian = Organization.objects.get(account_number="MER-400117")
    statements = [
        statement_issue(organization=meridian, period=billing_period(meridian, 2026, month), now=ISSUED_AT)
        for month in (8, 9, 10)
    ]
    run = offers_compute(organization=meridian, statement=statements[-1], now=ISSUED_AT)
    recs = list(run.recommendations.select_related("offer").order_by("rank"))
    # An international pack comes first (the one that saves it the most), and the Europe pack is offered.
    assert recs[0].offer.code in {"europe-pack-eur", "world-pack-eur"}
    europe = next(r for r in recs if r.offer.code == "europe-pack-eur")
    # Meridian is Dutch (nl-NL): its offers speak Dutch.
    assert "minuten gesprekken naar Europa" in europe.reason and "bespaard" in europe.reason
    for rec in recs:
        assert rec.personalized and rec.saving_total > 0
        assert rec.saving_total == charges(statements) - reissued_with(meridian, rec.offer, statements), rec.offer

    retail = Organization.objects.get(account_number="RET-200871")
    assert not retail.personalization_consent
    retail_statements = [
        statement_issue(organization=retail, period=billing_period(retail, 2026, month), now=ISSUED_AT)
        for month in (8, 9, 10)
    ]
    retail_run = offers_compute(organization=retail, statement=retail_statements[-1], now=ISSUED_AT)
    assert retail_run.profile == {} and not retail_run.personalized
    assert not retail_run.recommendations.filter(personalized=True).exists()
    assert all(r.saving_total is None for r in retail_run.recommendations.all())
