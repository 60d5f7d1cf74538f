"""Storing findings and setting their status: each service one transaction with its audit row."""

from __future__ import annotations

import logging
from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.audit import SYSTEM, Actor, AuditAction, audit_write
from billing.audit_findings import rules
from billing.models import BillFinding, Organization

logger = logging.getLogger(__name__)


class FindingError(ValueError):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def findings_compute(*, organization: Organization, as_of: date, now: datetime) -> list[rules.Found]:
    """Every rule's findings for the organization on its local day ``as_of`` (reads only)."""
    return [
        *rules.idle_lines(organization, as_of, settings.FINDINGS_IDLE_DAYS),
        *rules.overage_lines(organization, as_of, settings.FINDINGS_OVERAGE_MONTHS),
        *rules.unassigned_lines(organization, as_of, now),
        *rules.rate_differs(organization, as_of),
    ]


@transaction.atomic
def findings_refresh(*, organization: Organization, now: datetime | None = None) -> list[BillFinding]:
    """Recompute the organization's findings as of today (its local date): new ones open, known ones get
    their new value and keep the status people gave them, ones no longer found go inactive. Idempotent."""
    now = now or timezone.now()
    as_of = now.astimezone(organization.tz).date()
    found = findings_compute(organization=organization, as_of=as_of, now=now)
    known = {(f.kind, f.line_id): f for f in BillFinding.objects.select_for_update().filter(organization=organization)}
    kept = []
    created = 0
    for item in found:
        finding = known.pop((item.kind, item.line_id), None)
        if finding is None:
            finding = BillFinding(organization=organization, kind=item.kind, line_id=item.line_id, first_found_at=now)
            created += 1
        finding.monthly_value = item.monthly_value
        finding.currency = organization.currency
        finding.details = item.details
        finding.person_id = item.person_id
        finding.suggested_plan_id = item.suggested_plan_id
        finding.active = True
        finding.last_found_at = now
        finding.save()
        kept.append(finding)
    gone = [f.pk for f in known.values() if f.active]
    BillFinding.objects.filter(pk__in=gone).update(active=False)
    audit_write(
        organization=organization,
        actor=SYSTEM,
        action=AuditAction.FINDINGS_REFRESHED,
        target=as_of.isoformat(),
        details={"found": len(kept), "new": created, "no_longer_found": len(gone)},
    )
    return kept


@transaction.atomic
def finding_set_status(*, finding: BillFinding, status: str, actor: Actor, note: str = "") -> BillFinding:
    """Someone who may see the finding marks it open, dismissed (not a problem) or done (acted on)."""
    if status not in BillFinding.Status.values:
        raise FindingError(f"status must be one of {', '.join(BillFinding.Status.values)}", field="status")
    if len(note) > 500:
        raise FindingError("the note is longer than 500 characters", field="note")
    finding = BillFinding.objects.select_for_update().select_related("line").get(pk=finding.pk)
    before = finding.status
    finding.status = status
    finding.note = note.strip()
    finding.status_changed_by = actor.user
    finding.status_changed_at = timezone.now()
    finding.save(update_fields=["status", "note", "status_changed_by", "status_changed_at"])
    audit_write(
        organization=finding.organization,
        actor=actor,
        action=AuditAction.FINDING_STATUS_CHANGED,
        target=f"{finding.kind} {finding.line.number}",
        details={"before": before, "after": status, "note": finding.note, "monthly_value": str(finding.monthly_value)},
    )
    return finding


def findings_refresh_all(now: datetime | None = None) -> int:
    count = 0
    for organization in Organization.objects.order_by("id"):
        try:
            count += len(findings_refresh(organization=organization, now=now))
        except Exception:  # one organization's failure must not stop the others' findings
            logger.exception("bill audit findings failed for organization %s", organization.pk)
    return count
