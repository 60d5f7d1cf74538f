"""Thin Celery tasks of the portal: large exports, built outside the request."""

from celery import shared_task

from portal.exports import export_job_run


@shared_task(acks_late=True)
def export_usage_records(job_id: int) -> str:
    """Build the file of an export job (idempotent: see ``portal.exports.export_job_run``)."""
    return export_job_run(job_id)
