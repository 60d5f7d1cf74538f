"""Billing periods and the calendar they live in.

A billing period starts on the organization's billing day (1–28) and runs one calendar month, in the
organization's local dates (its time zone decides which day "today" is). Month arithmetic is
``billing.months``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import timezone

from billing.models import Organization
from billing.months import add_months


@dataclass(frozen=True)
class BillingPeriod:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def billing_period(organization: Organization, year: int, month: int) -> BillingPeriod:
    """The period that starts on the organization's billing day in ``year``-``month``."""
    start = date(year, month, organization.billing_day)
    return BillingPeriod(start, add_months(start, 1) - timedelta(days=1))


def period_containing(organization: Organization, day: date) -> BillingPeriod:
    start = date(day.year, day.month, organization.billing_day)
    if day < start:
        start = add_months(start, -1)
    return billing_period(organization, start.year, start.month)


def last_closed_period(organization: Organization, now: datetime | None = None) -> BillingPeriod:
    today = (now or timezone.now()).astimezone(organization.tz).date()
    current = period_containing(organization, today)
    return period_containing(organization, current.start - timedelta(days=1))
