"""Thin Celery tasks of the portal: large exports, built outside the request."""

import logging

from celery import shared_task
from django.http import QueryDict
from django.utils import timezone

from portal.models import ExportJob
from portal.scopes import scope_for

logger = logging.getLogger(__name__)
PROGRESS_EVERY = 2_000  # rows between progress updates: often enough for the bar, few writes


@shared_task(acks_late=True)
def export_usage_records(job_id: int) -> str:
    """Build the file of an export job. Idempotent: a ready job is left alone, a re-run rewrites the file.

    The scope is rebuilt from the membership now, so a role narrowed since the request also narrows
    the export.
    """
    from portal.web.exports import write_job_file
    from portal.web.usage_forms import RecordsForm

    job = ExportJob.objects.select_related("organization", "membership__organization").filter(pk=job_id).first()
    if job is None or job.status == ExportJob.Status.READY:
        return job.status if job else "missing"
    scope = scope_for(job.membership)
    params = QueryDict(mutable=True)
    for key, values in job.params.items():
        params.setlist(key, values)
    form = RecordsForm(params, scope=scope)
    if not form.is_valid():
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.FAILED, error=form.errors.as_text()[:2000], finished_at=timezone.now()
        )
        return ExportJob.Status.FAILED
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING, rows_done=0)
    last = [0, 0]  # rows done, rows at the last progress update

    def progress(done: int) -> None:
        last[0] = done
        if done - last[1] >= PROGRESS_EVERY:
            last[1] = done
            ExportJob.objects.filter(pk=job.pk).update(rows_done=done)

    try:
        name = write_job_file(job, scope, form, progress)
    except Exception as exc:
        logger.exception("export %s failed", job.pk)
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    done = last[0]
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.READY, file=name, rows_done=done, finished_at=timezone.now(), error=""
    )
    return f"{ExportJob.Status.READY} {done}"
