"""The audit log's write path: every action type there is, and the one function that records one.

Each write action is one service that does its write and calls ``audit_write`` in the same transaction, so a
rolled-back action leaves no audit row and a committed one always has exactly one. Reads worth auditing (a PDF
download, an export) call it too. Who acted is an ``Actor``: the user, the API token they used (if any) and the
client's address, which the edge (web views, GraphQL, tasks) builds from its request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models

from billing.models.audit import AuditLog


class AuditAction(models.TextChoices):
    """Every action type the audit log knows. The values are the strings stored in ``AuditLog.action``."""

    # Signing in and out (portal.signin).
    LOGIN = "auth.login", "Signed in"
    LOGIN_FAILED = "auth.login_failed", "Sign-in failed"
    LOGIN_THROTTLED = "auth.login_throttled", "Sign-in refused (too many failures)"
    LOGOUT = "auth.logout", "Signed out"
    PASSWORD_SET = "auth.password_set", "Password set through a reset link"
    # API tokens.
    TOKEN_CREATED = "token.created", "API token created"
    TOKEN_USED = "token.used", "API token used"
    TOKEN_REVOKED = "token.revoked", "API token revoked"
    # Members, roles and the organization's settings.
    MEMBER_INVITED = "member.invited", "Member invited"
    INVITATION_ACCEPTED = "member.invitation_accepted", "Invitation accepted"
    INVITATION_DECLINED = "member.invitation_declined", "Invitation declined"
    INVITATION_REVOKED = "member.invitation_revoked", "Invitation withdrawn"
    MEMBER_ROLE_CHANGED = "member.role_changed", "Member's role changed"
    MEMBER_REMOVED = "member.removed", "Member removed"
    CONSENT_CHANGED = "consent.changed", "Personalization consent changed"
    EINVOICE_SETTINGS_CHANGED = "organization.einvoice_changed", "E-invoice settings changed"
    BUDGET_CREATED = "budget.created", "Budget created"
    BUDGET_DELETED = "budget.deleted", "Budget removed"
    SAVED_VIEW_CREATED = "saved_view.created", "Usage view saved"
    SAVED_VIEW_DELETED = "saved_view.deleted", "Saved usage view removed"
    # Statements.
    STATEMENT_PDF_DOWNLOADED = "statement.pdf_downloaded", "Statement PDF downloaded"
    STATEMENT_EINVOICE_DOWNLOADED = "statement.einvoice_downloaded", "Statement e-invoice (XML) downloaded"
    STATEMENT_CALLS_EXPORTED = "statement.calls_exported", "Statement calls exported"
    PAYMENT_RECORDED = "payment.recorded", "Payment recorded"
    DISPUTE_OPENED = "dispute.opened", "Statement line disputed"
    WEBHOOK_REGISTERED = "webhook.registered", "Webhook endpoint registered"
    # Offers.
    OFFER_ACCEPTED = "offer.accepted", "Offer accepted"
    OFFER_DECLINED = "offer.declined", "Offer declined"
    # Usage exports.
    EXPORT_USAGE_SUMMARY = "export.usage_summary", "Usage summary exported"
    EXPORT_USAGE_RECORDS = "export.usage_records", "Usage records exported"
    EXPORT_USAGE_RECORDS_QUEUED = "export.usage_records_queued", "Usage records export queued"
    EXPORT_DOWNLOAD = "export.download", "Export downloaded"
    EXPORT_USAGE_PIVOT = "export.usage_pivot", "Usage pivot exported"
    ANOMALY_ALERTS_CHANGED = "anomaly_alerts.changed", "Unusual-usage alerts changed"
    # Scheduled reports (portal.reports).
    REPORT_SCHEDULED = "report.scheduled", "Report scheduled"
    REPORT_UNSCHEDULED = "report.unscheduled", "Scheduled report removed"
    REPORT_UNSUBSCRIBED = "report.unsubscribed", "Unsubscribed from a scheduled report"
    REPORT_DELIVERED = "report.delivered", "Scheduled report delivered"
    # Bill audit findings (billing.audit_findings).
    FINDINGS_REFRESHED = "findings.refreshed", "Bill audit findings refreshed"
    FINDING_STATUS_CHANGED = "finding.status_changed", "Bill audit finding's status set"
    # Usage imports.
    IMPORT_VOIDED = "import.voided", "Import voided"
    # Cost centres and chargeback (billing.costcentres).
    COST_CENTRE_CREATED = "cost_centre.created", "Cost centre created"
    COST_CENTRE_CHANGED = "cost_centre.changed", "Cost centre changed"
    ALLOCATION_RULE_SET = "allocation_rule.set", "Cost allocation rule set"
    ALLOCATION_RULE_ENDED = "allocation_rule.ended", "Cost allocation rule ended"
    JOURNAL_SETTINGS_CHANGED = "journal_settings.changed", "Journal settings changed"
    JOURNAL_EXPORTED = "export.journal", "Chargeback journal exported"


@dataclass(frozen=True)
class Actor:
    """Who did it: a user, the API token they acted with (None in a browser session), the client's address.

    ``token`` is the edge's token object (or None); the domain only stores a reference to it."""

    user: Any = None
    token: Any = None
    ip_address: str | None = None


SYSTEM = Actor()  # a scheduled task or a management command: no user, no token, no address


def audit_write(
    *,
    organization,
    action: AuditAction | str,
    actor: Actor | None = None,
    target: str = "",
    details: dict | None = None,
) -> AuditLog:
    """Record one action. Call it inside the transaction of the write it records.

    ``action`` must be one of ``AuditAction`` (a plain string is accepted only if it is one of its values), so
    every action type is listed in one place. ``organization`` is None only for actions before one is known
    (a failed sign-in)."""
    action = AuditAction(action)  # ValueError for an action type nobody enumerated
    actor = actor or SYSTEM
    return AuditLog.objects.create(
        organization=organization,
        user=actor.user,
        token=actor.token,
        ip_address=actor.ip_address,
        action=action.value,
        target=str(target)[:200],
        details=details or {},
    )


def actor_of(actor: Actor | None = None, user=None) -> Actor:
    """The actor of a service that takes either ``actor=`` (from the edge, with token and address) or only
    ``user=`` (staff actions, commands, older callers)."""
    if actor is not None:
        if user is not None and user != actor.user:
            raise ValueError("pass the user inside the actor, not beside it")
        return actor
    return Actor(user=user)
