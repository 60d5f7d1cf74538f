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
