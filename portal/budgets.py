"""Budgets: a spending limit per billing period for a location, a person or the whole organization.

The check runs from Celery beat (``portal.budget_tasks.check_budgets``). A budget's spend is the rated
usage cost of the current billing period so far, read from the rollups through the usage selector with
an administrator's scope (nothing is filtered out but what the budget names). Each crossed threshold
is recorded as a BudgetAlert *before* the email is sent; the unique constraint (budget, period,
threshold) makes a second run, or a concurrent worker, skip it: one email per threshold and period.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from billing.audit import Actor, AuditAction, audit_write
from billing.models import Location, Organization, Person
from billing.periods import period_containing
from billing.usage.scope import Scope
from billing.usage.selectors import Period, UsageFilter, usage_summary
from portal.models import Budget, BudgetAlert, Membership, Role

log = logging.getLogger(__name__)


@dataclass
class BudgetStatus:
    budget: Budget
    period: Period
    spent: Decimal

    @property
    def percent(self) -> int:
        return int(self.spent * 100 / self.budget.amount) if self.budget.amount else 0

    @property
    def label(self) -> str:
        return budget_label(self.budget)


def budget_label(budget: Budget) -> str:
    if budget.location_id:
        return f"Location {budget.location.name}"
    if budget.person_id:
        return f"Person {budget.person.name}"
    return "Whole organization"


def current_period(organization: Organization, now: datetime | None = None) -> Period:
    """The billing period running now, up to today (the organization's local dates)."""
    today = (now or timezone.now()).astimezone(organization.tz).date()
    period = period_containing(organization, today)
    return Period(period.start, today)


def budget_spent(budget: Budget, period: Period) -> Decimal:
    organization = budget.organization
    filters = UsageFilter(
        locations=[budget.location_id] if budget.location_id else [],
        persons=[budget.person_id] if budget.person_id else [],
    )
    summary = usage_summary(
        scope=Scope(organization=organization, role=Role.ADMIN), period=period, group_by=[], filters=filters
    )
    return summary.totals.cost or Decimal(0)


def budget_statuses(organization: Organization, now: datetime | None = None) -> list[BudgetStatus]:
    period = current_period(organization, now)
    budgets = (
        Budget.objects.filter(organization=organization)
        .select_related("organization", "location", "person")
        .order_by("location__name", "person__name", "id")
    )
    return [BudgetStatus(budget=b, period=period, spent=budget_spent(b, period)) for b in budgets]


@transaction.atomic
def budget_create(
    *,
    organization: Organization,
    amount: Decimal,
    thresholds: list[int],
    location: Location | None = None,
    person: Person | None = None,
    created_by,
) -> Budget:
    if location is not None and location.organization_id != organization.id:
        raise ValueError("location of another organization")
    if person is not None and person.organization_id != organization.id:
        raise ValueError("person of another organization")
    budget = Budget.objects.create(
        organization=organization,
        location=location,
        person=person,
        amount=amount,
        thresholds=sorted(set(thresholds)),
        created_by=created_by,
    )
    audit_write(
        organization=organization,
        actor=Actor(user=created_by),
        action=AuditAction.BUDGET_CREATED,
        target=budget_label(budget),
        details={"amount": str(amount), "thresholds": budget.thresholds},
    )
    return budget


@transaction.atomic
def budget_delete(*, budget: Budget, deleted_by) -> None:
    audit_write(
        organization=budget.organization,
        actor=Actor(user=deleted_by),
        action=AuditAction.BUDGET_DELETED,
        target=budget_label(budget),
        details={"amount": str(budget.amount), "thresholds": budget.thresholds},
    )
    budget.delete()


def _admin_emails(organization: Organization) -> list[str]:
    return sorted(
        set(
            Membership.objects.filter(organization=organization, role=Role.ADMIN, user__is_active=True)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )


def budget_check(*, budget: Budget, now: datetime | None = None) -> list[BudgetAlert]:
    """Record and email every threshold of ``budget`` crossed in the current period and not yet alerted."""
    period = current_period(budget.organization, now)
    spent = budget_spent(budget, period)
    sent = []
    for threshold in sorted(budget.thresholds):
        if spent * 100 < budget.amount * threshold:
            break
        try:
            with transaction.atomic():
                alert = BudgetAlert.objects.create(
                    budget=budget, period_start=period.start, threshold=threshold, spent=spent
                )
                context = {
                    "budget": budget,
                    "label": budget_label(budget),
                    "threshold": threshold,
                    "spent": spent,
                    "period": period,
                    "organization": budget.organization,
                }
                message = render_to_string("portal/settings/budget_email.txt", context)
                recipients = _admin_emails(budget.organization)
                subject = f"Budget alert: {budget_label(budget)} reached {threshold} % ({budget.organization.name})"
                # If sending fails the alert row rolls back with it, and the next run tries again.
                if recipients:
                    send_mail(subject, message, None, recipients)
        except IntegrityError:
            continue  # already alerted for this threshold and period (another run got there first)
        sent.append(alert)
    return sent


def budgets_check_all(now: datetime | None = None) -> int:
    count = 0
    for budget in Budget.objects.select_related("organization", "location", "person").order_by("id"):
        try:
            count += len(budget_check(budget=budget, now=now))
        except Exception:  # one organization's failure must not stop the others' alerts
            log.exception("budget check failed for budget %s", budget.pk)
    return count
