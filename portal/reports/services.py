"""Scheduling a report, removing it, and unsubscribing from it: each one transaction with its audit row.

Who may receive a schedule: someone who sees at least what its owner sees (the report is built with the
owner's scope): the whole organization's viewers always; a location manager whose locations include all of
the owner's; for a report that needs billing, only those who see the organization's charges. This is
checked when the schedule is made AND again at every delivery (``delivery``), as roles change.
"""

from __future__ import annotations

from django.core import signing
from django.db import transaction
from django.utils import timezone

from billing.audit import Actor, AuditAction, audit_write
from billing.models import WebhookEndpoint
from billing.usage.scope import Scope
from portal.models import Membership, ScheduledReport
from portal.reports import kinds  # noqa: F401 - registers this module's kinds
from portal.reports.registry import FORMATS, KINDS
from portal.scopes import scope_for

UNSUBSCRIBE_SALT = "portal.reports.unsubscribe"


class ReportError(ValueError):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def covers(viewer: Scope, owner: Scope) -> bool:
    """Whether ``viewer`` sees everything ``owner`` sees (usage and charges)."""
    if owner.sees_billing and not viewer.sees_billing:
        return False
    if viewer.whole_organization:
        return True
    if viewer.person_ids is not None:
        return owner.person_ids is not None and owner.location_ids is None and owner.person_ids <= viewer.person_ids
    return owner.location_ids is not None and owner.person_ids is None and owner.location_ids <= viewer.location_ids


def may_receive(report_kind, owner: Membership, recipient: Membership) -> bool:
    if recipient.organization_id != owner.organization_id or not recipient.user.is_active:
        return False
    recipient_scope = scope_for(recipient)
    if report_kind is not None and report_kind.needs_billing and not recipient_scope.sees_billing:
        return False
    return covers(recipient_scope, scope_for(owner))


@transaction.atomic
def report_schedule(
    *,
    owner: Membership,
    name: str,
    kind: str,
    source: str = "",
    file_format: str = "xlsx",
    frequency: str,
    channel: str = ScheduledReport.Channel.EMAIL,
    recipients=(),
    webhook: WebhookEndpoint | None = None,
    actor: Actor,
    now=None,
) -> ScheduledReport:
    """Schedule a report; ``now`` (tests pin it) is when it starts: statements issued before are not sent."""
    org = owner.organization
    name = (name or "").strip()
    if not name:
        raise ReportError("Give the report a name.", field="name")
    report_kind = KINDS.get(kind)
    if report_kind is None:
        raise ReportError(f"Unknown report kind {kind!r}; one of {', '.join(sorted(KINDS))}.", field="kind")
    if report_kind.needs_billing and not scope_for(owner).sees_billing:
        raise ReportError("Your role does not see the organization's charges this report needs.", field="kind")
    if source not in {value for value, _label in report_kind.choices(owner)}:
        raise ReportError(f"Choose one of your {report_kind.label.lower()} sources.", field="source")
    if file_format not in FORMATS:
        raise ReportError(f"The file format must be one of {', '.join(FORMATS)}.", field="file_format")
    if frequency not in ScheduledReport.Frequency.values:
        raise ReportError("Choose after each statement, weekly or monthly.", field="frequency")
    recipients = list(recipients)
    if channel == ScheduledReport.Channel.EMAIL:
        if not recipients:
            raise ReportError("Choose at least one member to send it to.", field="recipients")
        refused = [m.user.get_username() for m in recipients if not may_receive(report_kind, owner, m)]
        if refused:
            raise ReportError(
                "These members do not see everything this report shows (your scope): " + ", ".join(refused),
                field="recipients",
            )
        webhook = None
    elif channel == ScheduledReport.Channel.WEBHOOK:
        if webhook is None or webhook.organization_id != org.id or not webhook.active:
            raise ReportError("Choose one of the organization's active webhook endpoints.", field="webhook")
        if not scope_for(owner).whole_organization:
            raise ReportError("Only reports of the whole organization go to a webhook.", field="channel")
        recipients = []
    else:
        raise ReportError("Send by email or to a webhook.", field="channel")
    if ScheduledReport.objects.filter(organization=org, owner=owner, name=name).exists():
        raise ReportError(f"You already have a scheduled report named “{name}”.", field="name")
    report = ScheduledReport.objects.create(
        organization=org,
        owner=owner,
        name=name,
        kind=kind,
        source=source,
        file_format=file_format,
        frequency=frequency,
        channel=channel,
        webhook=webhook,
        created_at=now or timezone.now(),
    )
    report.recipients.set(recipients)
    audit_write(
        organization=org,
        actor=actor,
        action=AuditAction.REPORT_SCHEDULED,
        target=name,
        details={
            "kind": kind,
            "source": source,
            "format": file_format,
            "frequency": frequency,
            "channel": channel,
            "recipients": sorted(m.user.get_username() for m in recipients),
            "webhook": webhook.url if webhook else None,
        },
    )
    return report


@transaction.atomic
def report_unschedule(*, report: ScheduledReport, actor: Actor) -> None:
    audit_write(
        organization=report.organization,
        actor=actor,
        action=AuditAction.REPORT_UNSCHEDULED,
        target=report.name,
        details={"kind": report.kind, "owner": report.owner.user.get_username()},
    )
    report.delete()


def unsubscribe_token(report: ScheduledReport, membership: Membership) -> str:
    """The signed value of one recipient's unsubscribe link (no expiry: it must work in an old email)."""
    return signing.dumps({"r": report.pk, "m": membership.pk}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_target(token: str) -> tuple[ScheduledReport, Membership] | None:
    try:
        value = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    report = ScheduledReport.objects.filter(pk=value.get("r")).select_related("organization").first()
    membership = Membership.objects.filter(pk=value.get("m")).select_related("user").first()
    if report is None or membership is None or membership.organization_id != report.organization_id:
        return None
    return report, membership


@transaction.atomic
def report_unsubscribe(*, report: ScheduledReport, membership: Membership, actor: Actor) -> bool:
    """Take ``membership`` off the report's recipients (the signed link proves who asked). Idempotent."""
    if not report.recipients.filter(pk=membership.pk).exists():
        return False
    report.recipients.remove(membership)
    audit_write(
        organization=report.organization,
        actor=actor if actor.user is not None else Actor(user=membership.user, ip_address=actor.ip_address),
        action=AuditAction.REPORT_UNSUBSCRIBED,
        target=report.name,
        details={"recipient": membership.user.get_username()},
    )
    return True
