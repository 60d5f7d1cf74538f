"""The export views: the usage explorer's table and a drill-down as XLSX or CSV (small ones at once, large ones as a
Celery job with a progress page), each in the audit log. What is written, and how cells are protected
from running as formulas, is ``portal.exports`` and ``portal.spreadsheets``; this module turns the page's
URL (its form) into the domain query they take.
"""

from __future__ import annotations

import io

from django.conf import settings
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation

from billing.audit import AuditAction, audit_write
from billing.usage.selectors import Metric, RecordOrder, UsageQueryError
from portal.actors import actor_of_request
from portal.exports import (
    FORMATS,
    ExportQuery,
    count_records,
    export_dir,
    records_table,
    summary_table,
    write,
)
from portal.models import ExportJob
from portal.tasks import export_usage_records
from portal.web.access import portal_view
from portal.web.language import in_organization_language
from portal.web.usage import active_filters, add_selector_error
from portal.web.usage_forms import DIMENSION_LABELS, METRIC_LABELS, RecordsForm, UsageQueryForm


def _audit(request, action: AuditAction, target: str, details: dict) -> None:
    audit_write(
        organization=request.caller.scope.organization,
        action=action,
        actor=actor_of_request(request),
        target=target,
        details=details,
    )


def export_format(request) -> tuple[str, str]:
    fmt = request.GET.get("format", "csv")
    if fmt not in FORMATS:
        raise Http404("Unknown export format")
    return fmt, "semicolon" if request.GET.get("csv") == "semicolon" else "comma"


def export_response(fmt: str, dialect: str, table, filename: str):
    """The whole file, written now (in the page's language; a large drill-down goes to a job instead)."""
    buffer = io.BytesIO()
    write(buffer, table, fmt, dialect)
    response = HttpResponse(buffer.getvalue(), content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


def export_query(form: UsageQueryForm) -> ExportQuery:
    """The domain query of a valid explorer or drill-down form, with its filters in words."""
    order, descending = form.record_order() if isinstance(form, RecordsForm) else (RecordOrder.TIME, True)
    words = "; ".join(f"{label}: {values}" for label, values in active_filters(form))
    return ExportQuery(form.query().period, form.usage_filter(), order, descending, words)


def explorer_table(scope, form: UsageQueryForm):
    """The explorer's table of a valid form as a sheet (the export, and the scheduled report of a saved view)."""
    query = form.query()
    return summary_table(
        scope,
        export_query(form),
        group_by=query.group_by,
        dimension_labels=[str(DIMENSION_LABELS[d]) for d in query.group_by],
        order_by=query.sort,
        metric_label=str(METRIC_LABELS[query.sort or Metric.COST]),
        descending=query.descending,
        first=query.top,
    )


@portal_view()
@in_organization_language
def usage_export(request):
    fmt, dialect = export_format(request)
    scope = request.caller.scope
    form = UsageQueryForm(request.GET, scope=scope)
    if form.is_valid():
        try:
            table = explorer_table(scope, form)
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
        {"format": fmt, "query": request.GET.urlencode()[:1000], "rows": len(table.rows)},
    )
    filename = f"usage-{scope.organization.account_number}-{period.start}-{period.end}"
    return export_response(fmt, dialect, table, filename)


@portal_view()
@in_organization_language
def records_export(request):
    fmt, dialect = export_format(request)
    scope = request.caller.scope
    form = RecordsForm(request.GET, scope=scope)
    total = None
    if form.is_valid():
        try:
            query = export_query(form)
            total = count_records(scope, query)
        except UsageQueryError as exc:
            add_selector_error(form, exc)
    if form.errors:
        back = reverse("usage-records") + "?" + request.GET.urlencode()
        return render(request, "portal/usage/export_error.html", {"form": form, "back": back}, status=400)
    period = query.period
    target = f"{period.start}..{period.end}"
    if total > settings.PORTAL_EXPORT_SYNC_MAX_RECORDS:
        with transaction.atomic():  # the job and its audit row, together
            job = ExportJob.objects.create(
                organization=scope.organization,
                membership=request.caller.membership,
                kind="usage_records",
                file_format=fmt,
                params={**query.to_params(), "dialect": dialect, "language": translation.get_language()},
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
    return export_response(fmt, dialect, records_table(scope, query), filename)


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
@in_organization_language
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
        filename=f"calls-{job.organization.account_number}-{job.params.get('start', '')}-"
        f"{job.params.get('end', '')}.{job.file_format}",
    )
