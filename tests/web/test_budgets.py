"""Budget alerts: spend of the current billing period from the rollups; one email per threshold and period."""

from datetime import UTC, datetime
from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail
from django.db.models import Sum

from billing.models import UsageRecord
from portal.budget_tasks import check_budgets
from portal.budgets import budget_check, budget_create, budget_spent, current_period
from portal.models import BudgetAlert

# The October period of billed_org (billing day 1) is still running on this day; issuing its statement
# rated the usage, so the rollups carry costs.
OCT_31 = datetime(2026, 10, 31, 12, tzinfo=UTC)


def _cost(org, **kw):
    return UsageRecord.objects.filter(
        organization=org, local_date__range=(datetime(2026, 10, 1).date(), OCT_31.date()), **kw
    ).aggregate(s=Sum("cost"))["s"]


def test_spend_of_the_running_period(issued, make):
    org = issued.organization
    admin = make.membership(make.user(email="boss@example.com"), org, role="admin")
    whole = budget_create(organization=org, amount=Decimal(100), thresholds=[80], created_by=admin.user)
    ben = budget_create(organization=org, amount=Decimal(100), thresholds=[80], person=org.ben, created_by=admin.user)
    period = current_period(org, OCT_31)
    assert (period.start, period.end) == (datetime(2026, 10, 1).date(), OCT_31.date())
    assert budget_spent(whole, period) == _cost(org) > 0
    assert budget_spent(ben, period) == _cost(org, person=org.ben) < budget_spent(whole, period)


def test_one_email_per_threshold_and_period(issued, make):
    org = issued.organization
    make.membership(make.user(email="boss@example.com"), org, role="admin")
    make.membership(make.user(email="second@example.com"), org, role="admin")
    make.membership(make.user(email="analyst@example.com"), org, role="analyst")
    spent = _cost(org)
    budget = budget_create(
        organization=org,
        amount=(spent * Decimal("1.5")).quantize(Decimal("0.01")),
        thresholds=[50, 100],
        created_by=None,
    )
    sent = budget_check(budget=budget, now=OCT_31)
    assert [a.threshold for a in sent] == [50]
    assert len(mail.outbox) == 1 and sorted(mail.outbox[0].to) == ["boss@example.com", "second@example.com"]
    assert "reached 50 %" in mail.outbox[0].subject and org.name in mail.outbox[0].subject
    # Again, and again through the beat task: nothing new.
    assert budget_check(budget=budget, now=OCT_31) == []
    with mock.patch("portal.budgets.timezone.now", return_value=OCT_31):
        assert check_budgets.apply().get() == 0
    assert len(mail.outbox) == 1
    # The budget is lowered below the spend: 100 % is crossed now, once.
    budget.amount = spent.quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    budget.save()
    with mock.patch("portal.budgets.timezone.now", return_value=OCT_31):
        assert check_budgets.apply().get() == 1
        assert check_budgets.apply().get() == 0
    assert len(mail.outbox) == 2 and "reached 100 %" in mail.outbox[1].subject
    assert list(BudgetAlert.objects.order_by("threshold").values_list("threshold", "period_start")) == [
        (50, datetime(2026, 10, 1).date()),
        (100, datetime(2026, 10, 1).date()),
    ]


def test_failed_email_is_retried_next_run(issued, make):
    org = issued.organization
    make.membership(make.user(email="boss@example.com"), org, role="admin")
    budget = budget_create(organization=org, amount=Decimal("0.01"), thresholds=[100], created_by=None)
    with mock.patch("portal.budgets.send_mail", side_effect=OSError("smtp down")), pytest.raises(OSError):
        budget_check(budget=budget, now=OCT_31)
    assert not BudgetAlert.objects.exists()
    assert len(budget_check(budget=budget, now=OCT_31)) == 1 and len(mail.outbox) == 1


def test_a_jump_past_every_threshold_is_one_email_naming_the_highest(issued, make):
    """50, 80 and 100 % crossed between two checks: one email, "100 %", amounts in the currency's format."""
    org = issued.organization  # EUR, locale en-IE
    make.membership(make.user(email="boss@example.com"), org, role="admin")
    spent = _cost(org)
    budget = budget_create(
        organization=org, amount=(spent / 2).quantize(Decimal("0.01")), thresholds=[50, 80, 100], created_by=None
    )
    sent = budget_check(budget=budget, now=OCT_31)
    assert [a.threshold for a in sent] == [100]
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert "reached 100 %" in message.subject and "50 %" not in message.subject
    assert f"€{budget.amount:,.2f}" in message.body  # e.g. "€0.59", never "0.590000 EUR"
    assert "EUR" not in message.body and str(spent) not in message.body.replace(",", "")
    assert f"€{spent.quantize(Decimal('0.01'))}" in message.body
    # Nothing higher to cross: later checks stay silent.
    assert budget_check(budget=budget, now=OCT_31) == []
    assert list(BudgetAlert.objects.values_list("threshold", flat=True)) == [100]


def test_a_crossing_after_an_alert_names_only_the_new_highest(issued, make):
    org = issued.organization
    make.membership(make.user(email="boss@example.com"), org, role="admin")
    spent = _cost(org)
    budget = budget_create(organization=org, amount=spent * 2, thresholds=[50, 80, 100], created_by=None)
    assert [a.threshold for a in budget_check(budget=budget, now=OCT_31)] == [50]
    budget.amount = (spent / Decimal("1.1")).quantize(Decimal("0.01"))  # now 110 %: 80 and 100 crossed
    budget.save()
    assert [a.threshold for a in budget_check(budget=budget, now=OCT_31)] == [100]
    assert [m.subject.split("reached ")[1][:5] for m in mail.outbox] == ["50 % ", "100 %"]


def test_the_email_is_in_the_organizations_language(issued, make):
    org = issued.organization
    org.locale = "de-DE"
    org.save()
    make.membership(make.user(email="chef@example.com"), org, role="admin")
    budget = budget_create(organization=org, amount=Decimal("0.01"), thresholds=[100], created_by=None)
    budget_check(budget=budget, now=OCT_31)
    message = mail.outbox[0]
    assert "Budgetwarnung" in message.subject and "Gesamte Organisation" in message.subject
    assert "von 0,01\xa0€ verbraucht" in message.body


def test_a_duplicate_budget_is_refused(issued, make):
    from django.db import IntegrityError, transaction

    from portal.budgets import BudgetError
    from portal.models import Budget

    org = issued.organization
    budget_create(
        organization=org, amount=Decimal(100), thresholds=[80], person=org.persons.get(name="Ben"), created_by=None
    )
    with pytest.raises(BudgetError, match="already a budget for Person Ben") as refused:
        budget_create(
            organization=org, amount=Decimal(100), thresholds=[80], person=org.persons.get(name="Ben"), created_by=None
        )
    assert refused.value.code == "DUPLICATE"
    # A budget for the whole organization is another subject; a second one of those is refused too,
    # by the database as well (empty ids compare equal in the unique index).
    budget_create(organization=org, amount=Decimal(500), thresholds=[100], created_by=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        Budget.objects.create(organization=org, amount=Decimal(1), thresholds=[100])
    assert Budget.objects.filter(organization=org).count() == 2


def test_duplicate_in_the_form_and_the_api(issued, client, make, api):
    from portal.api.core.auth import token_create
    from portal.models import AuditLog

    org = issued.organization
    admin = make.membership(make.user(email="boss@example.com"), org, role="admin")
    client.force_login(admin.user)
    form = {"applies_to": "organization", "amount": "100", "thresholds": "80, 100"}
    assert client.post("/settings/budgets/", form).status_code == 302
    again = client.post("/settings/budgets/", form)
    assert again.status_code == 400
    assert "already a budget for Whole organization" in again.content.decode()
    _token, raw = token_create(membership=admin, name="erp", scopes=["budgets:manage", "usage:read"])
    audits = AuditLog.objects.filter(action="budget.created").count()
    answer = api(raw).data(
        'mutation { createBudget(amount: "100", thresholds: [80]) { budget { id } errors { field code message } } }'
    )
    assert answer["createBudget"]["budget"] is None
    assert answer["createBudget"]["errors"][0]["code"] == "DUPLICATE"
    assert "already a budget" in answer["createBudget"]["errors"][0]["message"]
    assert AuditLog.objects.filter(action="budget.created").count() == audits
    bad = api(raw).data(
        'mutation { createBudget(amount: "10.005", thresholds: [80]) { budget { id } errors { field code } } }'
    )
    assert bad["createBudget"] == {"budget": None, "errors": [{"field": "amount", "code": "BAD_ARGUMENT"}]}


def test_analysts_and_location_managers_see_the_budgets_of_their_scope(issued, client, make, api, token_for):
    org = issued.organization
    berlin = org.locations.get(name="Berlin")
    munich = make.location(org, name="Munich")
    for location in (berlin, munich):
        budget_create(organization=org, amount=Decimal(100), thresholds=[80], location=location, created_by=None)
    budget_create(organization=org, amount=Decimal(900), thresholds=[80], created_by=None)

    analyst = make.membership(make.user(), org, role="analyst")
    client.force_login(analyst.user)
    page = client.get("/budgets/").content.decode()
    assert "Location Berlin" in page and "Location Munich" in page and "Whole organization" in page
    assert "Remove" not in page and 'href="/budgets/"' in page
    assert (
        client.post("/settings/budgets/", {"applies_to": "organization", "amount": "1", "thresholds": "80"}).status_code
        == 403
    )

    manager = make.membership(make.user(), org, role="location_manager")
    manager.locations.set([munich])
    client.force_login(manager.user)
    page = client.get("/budgets/").content.decode()
    assert "Location Munich" in page and "Location Berlin" not in page and "Whole organization" not in page

    member = make.membership(make.user(), org, role="member", person=org.persons.get(name="Ben"))
    client.force_login(member.user)
    assert client.get("/budgets/").status_code == 403

    raw = token_for(org, role="location_manager", scopes=["usage:read"])
    from portal.models import ApiToken

    ApiToken.objects.get(key_prefix=raw[:10]).membership.locations.set([munich])
    data = api(raw).data("{ budgets { appliesTo locationName amount currency thresholds percent } }")
    assert data["budgets"] == [
        {
            "appliesTo": "Location Munich",
            "locationName": "Munich",
            "amount": "100.00",
            "currency": "EUR",
            "thresholds": [80],
            "percent": 0,
        }
    ]
