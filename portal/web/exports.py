"""The export views: the usage explorer's table and a drill-down as CSV or XLSX (small ones at once, large ones as a
Celery job with a progress page), each in the audit log. What is written, and how cells are protected
from running as formulas, is ``portal.exports``.
"""

from __future__ import annotations

import io

from django.conf import settings
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from billing.audit import AuditAction, audit_write
from billing.usage.selectors import UsageQueryError
from portal.actors import actor_of_request
from portal.exports import (
    FORMATS,
    count_records,
    csv_lines,
    export_dir,
    record_header,
    record_rows,
    summary_table,
    write_xlsx,
)
from portal.models import ExportJob
from portal.tasks import export_usage_records
from portal.web.access import portal_view
from portal.web.usage import add_selector_error
from portal.web.usage_forms import RecordsForm, UsageQueryForm, resolved_params


def _audit(request, action: AuditAction, target: str, details: dict) -> None:
    audit_write(
        organization=request.caller.scope.organization,
        action=action,
        actor=actor_of_request(request),
        target=target,
        details=details,
    )


def _response(fmt: str, header, rows, filename: str, title: str):
    if fmt == "xlsx":
        buffer = io.BytesIO()
        write_xlsx(buffer, header, rows, title=title)
        response = HttpResponse(buffer.getvalue(), content_type=FORMATS["xlsx"])
    else:
        response = StreamingHttpResponse(csv_lines(header, rows), content_type=FORMATS["csv"])
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


@portal_view()
def usage_export(request):
    fmt = request.GET.get("format", "csv")
    if fmt not in FORMATS:
        raise Http404("Unknown export format")
    scope = request.caller.scope
    form = UsageQueryForm(request.GET, scope=scope)
    if form.is_valid():
        try:
            header, rows = summary_table(scope, form.query(), request.GET)
        except UsageQueryError as exc:
            add_selector_error(form, exc)
    if form.errors:
        messages_page = reverse("usage") + "?" + request.GET.urlencode()
        return render(request, "portal/usage/export_error.html", {"form": form, "back": messages_page}, status=400)
    period = form.cleaned_data["resolved_period"]
    _audit(
        request,
        AuditAction.EXPORT_USAGE_SUMMARY,
        f"{period.start}..{period.end}",
        {"format": fmt, "query": request.GET.urlencode()[:1000], "rows": len(rows)},
    )
    filename = f"usage-{scope.organization.account_number}-{period.start}-{period.end}"
    return _response(fmt, header, rows, filename, "Usage")


@portal_view()
def records_export(request):
    fmt = request.GET.get("format", "csv")
    if fmt not in FORMATS:
        raise Http404("Unknown export format")
    scope = request.caller.scope
    form = RecordsForm(request.GET, scope=scope)
    total = None
    if form.is_valid():
        try:
            total = count_records(scope, form.query())
        except UsageQueryError as exc:
            add_selector_error(form, exc)
    if form.errors:
        back = reverse("usage-records") + "?" + request.GET.urlencode()
        return render(request, "portal/usage/export_error.html", {"form": form, "back": back}, status=400)
    period = form.cleaned_data["resolved_period"]
    target = f"{period.start}..{period.end}"
    if total > settings.PORTAL_EXPORT_SYNC_MAX_RECORDS:
        with transaction.atomic():  # the job and its audit row, together
            job = ExportJob.objects.create(
                organization=scope.organization,
                membership=request.caller.membership,
                kind="usage_records",
                file_format=fmt,
                params=resolved_params(form),
                rows_total=total,
            )
            _audit(
                request, AuditAction.EXPORT_USAGE_RECORDS_QUEUED, target, {"format": fmt, "job": job.id, "rows": total}
            )
            transaction.on_commit(lambda: export_usage_records.delay(job.id))
        return redirect("export-job", job_id=job.id)
    _audit(
        request,
        AuditAction.EXPORT_USAGE_RECORDS,
        target,
        {"format": fmt, "query": request.GET.urlencode()[:1000], "rows": total},
    )
    filename = f"calls-{scope.organization.account_number}-{period.start}-{period.end}"
    return _response(fmt, record_header(scope), record_rows(scope, form), filename, "Calls")


# --- Export jobs -----------------------------------------------------------------------------------


def _job(request, job_id: int) -> ExportJob:
    """A job of this user in the acting organization; anyone else's is not found."""
    job = ExportJob.objects.filter(
        pk=job_id, membership__user=request.user, organization=request.caller.scope.organization
    ).first()
    if job is None:
        raise Http404("No such export")
    return job


def job_status(job: ExportJob) -> dict:
    return {
        "id": job.id,
        "status": job.status,
        "status_label": job.get_status_display(),
        "progress": job.progress,
        "rows_done": job.rows_done,
        "rows_total": job.rows_total,
        "download_url": reverse("export-download", args=[job.id]) if job.status == ExportJob.Status.READY else None,
        "error": job.error if job.status == ExportJob.Status.FAILED else "",
    }


@portal_view()
def export_job(request, job_id: int):
    job = _job(request, job_id)
    return render(request, "portal/usage/export_job.html", {"job": job, "status": job_status(job)})


@portal_view()
def export_job_status(request, job_id: int):
    return JsonResponse(job_status(_job(request, job_id)))


@portal_view()
def export_download(request, job_id: int):
    job = _job(request, job_id)
    path = export_dir() / job.file if job.file else None
    if job.status != ExportJob.Status.READY or path is None or not path.is_file():
        raise Http404("This export is not ready")
    _audit(request, AuditAction.EXPORT_DOWNLOAD, f"export {job.id}", {"kind": job.kind, "format": job.file_format})
    return FileResponse(
        path.open("rb"),
        content_type=FORMATS[job.file_format],
        as_attachment=True,
        filename=f"calls-{job.organization.account_number}-{job.params.get('start', [''])[0]}-"
        f"{job.params.get('end', [''])[0]}.{job.file_format}",
    )
