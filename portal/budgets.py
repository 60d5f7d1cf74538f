"""Budgets: a spending limit per billing period for a location, a person or the whole organization.

The check runs from Celery beat (``portal.budget_tasks.check_budgets``). A budget's spend is the rated
usage cost of the current billing period so far, read from the rollups through the usage selector with
an administrator's scope (nothing is filtered out but what the budget names). A check that finds
thresholds crossed above the highest one already alerted in the period records ONE BudgetAlert for the
highest of them *before* the email is sent (the budget's row is locked meanwhile, and the unique
constraint (budget, period, threshold) stops a concurrent worker): one email per crossing.

Who sees budgets: administrators (and edit them), analysts (all), location managers (their locations'
budgets only: a person's or the organization's spend covers usage outside their locations).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from billing.audit import Actor, AuditAction, actor_of, audit_write
from billing.formatting import Formatter, locale_of
from billing.models import Location, Organization, Person
from billing.periods import period_containing
from billing.usage.scope import Scope
from billing.usage.selectors import Period, UsageFilter, usage_summary
from portal.models import Budget, BudgetAlert, Membership, Role

log = logging.getLogger(__name__)


class BudgetError(ValueError):
    """A refused budget, with a message for the person who asked and the form field it is about."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "BAD_ARGUMENT"):
        super().__init__(message)
        self.field = field
        self.code = code


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
        return _("Location %(name)s") % {"name": budget.location.name}
    if budget.person_id:
        return _("Person %(name)s") % {"name": budget.person.name}
    return _("Whole organization")


def _audit_label(budget: Budget) -> str:
    with translation.override("en"):  # the audit log reads the same whoever's language wrote it
        return budget_label(budget)


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


def budgets_visible(scope: Scope):
    """The budgets a caller may see: all of them with the whole organization in scope; a location
    manager only those of their locations; a member (own usage only) none."""
    budgets = Budget.objects.filter(organization=scope.organization)
    if scope.person_ids is not None:
        return budgets.none()
    if scope.location_ids is not None:
        budgets = budgets.filter(location_id__in=scope.location_ids)
    return budgets.select_related("organization", "location", "person").order_by("location__name", "person__name", "id")


def budget_statuses(scope: Scope, now: datetime | None = None) -> list[BudgetStatus]:
    period = current_period(scope.organization, now)
    return [BudgetStatus(budget=b, period=period, spent=budget_spent(b, period)) for b in budgets_visible(scope)]


@transaction.atomic
def budget_create(
    *,
    organization: Organization,
    amount: Decimal,
    thresholds: list[int],
    location: Location | None = None,
    person: Person | None = None,
    created_by=None,
    actor: Actor | None = None,
) -> Budget:
    """Add a budget; refused (BudgetError, code DUPLICATE) for a subject that already has one."""
    actor = actor_of(actor, created_by)
    if location is not None and location.organization_id != organization.id:
        raise ValueError("location of another organization")
    if person is not None and person.organization_id != organization.id:
        raise ValueError("person of another organization")
    if location is not None and person is not None:
        raise BudgetError(_("A budget is for a location or for a person, not both."), field="person")
    if amount <= 0:
        raise BudgetError(_("The amount must be more than zero."), field="amount")
    if amount != amount.quantize(Decimal("0.01")) or amount >= Decimal(10) ** 10:
        raise BudgetError(_("Give the amount with at most 2 decimals and below 10,000,000,000."), field="amount")
    thresholds = sorted(set(thresholds))
    if not thresholds or any(not 1 <= t <= 1000 for t in thresholds):
        raise BudgetError(_("Give one or more percents between 1 and 1000."), field="thresholds")
    budget = Budget(
        organization=organization,
        location=location,
        person=person,
        amount=amount,
        thresholds=thresholds,
        created_by=actor.user,
    )
    duplicate = _(
        "There is already a budget for %(subject)s: change or remove that one instead of adding a second."
    ) % {"subject": budget_label(budget)}
    if Budget.objects.filter(organization=organization, location=location, person=person).exists():
        raise BudgetError(duplicate, field="applies_to", code="DUPLICATE")
    try:
        with transaction.atomic():  # the unique index decides between two requests racing past the check
            budget.save()
    except IntegrityError:
        raise BudgetError(duplicate, field="applies_to", code="DUPLICATE") from None
    audit_write(
        organization=organization,
        actor=actor,
        action=AuditAction.BUDGET_CREATED,
        target=_audit_label(budget),
        details={"amount": str(amount), "thresholds": budget.thresholds},
    )
    return budget


@transaction.atomic
def budget_delete(*, budget: Budget, deleted_by) -> None:
    audit_write(
        organization=budget.organization,
        actor=Actor(user=deleted_by),
        action=AuditAction.BUDGET_DELETED,
        target=_audit_label(budget),
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


def _send_alert(budget: Budget, alert: BudgetAlert, period: Period) -> None:
    organization = budget.organization
    language = locale_of(organization).split("_")[0]
    with translation.override(language):
        fmt = Formatter(organization)
        context = {
            "label": budget_label(budget),
            "threshold": alert.threshold,
            "spent": fmt.money(alert.spent),
            "amount": fmt.money(budget.amount),
            "start": fmt.date(period.start),
            "end": fmt.date(period.end),
            "organization": organization,
        }
        message = render_to_string("portal/settings/budget_email.txt", context)
        subject = _("Budget alert: %(label)s reached %(threshold)s %% (%(organization)s)") % {
            "label": context["label"],
            "threshold": alert.threshold,
            "organization": organization.name,
        }
    recipients = _admin_emails(budget.organization)
    if recipients:
        send_mail(subject, message, None, recipients)


def budget_check(*, budget: Budget, now: datetime | None = None) -> list[BudgetAlert]:
    """Alert once for the highest threshold crossed in the current period above every one already
    alerted in it; returns the alert sent ([] when nothing new was crossed)."""
    period = current_period(budget.organization, now)
    spent = budget_spent(budget, period)
    try:
        with transaction.atomic():
            budget = (
                Budget.objects.select_for_update(of=("self",))
                .select_related("organization", "location", "person")
                .get(pk=budget.pk)
            )
            alerted = max(
                BudgetAlert.objects.filter(budget=budget, period_start=period.start).values_list(
                    "threshold", flat=True
                ),
                default=0,
            )
            crossed = [t for t in budget.thresholds if t > alerted and spent * 100 >= budget.amount * t]
            if not crossed:
                return []
            alert = BudgetAlert.objects.create(
                budget=budget, period_start=period.start, threshold=max(crossed), spent=spent
            )
            # If sending fails the alert row rolls back with it, and the next run tries again.
            _send_alert(budget, alert, period)
    except IntegrityError:
        return []  # another worker alerted this very threshold first
    return [alert]


def budgets_check_all(now: datetime | None = None) -> int:
    count = 0
    for budget in Budget.objects.select_related("organization", "location", "person").order_by("id"):
        try:
            count += len(budget_check(budget=budget, now=now))
        except Exception:  # one organization's failure must not stop the others' alerts
            log.exception("budget check failed for budget %s", budget.pk)
    return count
