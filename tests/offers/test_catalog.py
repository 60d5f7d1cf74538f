"""The catalog: eligibility is data, validated before it is saved; staff close change requests."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from billing.models import Offer, OfferChangeRequest
from billing.offers import engine
from billing.offers.responses import offer_respond
from billing.offers.services import offers_compute
from tests.offers.conftest import ISSUED_AT, consultancy, issue_periods


@pytest.mark.parametrize(
    ("eligibility", "message"),
    [
        ([], "must be an object"),
        ({"when": []}, "unknown eligibility keys: when"),
        ({"conditions": [{"metric": "minutes_per_month", "op": ">="}]}, "exactly metric, op and value"),
        ({"conditions": [{"metric": "revenue", "op": ">=", "value": 1}]}, "unknown metric 'revenue'"),
        ({"conditions": [{"metric": "minutes_per_month", "op": "~", "value": 1}]}, "op must be one of"),
        ({"conditions": [{"metric": "minutes_per_month", "op": ">=", "value": "lots"}]}, "must be a number"),
        ({"currencies": "EUR"}, "currencies must be a list"),
    ],
)
def test_eligibility_is_validated(catalog, eligibility, message):
    offer = Offer.objects.get(code="europe-pack-eur")
    offer.eligibility = eligibility
    with pytest.raises(ValidationError, match=message):
        offer.full_clean()


def test_valid_eligibility_and_its_evaluation(catalog):
    offer = Offer.objects.get(code="europe-pack-eur")
    offer.eligibility = {
        "conditions": [
            {"metric": "minutes_per_month.international.EU", "op": ">=", "value": 100},
            {"metric": "lines_active", "op": ">", "value": "2"},
        ],
        "currencies": ["EUR"],
        "countries": ["NL"],
    }
    offer.full_clean()
    account = engine.Account(currency="EUR", country="NL", plan_codes=frozenset({"mobile-eur"}), lines_active=3)
    metrics = {"minutes_per_month.international.EU": 100}
    assert engine.eligible(offer.eligibility, account, metrics)
    assert not engine.eligible(offer.eligibility, account, {"minutes_per_month.international.EU": 99})
    assert not engine.eligible(offer.eligibility, engine.Account("EUR", "DE", frozenset(), 3), metrics)
    # Without a profile: a usage condition fails, unless only account facts are checked (generic offers).
    assert not engine.eligible(offer.eligibility, account, None)
    assert engine.eligible(offer.eligibility, account, None, account_only=True)
    assert not engine.eligible(offer.eligibility, engine.Account("EUR", "NL", frozenset(), 2), None, account_only=True)


def test_plan_change_is_not_laid_over_and_bundles_are(catalog):
    offer = Offer.objects.get(code="switch-flex-eur")
    offer.overlay = True
    with pytest.raises(ValidationError, match="replaces the plan"):
        offer.full_clean()
    pack = Offer.objects.get(code="europe-pack-eur")
    pack.overlay = False
    with pytest.raises(ValidationError, match="laid over"):
        pack.full_clean()


def test_staff_close_a_change_request_in_the_admin(make, catalog, admin_client, admin_user):
    org = consultancy(make, catalog)
    issue_periods(org)
    rec = offers_compute(organization=org, now=ISSUED_AT).recommendations.order_by("rank").first()
    offer_respond(organization=org, recommendation_id=rec.pk, decision="accepted", reason="yes please")
    change = OfferChangeRequest.objects.get()
    assert change.status == "open"
    response = admin_client.post(
        reverse("admin:billing_offerchangerequest_changelist"),
        {"action": "mark_done", "_selected_action": [change.pk]},
    )
    assert response.status_code == 302
    change.refresh_from_db()
    assert change.status == "done" and change.handled_by == admin_user and change.handled_at is not None
    # The offer admin validates eligibility JSON through the form as well.
    add = admin_client.post(
        reverse("admin:billing_offer_add"),
        {
            "code": "bad",
            "kind": "bundle",
            "title": "Bad",
            "customer_copy": "Bad.",
            "plan": rec.offer.plan_id,
            "overlay": "on",
            "eligibility": '{"conditions": [{"metric": "nope", "op": ">=", "value": 1}]}',
            "valid_from": date(2026, 1, 1).isoformat(),
            "priority": 1,
        },
    )
    assert add.status_code == 200 and "unknown metric" in add.content.decode()
    assert not Offer.objects.filter(code="bad").exists()
