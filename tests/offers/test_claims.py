"""Honest claims: savings only over billed periods, before and after tax, the offer's price and term;
one open request per offer and organization; answers in the activity log."""

from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction

from billing.formatting import Formatter
from billing.models import AuditLog, OfferChangeRequest, OfferRecommendation
from billing.offers.responses import OfferError, offer_respond
from billing.offers.services import offers_compute
from billing.periods import billing_period
from billing.statements.services import statement_issue
from tests.offers.conftest import ISSUED_AT, charges, consultancy, issue_periods, reissued_totals


@pytest.fixture
def meridian(make, catalog):
    return consultancy(make, catalog)


def _europe(run) -> OfferRecommendation:
    return run.recommendations.select_related("offer", "offer__plan").get(offer__code="europe-pack-eur")


def test_saving_counts_only_the_billed_periods(meridian):
    # Usage from August on, but the first statement is October's: August and September were never billed.
    october = statement_issue(organization=meridian, period=billing_period(meridian, 2026, 10), now=ISSUED_AT)
    run = offers_compute(organization=meridian, statement=october, now=ISSUED_AT)
    assert run.personalized and run.months == 1
    europe = _europe(run)
    assert (europe.months, europe.period_start, europe.period_end) == (1, october.period_start, october.period_end)
    reissued_charges, reissued_total = reissued_totals(meridian, europe.offer, [october])
    assert europe.saving_total == charges([october]) - reissued_charges
    assert europe.saving_total_incl_tax == october.total - reissued_total
    assert europe.saving_monthly == europe.saving_total  # one month: no average over unbilled months
    assert "5 okt" in europe.reason and "aug" not in europe.reason


def test_no_billed_period_means_no_personalized_saving(meridian):
    run = offers_compute(organization=meridian, now=ISSUED_AT)  # nothing issued yet
    assert run.months == 0
    assert not run.recommendations.filter(personalized=True).exists()
    assert "no billed period" in run.decision.excluded["*"]


def test_saving_before_and_after_tax_price_and_term_reproduce_from_statements(meridian):
    statements = issue_periods(meridian)
    run = offers_compute(organization=meridian, statement=statements[-1], now=ISSUED_AT)
    europe = _europe(run)
    reissued_charges, reissued_total = reissued_totals(meridian, europe.offer, statements)
    assert europe.saving_total == charges(statements) - reissued_charges
    assert europe.saving_total_incl_tax == sum((s.total for s in statements), D(0)) - reissued_total
    assert europe.saving_total_incl_tax > europe.saving_total  # 21 % VAT on top
    assert europe.tax_rate == D("0.21")
    assert europe.price_monthly == europe.offer.plan.monthly_fee
    assert europe.term_months == europe.offer.term_months == 12
    # What changes: the usage lines the pack re-prices, each before and after, summing to the usage part.
    assert europe.changes and all(c["what"][1] == "international" for c in europe.changes)
    assert all(D(c["before"]) > D(c["after"]) for c in europe.changes)
    # The reason (also what the PDF prints) says the same, in the customer's language (nl-NL): before and
    # with tax, price and term.
    fmt = Formatter(meridian)
    assert f"u had {fmt.money(europe.saving_total)} bespaard exclusief btw, " in europe.reason
    assert f"{fmt.money(europe.saving_total_incl_tax)} inclusief btw" in europe.reason
    assert (
        f"{europe.title} kost {fmt.money(europe.price_monthly)} per maand per lijn exclusief btw, "
        "voor minstens 12 maanden." in europe.reason
    )


def test_one_open_request_per_offer_and_organization(meridian, make):
    statements = issue_periods(meridian)
    first = _europe(offers_compute(organization=meridian, statement=statements[1], now=ISSUED_AT))
    second = _europe(offers_compute(organization=meridian, statement=statements[2], now=ISSUED_AT))
    user = make.user("anouk")
    offer_respond(organization=meridian, recommendation_id=first.pk, decision="accepted", user=user, now=ISSUED_AT)
    with pytest.raises(OfferError) as refused:
        offer_respond(organization=meridian, recommendation_id=second.pk, decision="accepted", user=user, now=ISSUED_AT)
    assert refused.value.code == "ALREADY_REQUESTED"
    assert OfferChangeRequest.objects.filter(organization=meridian).count() == 1
    assert AuditLog.objects.filter(organization=meridian, action="offer.accepted").count() == 1
    # The database refuses a second open request too, whatever the code path.
    response = first.response
    with pytest.raises(IntegrityError), transaction.atomic():
        OfferChangeRequest.objects.create(
            organization=meridian, response_id=response.pk, offer=first.offer, created_at=ISSUED_AT
        )
    # Once staff closed it, the offer may be requested again.
    OfferChangeRequest.objects.update(status="done")
    offer_respond(organization=meridian, recommendation_id=second.pk, decision="accepted", user=user, now=ISSUED_AT)
    assert OfferChangeRequest.objects.filter(organization=meridian, status="open").count() == 1


def test_answers_are_in_the_organizations_activity_log(meridian, make):
    statements = issue_periods(meridian)
    europe = _europe(offers_compute(organization=meridian, statement=statements[-1], now=ISSUED_AT))
    user = make.user("bram")
    offer_respond(organization=meridian, recommendation_id=europe.pk, decision="declined", user=user, reason="too dear")
    row = AuditLog.objects.get(organization=meridian, action="offer.declined")
    assert (row.user, row.target) == (user, "europe-pack-eur")
    assert row.details["reason"] == "too dear" and row.details["offer"] == europe.title


@pytest.mark.parametrize(
    "language, words",
    [
        ("de", ["Angebote für Sie", "ohne Steuer gespart", "pro Monat und Anschluss", "Mindestlaufzeit: 12 Monate"]),
        ("fr", ["Offres pour vous", "vous auriez économisé", "par mois et par ligne", "Durée minimale : 12 mois"]),
        ("nl", ["excl. btw bespaard", "per maand per lijn", "Minimale looptijd: 12 maanden", "Gesprekken naar Europa"]),
        ("en", ["Offers for you", "before tax", "a month per line", "Minimum term: 12 months", "Calls to Europe"]),
    ],
)
def test_panel_states_the_claim_in_the_customers_language(meridian, make, rf, language, words):
    from django.template.loader import render_to_string
    from django.utils import translation

    from billing.formatting import Formatter
    from portal.web.offers import offers_panel_context

    statements = issue_periods(meridian)
    europe = _europe(offers_compute(organization=meridian, statement=statements[-1], now=ISSUED_AT))
    user = make.user()
    request = rf.get("/statements")
    request.user = user
    context = offers_panel_context(request, make.membership(user, meridian, role="admin"), statement=statements[-1])
    with translation.override(language):
        html = render_to_string("billing/offers/_panel.html", context, request=request)
    for word in words:
        assert word in html, word
    fmt = Formatter(meridian)
    for amount in (europe.saving_total, europe.saving_total_incl_tax, europe.price_monthly):
        assert fmt.money(amount) in html
    assert 'href="/static/css/offers.css"' in html and 'class="offer-changes"' in html


def test_graphql_states_the_claim_and_refuses_a_second_request(meridian, api, token_for):
    from portal.api.core.nodes import encode_id

    statements = issue_periods(meridian)
    first = _europe(offers_compute(organization=meridian, statement=statements[1], now=ISSUED_AT))
    second = _europe(offers_compute(organization=meridian, statement=statements[2], now=ISSUED_AT))
    token = token_for(meridian, role="admin")
    query = """query($n: String!) { statement(number: $n) { offers { id code months periodStart periodEnd
      savingTotal savingTotalInclTax taxRate pricePerMonth termMonths } } }"""
    offers = api(token).data(query, {"n": statements[2].number})["statement"]["offers"]
    europe = next(o for o in offers if o["code"] == "europe-pack-eur")
    assert europe["months"] == 3 and europe["periodStart"] == statements[0].period_start.isoformat()
    assert D(europe["savingTotalInclTax"]) == second.saving_total_incl_tax and D(europe["taxRate"]) == D("0.21")
    assert D(europe["pricePerMonth"]) == second.offer.plan.monthly_fee and europe["termMonths"] == 12
    respond = """mutation($id: ID!) { respondToOffer(offerId: $id, decision: ACCEPT) {
      offer { status } errors { field code message } } }"""
    ok = api(token).data(respond, {"id": encode_id("Offer", first.pk)})["respondToOffer"]
    assert ok["errors"] == [] and ok["offer"]["status"] == "ACCEPTED"
    again = api(token).data(respond, {"id": encode_id("Offer", second.pk)})["respondToOffer"]
    assert [e["code"] for e in again["errors"]] == ["ALREADY_REQUESTED"]


@pytest.mark.parametrize(
    "locale, words",
    [
        (
            "de-DE",
            [
                "Auf Grundlage von ",
                "Minuten Anrufe nach Europa (meist nach Deutschland) im Zeitraum",
                "Sie hätten",
                "ohne Steuer,",
                "mit Steuer",
                "pro Monat und Anschluss",
                "Mindestlaufzeit von 12 Monaten.",
            ],
        ),
        (
            "fr-FR",
            [
                "D'après ",
                "minutes d'appels vers l'Europe (principalement : Allemagne)",
                "vous auriez économisé",
                " HT, ",
                " TTC",
                "par mois et par ligne HT",
                "durée minimale de 12 mois.",
            ],
        ),
    ],
)
def test_reason_is_written_in_the_statement_language(make, catalog, locale, words):
    from billing.models import Organization

    org = consultancy(make, catalog)
    Organization.objects.filter(pk=org.pk).update(locale=locale)
    org.refresh_from_db()
    statements = issue_periods(org)
    europe = _europe(offers_compute(organization=org, statement=statements[-1], now=ISSUED_AT))
    for word in words:
        assert word in europe.reason, (word, europe.reason)
    fmt = Formatter(org)
    assert fmt.money(europe.saving_total) in europe.reason and "would have" not in europe.reason
