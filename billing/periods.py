"""Billing periods and the calendar they live in.

A billing period starts on the organization's billing day (1–28) and runs one calendar month, in the
organization's local dates (its time zone decides which day "today" is). Month arithmetic is
``billing.months``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

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


class Basis(StrEnum):
    """What a period is compared with (the same rule for the explorer, dashboard, API and exports)."""

    BILLING_PERIOD = "billing_period"  # whole billing periods: as many billing periods just before
    PERIOD_TO_DATE = "period_to_date"  # a billing period so far: the same days of the billing period before
    SAME_LENGTH = "same_length"  # free dates: as many days just before


def comparison_period(organization: Organization, start: date, end: date) -> tuple[date, date, Basis]:
    """The period ``start``..``end`` (local dates, inclusive) is compared with.

    Whole billing periods (one or several) are compared with as many billing periods just before; the start
    of a billing period up to a day inside it ("this period so far") with the same days of the previous
    billing period (cut at its end: 1–30 March against 1–28 February); any other dates with as many days
    just before them.
    """
    first = period_containing(organization, start)
    if start == first.start:
        last = period_containing(organization, end)
        count = (last.start.year - first.start.year) * 12 + last.start.month - first.start.month + 1
        before = billing_period(organization, *_year_month(add_months(first.start, -count)))
        if end == last.end:
            return before.start, first.start - timedelta(days=1), Basis.BILLING_PERIOD
        if count == 1:
            elapsed = (end - start).days
            return before.start, min(before.start + timedelta(days=elapsed), before.end), Basis.PERIOD_TO_DATE
    days = (end - start).days + 1
    return start - timedelta(days=days), start - timedelta(days=1), Basis.SAME_LENGTH


def _year_month(day: date) -> tuple[int, int]:
    return day.year, day.month
