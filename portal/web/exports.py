"""CSV and XLSX exports of the usage explorer's table and of a drill-down, and large exports in Celery.

Every text cell goes through ``safe_cell`` (the statement CSV's formula guard): a cell starting with
=, +, -, @, tab or CR could run as a formula in a spreadsheet. Numbers are written as numbers. Every
export and download is in the audit log.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from openpyxl import Workbook

from billing.audit import AuditAction, audit_write
from billing.usage.scope import Scope
from billing.usage.selectors import MAX_PAGE, UsageQueryError, usage_records, usage_summary
from portal.actors import actor_of_request
from portal.models import ExportJob
from portal.web.access import portal_view
from portal.web.csv_rows import cell as _cell
from portal.web.csv_rows import csv_lines
from portal.web.statements import CALL_COLUMNS
from portal.web.usage import add_selector_error, explore
from portal.web.usage_forms import DIMENSION_LABELS, RecordsForm, UsageQuery, UsageQueryForm, resolved_params

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def write_xlsx(target, header: list[str], rows: Iterable[list], *, title: str) -> None:
    """Stream rows into an XLSX file (openpyxl's write-only mode keeps memory flat)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append([_cell(h) for h in header])
    for row in rows:
        sheet.append([_cell(v) for v in row])
    workbook.save(target)


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


# --- The explorer table ----------------------------------------------------------------------------


def summary_table(scope: Scope, query: UsageQuery, params) -> tuple[list[str], list[list]]:
    explored = explore(scope, query, params)
    currency = scope.organization.currency
    metric = explored.metric.value
    header = [DIMENSION_LABELS[d] for d in query.group_by] + [
        "records",
        "calls",
        "minutes",
        "billable_minutes",
        "messages",
        "data_mb",
        "average_call_seconds",
        "longest_call_seconds",
        f"cost_{currency}",
        f"previous_{metric}",
        f"change_{metric}",
        "change_percent",
    ]

    def line(labels, t, prev, delta, pct):
        return [
            *labels,
            t.records,
            t.calls,
            t.minutes,
            t.billable_minutes,
            t.messages,
            t.data_mb,
            t.average_call_seconds,
            t.longest_call_seconds,
            t.cost,
            prev.metric(explored.metric) if prev is not None else None,
            delta,
            pct,
        ]

    rows = [line([str(k.label) for k in r.keys], r.totals, r.previous, r.delta, r.pct) for r in explored.rows]
    totals_label = ["Total"] + [""] * (len(query.group_by) - 1)
    rows.append(
        line(totals_label, explored.summary.totals, explored.previous_totals, explored.total_delta, explored.total_pct)
    )
    return header, rows


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


# --- Drill-down ------------------------------------------------------------------------------------


def record_rows(scope: Scope, form: RecordsForm, progress=None) -> Iterator[list]:
    """Every call of a drill-down, page after page through the scoped selector (keyset pagination)."""
    query = form.query()
    order, descending = form.record_order()
    tz = scope.organization.tz
    after, done = None, 0
    while True:
        page = usage_records(
            scope=scope,
            period=query.period,
            filters=query.filters,
            order_by=order,
            descending=descending,
            first=MAX_PAGE,
            after=after,
        )
        for r in page.records:
            yield [
                r.started_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
                r.line.number,
                r.person.name if r.person else "",
                r.location.name if r.location else "",
                r.usage_type,
                r.direction,
                "yes" if r.answered else "no",
                r.destination if scope.reveal_numbers else r.destination_masked,
                r.category,
                r.country,
                r.duration_seconds,
                r.billable_seconds,
                r.data_bytes,
                r.cost,
            ]
        done += len(page.records)
        if progress:
            progress(done)
        if not page.has_next_page:
            return
        after = page.end_cursor


def record_header(scope: Scope) -> list[str]:
    return [*CALL_COLUMNS, f"cost_{scope.organization.currency}"]


def count_records(scope: Scope, query: UsageQuery) -> int:
    """How many records a drill-down has, from the rollups (no scan of the calls)."""
    return usage_summary(scope=scope, period=query.period, group_by=[], filters=query.filters).totals.records


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
        from portal.tasks import export_usage_records

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


def export_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "exports"


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


def write_job_file(job: ExportJob, scope: Scope, form: RecordsForm, progress) -> str:
    """Write the export beside its final name, then rename: a download never sees half a file."""
    directory = export_dir() / str(job.organization_id)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{job.organization_id}/job-{job.id}.{job.file_format}"
    final = export_dir() / name
    partial = final.with_suffix(final.suffix + ".part")
    rows = record_rows(scope, form, progress=progress)
    if job.file_format == "xlsx":
        with partial.open("wb") as fh:
            write_xlsx(fh, record_header(scope), rows, title="Calls")
    else:
        with partial.open("w", newline="", encoding="utf-8") as fh:
            for chunk in csv_lines(record_header(scope), rows):
                fh.write(chunk)
    os.replace(partial, final)
    return name
