"""Celery beat: refresh every organization's bill audit findings (idempotent: a refresh recomputes)."""

from celery import shared_task

from billing.audit_findings.services import findings_refresh_all


@shared_task(name="billing.audit_findings.tasks.refresh_findings")
def refresh_findings() -> int:
    return findings_refresh_all()
