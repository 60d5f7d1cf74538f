"""Offers through GraphQL and the browser: role and scope checks, other organizations' ids are not found,
answers are recorded, impressions are recorded, and the number of queries does not grow with offers."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import (
    LinePlan,
    OfferChangeRequest,
    OfferImpression,
    OfferRecommendation,
    OfferResponse,
)
from billing.offers.selectors import offers_for
from billing.offers.services import offers_compute
from portal.api.core.nodes import encode_id
from portal.scopes import scope_for
from tests.offers.conftest import ISSUED_AT, consultancy, issue_periods

STATEMENT_OFFERS = """query($number: String!) { statement(number: $number) { number offers {
  id title reason personalized savingPerMonth savingTotal currency status } } }"""
OFFERS = "{ offers { id title personalized savingPerMonth status } }"
RESPOND = """mutation($id: ID!, $decision: OfferDecision!, $reason: String) {
  respondToOffer(offerId: $id, decision: $decision, reason: $reason) {
    offer { id status } errors { field code message } } }"""


@pytest.fixture
def billed(make, catalog):
    org = consultancy(make, catalog)
    statements = issue_periods(org)
    run = offers_compute(organization=org, statement=statements[-1], now=ISSUED_AT)
    org.statement = statements[-1]
    org.recs = list(run.recommendations.order_by("rank"))
    assert len(org.recs) >= 2
    return org


@pytest.fixture
def other(make, catalog):
    org = consultancy(make, catalog, seed=7, name="Other B.V.", add_line=False)
    statements = issue_periods(org)
    org.statement_number = statements[-1].number
    run = offers_compute(organization=org, statement=statements[-1], now=ISSUED_AT)
    org.recs = list(run.recommendations.order_by("rank"))
    return org


def test_statement_offers_and_top_level_offers_over_graphql(billed, api, token_for):
    client = api(token_for(billed, role="analyst"))
    data = client.data(STATEMENT_OFFERS, {"number": billed.statement.number})
    offers = data["statement"]["offers"]
    assert [o["id"] for o in offers] == [encode_id("Offer", r.pk) for r in billed.recs]
    top = offers[0]
    assert top["personalized"] and top["savingPerMonth"] == str(billed.recs[0].saving_monthly)
    assert top["savingTotal"] == str(billed.recs[0].saving_total) and top["currency"] == "EUR"
    assert top["reason"] == billed.recs[0].reason and top["status"] == "OPEN"
    assert client.data(OFFERS)["offers"][0]["id"] == top["id"]  # the latest run: the statement's
    impressions = OfferImpression.objects.filter(organization=billed, channel="api")
    assert impressions.count() == 2 * len(billed.recs)


@pytest.mark.parametrize(
    ("role", "scopes"),
    [("location_manager", ("offers",)), ("member", ("offers",)), ("analyst", ("usage:read", "statements:read"))],
)
def test_offers_need_a_billing_role_and_the_offers_scope(billed, api, token_for, role, scopes):
    extra = {"person": billed.persons.first()} if role == "member" else {}
    status, body = api(token_for(billed, role=role, scopes=scopes, **extra)).post(OFFERS)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert not OfferImpression.objects.exists()


def test_respond_accept_creates_a_change_request_and_changes_no_billing(billed, api, token_for):
    plans_before = list(LinePlan.objects.filter(organization=billed).values_list("line_id", "plan_id", "valid_from"))
    rec = billed.recs[0]
    data = api(token_for(billed, role="admin")).data(
        RESPOND, {"id": encode_id("Offer", rec.pk), "decision": "ACCEPT", "reason": "finally"}
    )
    assert data["respondToOffer"] == {"offer": {"id": encode_id("Offer", rec.pk), "status": "ACCEPTED"}, "errors": []}
    response = OfferResponse.objects.get(recommendation=rec)
    assert response.decision == "accepted" and response.reason == "finally" and response.channel == "api"
    assert response.user.memberships.get().organization == billed
    change = OfferChangeRequest.objects.get(response=response)
    assert change.status == "open" and change.offer == rec.offer and change.requested_by == response.user
    assert list(LinePlan.objects.filter(organization=billed).values_list("line_id", "plan_id", "valid_from")) == (
        plans_before
    )
    # Answered once only.
    again = api(token_for(billed, role="admin")).data(
        RESPOND, {"id": encode_id("Offer", rec.pk), "decision": "DECLINE"}
    )["respondToOffer"]
    assert again["offer"] is None and again["errors"][0]["code"] == "ALREADY_ANSWERED"


def test_other_organizations_offer_is_not_found(billed, other, api, token_for):
    foreign = other.recs[0]
    missing = OfferRecommendation.objects.order_by("-pk").first().pk + 1000
    answers = []
    for pk in (foreign.pk, missing):
        answers.append(
            api(token_for(billed, role="admin")).data(RESPOND, {"id": encode_id("Offer", pk), "decision": "ACCEPT"})[
                "respondToOffer"
            ]
        )
    assert (
        answers[0]
        == answers[1]
        == {
            "offer": None,
            "errors": [{"field": "offerId", "code": "NOT_FOUND", "message": "no such offer"}],
        }
    )
    assert not OfferResponse.objects.exists()
    # Another organization's statement: null, and none of its offers.
    data = api(token_for(billed)).data(STATEMENT_OFFERS, {"number": other.statement_number})
    assert data["statement"] is None


def test_declined_offer_is_hidden_and_not_recommended_again_for_a_while(billed, api, token_for, settings):
    from datetime import timedelta

    rec = billed.recs[0]
    api(token_for(billed, role="analyst")).data(
        RESPOND, {"id": encode_id("Offer", rec.pk), "decision": "DECLINE", "reason": "we call less soon"}
    )
    membership = billed.memberships.first()
    views = offers_for(scope=scope_for(membership), now=ISSUED_AT + timedelta(days=1))
    assert rec.pk not in [v.id for v in views]
    rerun = offers_compute(organization=billed, now=ISSUED_AT + timedelta(days=1))
    assert not rerun.recommendations.filter(offer=rec.offer).exists()
    # Once the decline is older than OFFERS_DECLINE_SUPPRESS_DAYS, the offer may come back.
    days = settings.OFFERS_DECLINE_SUPPRESS_DAYS
    OfferResponse.objects.filter(recommendation=rec).update(at=ISSUED_AT - timedelta(days=days + 1))
    again = offers_compute(organization=billed, now=ISSUED_AT + timedelta(days=1))
    assert again.recommendations.filter(offer=rec.offer).exists()
    views = offers_for(scope=scope_for(membership), now=ISSUED_AT + timedelta(days=1))
    # It is back, though no longer first: the decline taught the acceptance model (P(accept) 1/3 < 1/2).
    assert rec.offer.code in [v.code for v in views] and views[0].code != rec.offer.code


def test_query_count_does_not_grow_with_the_number_of_offers(billed, api, token_for, settings):
    # Impressions only here: an offer reaching OFFERS_IGNORE_IMPRESSIONS in one of the two requests would
    # add its (constant) outcome queries to that one (test_learning covers ignoring).
    settings.OFFERS_IGNORE_IMPRESSIONS = 100
    token = token_for(billed, role="analyst")
    api(token).data(OFFERS)  # the token's first use writes its last-use stamp and audit entry once
    counts = []
    for shown in (1, 3):
        settings.OFFERS_MAX_SHOWN = shown
        with CaptureQueriesContext(connection) as ctx:
            data = api(token).data(STATEMENT_OFFERS, {"number": billed.statement.number})
        assert len(data["statement"]["offers"]) == min(shown, len(billed.recs))
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


# --- Browser ---------------------------------------------------------------------------------------


def signed_in(make, org, role="admin"):
    user = make.user()
    make.membership(user, org, role=role, **({"person": org.persons.first()} if role == "member" else {}))
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client, user


def csrf(client) -> str:
    client.get(reverse("offers-privacy"))
    return client.cookies["csrftoken"].value


def test_web_decline_with_csrf_records_the_answer(billed, make):
    client, user = signed_in(make, billed, role="analyst")
    rec = billed.recs[1]
    url = reverse("offer-respond", args=[rec.pk])
    assert client.post(url, {"decision": "declined"}).status_code == 403  # no CSRF token
    response = client.post(
        url, {"decision": "declined", "reason": "not now", "next": "/statements/1", "csrfmiddlewaretoken": csrf(client)}
    )
    assert response.status_code == 302 and response["Location"] == "/statements/1"
    answer = OfferResponse.objects.get(recommendation=rec)
    assert (answer.decision, answer.reason, answer.user, answer.channel) == ("declined", "not now", user, "web")
    assert not OfferChangeRequest.objects.exists()


def test_web_other_organizations_offer_and_other_roles_are_404(billed, other, make):
    client, _user = signed_in(make, billed)
    token = csrf(client)
    for pk in (other.recs[0].pk, 10**9):
        response = client.post(
            reverse("offer-respond", args=[pk]), {"decision": "accepted", "csrfmiddlewaretoken": token}
        )
        assert response.status_code == 404
    member, _ = signed_in(make, billed, role="member")
    response = member.post(
        reverse("offer-respond", args=[billed.recs[0].pk]),
        {"decision": "accepted", "csrfmiddlewaretoken": csrf(member)},
    )
    assert response.status_code == 404
    assert not OfferResponse.objects.exists()
    anonymous = Client()
    response = anonymous.post(reverse("offer-respond", args=[billed.recs[0].pk]), {"decision": "accepted"})
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_web_accept_never_redirects_off_site(billed, make):
    client, _user = signed_in(make, billed)
    response = client.post(
        reverse("offer-respond", args=[billed.recs[0].pk]),
        {"decision": "accepted", "next": "https://evil.example/", "csrfmiddlewaretoken": csrf(client)},
    )
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert OfferChangeRequest.objects.filter(organization=billed).count() == 1


def test_panel_renders_forms_and_records_web_impressions(billed, make, rf):
    from django.template.loader import render_to_string

    from portal.web.offers import offers_panel_context

    user = make.user()
    membership = make.membership(user, billed, role="analyst")
    request = rf.get("/dashboard")
    request.user = user
    context = offers_panel_context(request, membership, statement=billed.statement)
    html = render_to_string("billing/offers/_panel.html", context, request=request)
    for rec in billed.recs:
        assert reverse("offer-respond", args=[rec.pk]) in html
        assert rec.title in html
    assert html.count('method="post"') == len(billed.recs) and "csrfmiddlewaretoken" in html
    assert "<script" not in html and "never leaves the provider" in html
    assert re.search(r'name="next" value="/dashboard"', html)
    assert OfferImpression.objects.filter(organization=billed, channel="web", user=user).count() == len(billed.recs)
    # A member sees no offers at all (and nothing is recorded).
    member = make.membership(make.user(), billed, role="member", person=billed.persons.first())
    assert offers_panel_context(request, member)["offers"] == []
