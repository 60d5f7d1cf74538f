"""Exports: usage summaries and calls as CSV or XLSX, streamed to a response or written to an export job's
file. The browser views (``portal.web.exports``) and the export task (``portal.tasks``) both call this
module; it imports neither.

Every text cell goes through ``safe_cell`` (the statement CSV's formula guard): a cell starting with
=, +, -, @, tab or CR could run as a formula in a spreadsheet. Numbers are written as numbers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.http import QueryDict
from django.utils import timezone
from openpyxl import Workbook

from billing.usage.scope import Scope
from billing.usage.selectors import MAX_PAGE, usage_records, usage_summary
from portal.models import ExportJob
from portal.scopes import scope_for
from portal.web.csv_rows import cell, csv_lines
from portal.web.statements import CALL_COLUMNS
from portal.web.usage import explore
from portal.web.usage_forms import DIMENSION_LABELS, RecordsForm, UsageQuery

logger = logging.getLogger(__name__)
PROGRESS_EVERY = 2_000  # rows between progress updates: often enough for the bar, few writes


FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def write_xlsx(target, header: list[str], rows: Iterable[list], *, title: str) -> None:
    """Stream rows into an XLSX file (openpyxl's write-only mode keeps memory flat)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append([cell(h) for h in header])
    for row in rows:
        sheet.append([cell(v) for v in row])
    workbook.save(target)


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


def export_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "exports"


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


def export_job_run(job_id: int) -> str:
    """Build the file of an export job. Idempotent: a ready job is left alone, a re-run rewrites the file.

    The scope is rebuilt from the membership now, and the job's query is validated again against it, so
    a role narrowed since the request also narrows the export.
    """
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
