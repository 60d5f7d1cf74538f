"""A purchasing manager acts on an offer next to a statement, in a real browser; staff get a change request."""

from billing.models import OfferChangeRequest, OfferResponse, Statement
from billing.offers.services import offers_compute
from tests.offers.conftest import ISSUED_AT, catalog, consultancy, issue_periods, no_holdout  # noqa: F401


def test_admin_requests_an_offer_from_the_statement_page(page, sign_in, make, catalog):  # noqa: F811
    org = consultancy(make, catalog)
    statement = issue_periods(org)[-1]
    run = offers_compute(organization=org, statement=statement, now=ISSUED_AT)
    top = run.recommendations.order_by("rank").first()
    make.membership(make.user("buyer"), org, role="admin")

    sign_in("buyer")
    page.goto(f"/statements/{statement.pk}/")
    offer = page.locator(f"#offer-{top.pk}")
    # The consultancy is Dutch: its statement page and offers panel speak Dutch.
    assert "had u" in offer.inner_text() and "excl. btw" in offer.inner_text()
    offer.get_by_label("Opmerking (optioneel)").fill("Please switch from next month")
    offer.get_by_role("button", name="Deze aanbieding aanvragen").click()
    page.wait_for_load_state()
    answer = OfferResponse.objects.get(recommendation=top)
    assert (answer.decision, answer.reason) == ("accepted", "Please switch from next month")
    assert OfferChangeRequest.objects.filter(response=answer, status="open").exists()
    assert page.url.endswith(f"/statements/{statement.pk}/")
    assert Statement.objects.get(pk=statement.pk).total == statement.total  # billing itself is not changed
