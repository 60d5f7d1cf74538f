"""When a scheduled report is due, and delivering it: by email (one message per recipient, with the file
attached and their own unsubscribe link) or to a webhook endpoint through ``billing.webhooks`` (the same
address checks, pinned connection, signature and attempt log as every webhook).

Due: after a statement — each statement issued since the schedule was made (key ``statement:<id>``);
weekly — the previous Monday to Sunday in the organization's time zone (``week:<ISO week>``); monthly —
the last closed billing period (``month:<start>``). A delivery row is unique per (report, key), so a
period is delivered once however often the beat runs; a failed try is retried by the task with
``billing.retries`` backoff, up to REPORT_MAX_ATTEMPTS, and every try is counted in the log.

At every delivery the report is built with its owner's scope as it is then (a location manager's report
covers their locations of that day; an owner who left delivers nothing) and recipients who no longer see
all of it are skipped and named in the log.
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from billing.audit import SYSTEM, AuditAction, audit_write
from billing.formatting import Formatter, locale_of
from billing.models import Statement, WebhookDelivery
from billing.periods import last_closed_period
from billing.usage.selectors import Period
from billing.webhooks import webhook_attempt
from portal.models import Membership, ReportDelivery, ScheduledReport
from portal.reports.kinds import ReportSourceError
from portal.reports.registry import KINDS, render
from portal.reports.services import may_receive, unsubscribe_token
from portal.scopes import scope_for

logger = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """A try that may succeed later (mail server, receiver down): the task retries it."""


def due_period(report: ScheduledReport, now: datetime) -> tuple[str, Period] | None:
    org = report.organization
    if report.frequency == ScheduledReport.Frequency.AFTER_STATEMENT:
        statement = (
            Statement.objects.filter(
                organization=org,
                status__in=(Statement.Status.ISSUED, Statement.Status.PAID),
                issued_at__gte=report.created_at,
                issued_at__lte=now,
            )
            .order_by("-issued_at")
            .first()
        )
        if statement is None:
            return None
        return f"statement:{statement.pk}", Period(statement.period_start, statement.period_end)
    if report.frequency == ScheduledReport.Frequency.WEEKLY:
        today = now.astimezone(org.tz).date()
        monday = today - timedelta(days=today.weekday())
        start = monday - timedelta(days=7)
        year, week, _day = start.isocalendar()
        return f"week:{year}-W{week:02d}", Period(start, monday - timedelta(days=1))
    last = last_closed_period(org, now)
    return f"month:{last.start.isoformat()}", Period(last.start, last.end)


def reports_due(now: datetime | None = None) -> list[int]:
    """Create the delivery of every report due now (once per period); the ids of those to send."""
    now = now or timezone.now()
    ids = []
    for report in ScheduledReport.objects.select_related("organization").order_by("id"):
        due = due_period(report, now)
        if due is None:
            continue
        key, period = due
        delivery, created = ReportDelivery.objects.get_or_create(
            organization=report.organization,
            report=report,
            key=key,
            defaults={"period_start": period.start, "period_end": period.end, "created_at": now},
        )
        if created:
            ids.append(delivery.pk)
    return ids


def _email(report, rendered, recipient: Membership, period_text: str) -> EmailMessage:
    link = settings.PORTAL_BASE_URL.rstrip("/") + reverse(
        "report-unsubscribe", args=[unsubscribe_token(report, recipient)]
    )
    body = _(
        "Hello,\n\nattached is “%(name)s” of %(organization)s for %(period)s (%(file)s).\n\n"
        "You get it because %(owner)s scheduled it for you. To stop receiving it: %(link)s\n"
    ) % {
        "name": report.name,
        "organization": report.organization.name,
        "period": period_text,
        "file": rendered.filename,
        "owner": report.owner.user.get_username(),
        "link": link,
    }
    message = EmailMessage(
        subject=_("%(name)s: %(period)s") % {"name": report.name, "period": period_text},
        body=body,
        to=[recipient.user.email],
        headers={"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    message.attach(rendered.filename, rendered.content, rendered.content_type)
    return message


def _webhook(report, delivery, rendered) -> None:
    endpoint = report.webhook
    if endpoint is None or not endpoint.active:
        raise ReportSourceError(_("The report's webhook endpoint was removed or switched off."))
    hook, _created = WebhookDelivery.objects.get_or_create(
        endpoint=endpoint,
        event_id=f"report-{delivery.pk}",
        defaults={
            "event": "report.delivered",
            "payload": {
                "report": report.name,
                "kind": report.kind,
                "period_start": delivery.period_start.isoformat(),
                "period_end": delivery.period_end.isoformat(),
                "filename": rendered.filename,
                "content_type": rendered.content_type,
                "content_base64": base64.b64encode(rendered.content).decode(),
            },
        },
    )
    if not webhook_attempt(hook):
        raise DeliveryFailed(hook.attempts.order_by("-at").values_list("error", flat=True).first() or "not delivered")
    WebhookDelivery.objects.filter(pk=hook.pk).update(
        status=WebhookDelivery.Status.DELIVERED, delivered_at=timezone.now()
    )


def delivery_send(delivery_id: int) -> str:
    """Build and send one delivery (a no-op once sent). Raises DeliveryFailed for a try worth repeating."""
    delivery = ReportDelivery.objects.select_related("report__organization", "report__owner__user").get(pk=delivery_id)
    if delivery.status == ReportDelivery.Status.SENT:
        return "sent"
    report = delivery.report
    ReportDelivery.objects.filter(pk=delivery.pk).update(attempts=F("attempts") + 1)
    owner = (
        Membership.objects.filter(pk=report.owner_id, user__is_active=True)
        .select_related("organization", "user")
        .first()
    )
    kind = KINDS.get(report.kind)
    try:
        if owner is None or kind is None:
            raise ReportSourceError(_("The report's owner or kind is gone."))
        scope = scope_for(owner)  # the owner's scope today, not the day the report was scheduled
        period = Period(delivery.period_start, delivery.period_end)
        organization = report.organization
        with translation.override(locale_of(organization).split("_")[0]):
            table = kind.build(scope, report.source, period)
            basename = f"{report.name}-{period.start}-{period.end}".replace(" ", "-").replace("/", "-")
            rendered = render(table, report.file_format, basename)
            fmt = Formatter(organization)
            period_text = f"{fmt.date(period.start)} – {fmt.date(period.end)}"
            sent_to, skipped = list(delivery.sent_to), []  # a retry does not send twice to the same address
            if report.channel == ScheduledReport.Channel.WEBHOOK:
                _webhook(report, delivery, rendered)
                sent_to = [report.webhook.url]
            else:
                for recipient in report.recipients.select_related("user", "organization").order_by("user__username"):
                    if not recipient.user.email or not may_receive(kind, owner, recipient):
                        skipped.append(recipient.user.get_username())
                        continue
                    if recipient.user.email in sent_to:
                        continue
                    _email(report, rendered, recipient, period_text).send()
                    sent_to.append(recipient.user.email)
                    ReportDelivery.objects.filter(pk=delivery.pk).update(sent_to=sent_to)
    except ReportSourceError as error:  # nothing a retry would change
        ReportDelivery.objects.filter(pk=delivery.pk).update(
            status=ReportDelivery.Status.FAILED, error=str(error)[:300]
        )
        return "failed"
    except DeliveryFailed:
        raise
    except OSError as error:  # the mail server
        logger.warning("report delivery %s: %s", delivery.pk, error)
        ReportDelivery.objects.filter(pk=delivery.pk).update(error=_("could not send the email (will retry)"))
        raise DeliveryFailed(str(error)) from error
    with transaction.atomic():
        ReportDelivery.objects.filter(pk=delivery.pk).update(
            status=ReportDelivery.Status.SENT,
            sent_to=sent_to,
            skipped=skipped,
            filename=rendered.filename,
            error="",
            delivered_at=timezone.now(),
        )
        audit_write(
            organization=report.organization,
            actor=SYSTEM,
            action=AuditAction.REPORT_DELIVERED,
            target=report.name,
            details={"key": delivery.key, "to": sent_to, "skipped": skipped, "file": rendered.filename},
        )
    return "sent"


def delivery_give_up(delivery_id: int, error: str) -> None:
    ReportDelivery.objects.filter(pk=delivery_id).update(status=ReportDelivery.Status.FAILED, error=error[:300])
