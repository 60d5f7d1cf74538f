"""Thin Celery tasks for the billing run: ids in, a service call, idempotent, acknowledged late."""

import logging
from datetime import date, timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from billing.contacts import billing_recipients
from billing.models import Organization, Statement
from billing.periods import last_closed_period, period_containing
from billing.rating.store import usage_rate_open_period
from billing.retries import backoff_countdown, database_retry_countdown
from billing.statements.hooks import statement_after_issue
from billing.statements.pdf import statement_render
from billing.statements.services import BillingError, statement_issue_catching_up

logger = logging.getLogger(__name__)

# The database went away (a restart, a failover, a dropped connection): nothing is wrong with the work
# itself, so it is retried soon and for long enough to ride out a restart (2, 4, ... 60 s, ~15 minutes in
# all) without counting as a rendering failure. Django reconnects on the next query (CONN_HEALTH_CHECKS).
DATABASE_ERRORS = (OperationalError, InterfaceError)
DATABASE_MAX_RETRIES = 20


@shared_task(
    acks_late=True,
    autoretry_for=(Exception,),
    dont_autoretry_for=(BillingError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=8,
    bind=True,
)
def issue_statement(self, organization_id: int, period_start: str) -> int:
    """Issue the statement of one organization and period (no-op when it exists), then render its PDF."""
    try:
        return _issue_statement(organization_id, period_start)
    except DATABASE_ERRORS as exc:
        # A crash mid-transaction rolled everything back (number included); issuing again is idempotent.
        logger.warning("database unavailable while issuing for organization %s: %s", organization_id, exc)
        raise self.retry(
            exc=exc, countdown=database_retry_countdown(self.request.retries), max_retries=DATABASE_MAX_RETRIES
        ) from exc


def _issue_statement(organization_id: int, period_start: str) -> int:
    organization = Organization.objects.get(pk=organization_id)
    period = period_containing(organization, date.fromisoformat(period_start))
    with transaction.atomic():
        # Missed earlier periods caught up by the same run get their offers and PDF queued like the
        # period's own statement (they used to wait for the six-hour sweep).
        statements = statement_issue_catching_up(organization=organization, period=period)
        for statement in statements:
            statement_queue_follow_ups(statement)
    return statements[-1].pk


def statement_queue_follow_ups(statement: Statement) -> None:
    """After the issuing transaction commits: what the hooks queue (the statement's offers), then its PDF.

    The hooks first: the PDF renders with the offers frozen for the statement. Should the render run
    first, it freezes them itself (statement_render); either way they are computed once."""
    statement_after_issue(statement)
    if statement.pdf_status != Statement.PdfStatus.READY:
        transaction.on_commit(lambda pk=statement.pk: render_statement_pdf.delay(pk))


@shared_task(bind=True, acks_late=True, max_retries=8)
def render_statement_pdf(self, statement_id: int) -> None:
    """Render (or re-render) the PDF; on failure the statement stays issued and the error is visible."""
    try:
        _render_statement_pdf(self, statement_id)
    except DATABASE_ERRORS as exc:
        # Not the PDF's fault (and recording a failure would need the database too): retry soon.
        logger.warning("database unavailable while rendering statement %s: %s", statement_id, exc)
        raise self.retry(
            exc=exc, countdown=database_retry_countdown(self.request.retries), max_retries=DATABASE_MAX_RETRIES
        ) from exc


def _render_statement_pdf(task, statement_id: int) -> None:
    statement = Statement.objects.select_related("organization").get(pk=statement_id)
    if statement.status == Statement.Status.DRAFT:
        return
    first_time = statement.pdf_status != Statement.PdfStatus.READY
    try:
        statement_render(statement=statement)
    except DATABASE_ERRORS:
        raise
    except Exception as exc:
        Statement.objects.filter(pk=statement_id).update(
            pdf_status=Statement.PdfStatus.FAILED, pdf_attempts=statement.pdf_attempts + 1, pdf_error=str(exc)[:2000]
        )
        logger.exception("rendering statement %s failed", statement.number)
        raise task.retry(exc=exc, countdown=backoff_countdown(task.request.retries, cap=3600)) from exc
    Statement.objects.filter(pk=statement_id).update(pdf_attempts=statement.pdf_attempts + 1)
    if first_time:
        notify_statement_ready.delay(statement_id)


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def notify_statement_ready(statement_id: int) -> None:
    """Email the organization's administrators and analysts that the statement is ready."""
    statement = Statement.objects.select_related("organization").filter(pk=statement_id).first()
    if statement is None:  # a message about a statement this database does not have: retrying won't help
        logger.warning("notify_statement_ready: no statement %s, message dropped", statement_id)
        return
    recipients = billing_recipients(statement.organization)
    if not recipients:
        return
    send_mail(
        subject=f"Your statement {statement.number} is ready",
        message=(
            f"Statement {statement.number} for {statement.organization.name} "
            f"({statement.period_start} – {statement.period_end}) is ready in the portal.\n"
            f"Total due: {statement.amount_due} {statement.currency}, due on {statement.due_date}.\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )


PDF_LOST_AFTER = timedelta(hours=6)


@shared_task(
    acks_late=True,
    autoretry_for=DATABASE_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=False,
    max_retries=DATABASE_MAX_RETRIES,
)
def run_daily_billing() -> int:
    """Beat task: start a billing run for each organization whose last closed period has no statement."""
    started = 0
    now = timezone.now()
    for organization in Organization.objects.all():
        period = last_closed_period(organization, now)
        if (
            not Statement.objects.filter(organization=organization, period_start=period.start)
            .exclude(status=Statement.Status.DRAFT)
            .exists()
        ):
            issue_statement.delay(organization.pk, period.start.isoformat())
            started += 1
    # A PDF still waiting six hours after its statement was issued lost its render task (a broker that
    # lost its data, a publish that gave up during a long outage): send it once more, in the hour it
    # turns six hours old, so a backlog is never multiplied by the hourly sweep.
    lost = (
        Statement.objects.filter(
            pdf_status=Statement.PdfStatus.PENDING,
            issued_at__lt=now - PDF_LOST_AFTER,
            issued_at__gte=now - PDF_LOST_AFTER - timedelta(hours=1),
        )
        .exclude(status=Statement.Status.DRAFT)
        .values_list("pk", flat=True)
    )
    for statement_id in lost:
        logger.warning("statement %s: PDF still pending, sending its render again", statement_id)
        render_statement_pdf.delay(statement_id)
    return started


@shared_task(acks_late=True)
def rate_open_periods() -> int:
    """Beat task: price each organization's open-period usage so far (idempotent)."""
    return sum(usage_rate_open_period(organization=org) for org in Organization.objects.all())
