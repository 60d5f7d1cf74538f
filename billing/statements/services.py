"""The billing run: rate a closed period's usage and issue exactly one statement for it.

``statement_issue`` runs in one transaction under a per-(organization, period) advisory lock. A worker
killed in the middle leaves nothing behind (the transaction rolls back) and the next run does the
whole job; a second or concurrent run finds the issued statement and returns it. The unique
(organization, period_start) constraint backs this up in the database.

The statement itself is built by the pure ``builder`` (lines, breakdowns, frozen details, totals and the
money rules it applies); this module is the transactional shell around it: locks, checks, loading and
storing, numbering, issuing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone, translation

from billing.einvoice.services import einvoice_number, einvoice_prepare
from billing.einvoice.validation import failed_rules
from billing.formatting import Formatter
from billing.models import (
    Adjustment,
    Organization,
    Payment,
    Statement,
    StatementBreakdown,
    StatementLine,
    StatementNumberSequence,
    UsageRecord,
)
from billing.periods import BillingPeriod, period_containing
from billing.rating.pipeline import late_usage_load, period_usage_load
from billing.rating.store import period_rate_and_store, rated_store
from billing.statements import builder
from billing.statements.payments import balance_of, payments_to_apply
from billing.statements.pdf import CURRENT_TEMPLATE_VERSION
from billing.webhooks import webhook_emit


class BillingError(Exception):
    pass


NUMBER_PLACEHOLDER = "0000-000000"  # the shape of a statement number, never given out


class EInvoiceRejected(BillingError):
    """The statement's e-invoice failed the official rules: it is not issued and its period stays open."""

    def __init__(self, organization, period, report: dict):
        self.report = report
        failed = "; ".join(failed_rules(report)[:20])
        super().__init__(
            f"statement of {organization.account_number} for {period.start}–{period.end} not issued: its "
            f"{report['format']} e-invoice fails {len(report['errors'])} rule(s): {failed}"
        )


def _next_number(year: int) -> str:
    StatementNumberSequence.objects.get_or_create(year=year)
    seq = StatementNumberSequence.objects.select_for_update().get(year=year)
    seq.last_number += 1
    seq.save(update_fields=["last_number"])
    return f"{year}-{seq.last_number:06d}"


def statement_issue(*, organization: Organization, period: BillingPeriod, now: datetime | None = None) -> Statement:
    """Rate the period's usage and issue its statement; returns the existing one if already issued.

    Line descriptions are written in the organization's language (they are part of what is issued).
    Once an organization's billing has started, a period between its latest statement and this one that
    has no statement yet is issued first, oldest first, in the same transaction: numbers follow the
    periods and each previous balance counts every earlier statement (a missed month is caught up, never
    skipped). A period before an issued one is refused (see _statement_issue). Callers that queue the
    PDF and offers of what was issued use ``statement_issue_catching_up``, which returns them all.
    """
    return statement_issue_catching_up(organization=organization, period=period, now=now)[-1]


def statement_issue_catching_up(
    *, organization: Organization, period: BillingPeriod, now: datetime | None = None
) -> list[Statement]:
    """``statement_issue``, returning every statement of the run, oldest first: the missed earlier periods
    it caught up, then the period's own (issued now or found issued). Each needs its PDF and offers."""
    latest = (
        Statement.objects.filter(organization=organization, period_start__lt=period.start)
        .exclude(status=Statement.Status.DRAFT)
        .order_by("-period_start")
        .first()
    )
    issued = []
    with transaction.atomic(), translation.override(statement_language(organization)):
        if latest is not None:
            missed = period_containing(organization, latest.period_end + timedelta(days=1))
            while missed.start < period.start:
                issued.append(_statement_issue(organization=organization, period=missed, now=now))
                missed = period_containing(organization, missed.end + timedelta(days=1))
        issued.append(_statement_issue(organization=organization, period=period, now=now))
    return issued


def statement_language(organization: Organization) -> str:
    language = (organization.locale or "en").split("-")[0].lower()
    return language if language in {code for code, _name in settings.LANGUAGES} else "en"


@transaction.atomic
def _statement_issue(*, organization: Organization, period: BillingPeriod, now: datetime | None) -> Statement:
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext('billing.statement'), hashtext(%s))",
            [f"{organization.id}:{period.start.isoformat()}"],
        )
    existing = Statement.objects.filter(organization=organization, period_start=period.start).first()
    if existing is not None and existing.status != Statement.Status.DRAFT:
        return existing
    if now.astimezone(organization.tz).date() <= period.end:
        raise BillingError(f"period {period.start}–{period.end} of {organization.account_number} is not closed yet")
    later = (
        Statement.objects.filter(organization=organization, period_start__gt=period.start)
        .exclude(status=Statement.Status.DRAFT)
        .order_by("period_start")
        .first()
    )
    if later is not None:
        raise BillingError(
            f"period {period.start}–{period.end} of {organization.account_number} comes before statement "
            f"{later.number} ({later.period_start}–{later.period_end}), which is issued: its balance would be "
            "missing there"
        )
    if existing is not None:  # a draft left by an older version or a manual run: rebuild it
        existing.delete()

    currency = organization.currency
    statement = Statement.objects.create(
        organization=organization,
        period_start=period.start,
        period_end=period.end,
        currency=currency,
        language=statement_language(organization),
        tax_rate=organization.tax_rate,
        template_version=CURRENT_TEMPLATE_VERSION,
    )
    loaded = period_usage_load(organization=organization, period=period)
    rated = period_rate_and_store(organization, loaded, statement.id)
    result, extra = rated.result, loaded.extra
    late = late_usage_load(organization=organization, before=period.start)
    for item in late:
        rated_store(organization, item.rated, item.records, item.loaded, statement.id)

    adjustments = list(
        Adjustment.objects.select_for_update(of=("self",))
        .filter(organization=organization, applied_to__isnull=True)
        .select_related("corrects")
    )
    charged = [(r, extra) for r in result.rated] + [(r, item.loaded.extra) for item in late for r in item.records]
    longest = builder.longest_calls(result.rated, extra)
    directory = builder.Directory(
        locations=dict(organization.locations.values_list("id", "name")),
        persons=dict(organization.persons.values_list("id", "name")),
        masked=dict(
            UsageRecord.objects.filter(id__in=[r.usage.id for r in longest]).values_list("id", "destination_masked")
        ),
        numbers=dict(organization.lines.values_list("id", "number")),
        employee_numbers=dict(organization.persons.exclude(employee_number="").values_list("id", "employee_number")),
        plans={code: plan.name for code, plan in loaded.plans_by_code.items()},
    )
    for item in late:
        directory.plans.update({code: plan.name for code, plan in item.loaded.plans_by_code.items()})
    built = builder.statement_build(
        statement=statement,
        period=period,
        rated=rated,
        late=late,
        adjustments=adjustments,
        charged=charged,
        longest=longest,
        extra=extra,
        directory=directory,
        tz=organization.tz,
        tax_rate=organization.tax_rate,
        formatter=Formatter(organization, statement.language),
        vat_category=organization.effective_vat_category,
    )
    StatementLine.objects.bulk_create(built.lines)
    Adjustment.objects.filter(pk__in=[a.pk for a in adjustments]).update(applied_to=statement)
    StatementBreakdown.objects.bulk_create(built.breakdowns)
    previous = (
        Statement.objects.filter(
            organization=organization,
            status__in=(Statement.Status.ISSUED, Statement.Status.PAID),
            period_start__lt=period.start,
        )
        .order_by("-period_start")
        .first()
    )
    statement.issued_at = now
    issue_day = now.astimezone(organization.tz).date()
    statement.due_date = issue_day + timedelta(days=organization.payment_terms_days)
    # The balance (billing.statements.payments): what the previous statement asked for, less the
    # payments received since (each shown once, here), plus this statement's total.
    payments = payments_to_apply(organization=organization, through=issue_day)
    balance = balance_of(
        previous_due=previous.amount_due if previous else Decimal(0),
        payments=[p.amount for p in payments],
        new_charges=statement.total,
    )
    statement.previous_balance = balance.previous_balance
    statement.payments_total = balance.payments_total
    statement.balance_carried_forward = balance.carried_forward
    statement.total_due = balance.total_due
    statement.details["payments"] = [
        {"received_on": p.received_on.isoformat(), "reference": p.reference, "amount": str(p.amount)} for p in payments
    ]
    # Every statement is also an EN 16931 invoice, valid by the official rules, or it is not issued. It is
    # validated before the number is taken: the number's row lock serializes every issuing transaction until
    # commit, and validation takes a few hundred milliseconds (see einvoice_number).
    statement.number = NUMBER_PLACEHOLDER
    einvoice = einvoice_prepare(statement=statement, lines=built.lines)
    if einvoice is not None and not einvoice.valid:
        raise EInvoiceRejected(organization, period, einvoice.report)
    statement.number = _next_number(now.year)
    statement.status = Statement.Status.ISSUED
    if einvoice is not None:
        einvoice_number(einvoice=einvoice, lines=built.lines, number=statement.number, placeholder=NUMBER_PLACEHOLDER)
        einvoice.save()  # while the statement is still a draft: the child guard freezes it with the statement
    statement.save()
    Payment.objects.filter(pk__in=[p.pk for p in payments]).update(applied_to=statement)
    webhook_emit(
        organization=organization,
        event="statement.issued",
        event_id=f"statement.issued:{statement.number}",
        payload={
            "number": statement.number,
            "account_number": organization.account_number,
            "period_start": statement.period_start.isoformat(),
            "period_end": statement.period_end.isoformat(),
            "currency": statement.currency,
            "subtotal": str(statement.subtotal),
            "tax": str(statement.tax_amount),
            "total": str(statement.total),
            "total_due": str(statement.total_due),
            "due_date": statement.due_date.isoformat(),
        },
    )
    return statement


def adjustment_create(*, organization: Organization, amount: Decimal, reason: str, created_by=None, corrects=None):
    """A correction or credit for the next statement (issued statements never change)."""
    if not reason.strip():
        raise BillingError("an adjustment needs a reason")
    return Adjustment.objects.create(
        organization=organization, amount=amount, reason=reason.strip(), created_by=created_by, corrects=corrects
    )
