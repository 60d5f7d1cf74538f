"""Exports: the usage explorer's table and a drill-down's calls as XLSX or CSV (``portal.spreadsheets``),
streamed to a response or written to an export job's file, in the language of the organization.

The browser views (``portal.web.exports``) and the export task (``portal.tasks``) both call this module;
it imports neither, nor any other page code: what it is asked is the domain's query (``ExportQuery``:
period, filters, order), never a web form. A job keeps that query; it runs in the scope rebuilt from the
membership then, so a role narrowed since the request also narrows the export.

Columns: headers in the user's language; durations as h:mm:ss and as decimal minutes; money at the
currency's minor unit, and the rated cost (6 decimals, as stored) in a column of its own.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from billing.models.choices import Direction, UsageType
from billing.money import minor_unit, money
from billing.periods import Basis
from billing.usage.comparison import usage_comparison
from billing.usage.scope import Scope
from billing.usage.selectors import (
    MAX_PAGE,
    Dimension,
    Metric,
    Period,
    RecordOrder,
    UsageFilter,
    usage_records,
    usage_summary,
)
from portal.models import ExportJob
from portal.scopes import scope_for
from portal.spreadsheets import (
    DATETIME,
    DECIMAL,
    DURATION,
    INTEGER,
    MONEY,
    RATED,
    Column,
    Table,
    csv_lines,
    write_xlsx,
)

logger = logging.getLogger(__name__)
PROGRESS_EVERY = 2_000  # rows between progress updates: often enough for the bar, few writes

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_DURATION_METRICS = {Metric.AVERAGE_CALL_SECONDS, Metric.LONGEST_CALL_SECONDS}
_COUNT_METRICS = {Metric.RECORDS, Metric.CALLS, Metric.MESSAGES, Metric.DATA_SESSIONS}


@dataclass
class ExportQuery:
    """What an export holds: the period (local dates), the filters and, for calls, their order; plus the
    words that describe the filters in the header block (as the page showed them)."""

    period: Period
    filters: UsageFilter = field(default_factory=UsageFilter)
    order: RecordOrder = RecordOrder.TIME
    descending: bool = True
    filters_text: str = ""

    def to_params(self) -> dict:
        return {
            "start": self.period.start.isoformat(),
            "end": self.period.end.isoformat(),
            "filters": asdict(self.filters),
            "order": self.order.value,
            "descending": self.descending,
            "filters_text": self.filters_text,
        }

    @classmethod
    def from_params(cls, params: dict) -> ExportQuery:
        return cls(
            period=Period(date.fromisoformat(params["start"]), date.fromisoformat(params["end"])),
            filters=UsageFilter(**params["filters"]),
            order=RecordOrder(params["order"]),
            descending=bool(params["descending"]),
            filters_text=params.get("filters_text", ""),
        )


def about(scope: Scope, query: ExportQuery, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    """The header block: organization, period, filters, when the file was made (organization's time)."""
    org = scope.organization
    return [
        (_("Organization"), f"{org.name} ({org.account_number})"),
        (_("Period"), f"{query.period.start.isoformat()} – {query.period.end.isoformat()}"),
        *extra,
        (_("Filters"), query.filters_text or _("none")),
        (_("Generated at"), timezone.now().astimezone(org.tz).strftime("%Y-%m-%d %H:%M:%S %Z")),
    ]


def _money_places(currency: str) -> int:
    return -minor_unit(currency).as_tuple().exponent


def _minutes(seconds) -> Decimal:
    return (Decimal(seconds) / 60).quantize(Decimal("0.01"))


# --- The explorer table ----------------------------------------------------------------------------


def _metric_columns(metric: Metric, label: str, currency: str, places: int) -> tuple[list[Column], object]:
    """The columns of the compared metric (previous, change) and how a value of it is written."""
    if metric == Metric.COST:
        kind, convert = MONEY, lambda v: money(Decimal(v), currency)
    elif metric in _DURATION_METRICS:
        kind, convert = DURATION, lambda v: int(Decimal(v).to_integral_value())
    elif metric in _COUNT_METRICS:
        kind, convert = INTEGER, int
    else:
        kind, convert = DECIMAL, Decimal
    return [
        Column(_("Previous: %(metric)s") % {"metric": label}, kind, places),
        Column(_("Change: %(metric)s") % {"metric": label}, kind, places),
        Column(_("Change (%)"), DECIMAL, 1),
    ], convert


def grid_table(scope: Scope, query: ExportQuery, metric: Metric, header: list[str], rows: list[list], title: str):
    """A grid of one metric (e.g. the pivot: a label, then one value per column): the label as text, every
    value typed as the metric is (money at the currency's minor unit, durations, counts)."""
    currency = scope.organization.currency
    places = _money_places(currency)
    (column, *_rest), convert = _metric_columns(metric, "", currency, places)
    columns = [Column(header[0])] + [Column(h, column.kind, places) for h in header[1:]]
    body = [[row[0], *(None if v is None else convert(v) for v in row[1:])] for row in rows]
    return Table(about=about(scope, query), columns=columns, rows=body, title=title)


def summary_table(
    scope: Scope,
    query: ExportQuery,
    *,
    group_by: list[Dimension],
    dimension_labels: list[str],
    order_by: Metric | None,
    metric_label: str,
    descending: bool,
    first: int | None,
) -> Table:
    """The explorer's table as a sheet: the groups with every metric, each beside the period compared
    with (``billing.usage.comparison``, the page's own comparison), and the total."""
    compared = usage_comparison(
        scope=scope,
        period=query.period,
        group_by=group_by,
        filters=query.filters,
        order_by=order_by,
        descending=descending,
        first=first,
    )
    currency = scope.organization.currency
    places = _money_places(currency)
    compared_columns, convert = _metric_columns(compared.metric, metric_label, currency, places)
    columns = [Column(label) for label in dimension_labels] + [
        Column(_("Records"), INTEGER),
        Column(_("Calls"), INTEGER),
        Column(_("Minutes"), DECIMAL, 2),
        Column(_("Billable minutes"), DECIMAL, 2),
        Column(_("Messages"), INTEGER),
        Column(_("Data (MB)"), DECIMAL, 2),
        Column(_("Average call (h:mm:ss)"), DURATION),
        Column(_("Longest call (h:mm:ss)"), DURATION),
        Column(_("Cost (%(currency)s)") % {"currency": currency}, MONEY, places),
        Column(_("Rated cost (%(currency)s, 6 decimals)") % {"currency": currency}, RATED),
        *compared_columns,
    ]

    def line(labels, t, previous, delta, pct):
        return [
            *labels,
            t.records,
            t.calls,
            t.minutes,
            t.billable_minutes,
            t.messages,
            t.data_mb,
            int(t.average_call_seconds.to_integral_value()),
            t.longest_call_seconds,
            money(t.cost, currency),
            t.cost,
            convert(previous.metric(compared.metric)) if previous is not None else None,
            convert(delta) if delta is not None else None,
            pct,
        ]

    rows = [line([k.label for k in c.row.keys], c.row.totals, c.previous, c.delta, c.pct) for c in compared.rows]
    total_labels = [_("Total")] + [""] * (len(group_by) - 1)
    rows.append(
        line(total_labels, compared.summary.totals, compared.previous_totals, compared.total_delta, compared.total_pct)
    )
    basis = {
        Basis.BILLING_PERIOD: _("the previous billing period"),
        Basis.PERIOD_TO_DATE: _("the same days of the previous billing period"),
        Basis.SAME_LENGTH: _("the same number of days just before"),
    }[compared.basis]
    previous = compared.previous_period
    compared_with = f"{previous.start.isoformat()} – {previous.end.isoformat()} ({basis})"
    return Table(about(scope, query, (_("Compared with"), compared_with)), columns, rows, title=_("Usage"))


# --- Drill-down ------------------------------------------------------------------------------------


def record_columns(scope: Scope) -> list[Column]:
    currency = scope.organization.currency
    return [
        Column(_("Start (local time)"), DATETIME),
        Column(pgettext("phone line", "Line")),
        Column(_("Person")),
        Column(_("Location")),
        Column(_("Usage type")),
        Column(_("Direction")),
        Column(_("Answered")),
        Column(_("Other party")),
        Column(_("Category")),
        Column(_("Country")),
        Column(_("Duration (h:mm:ss)"), DURATION),
        Column(_("Duration (minutes)"), DECIMAL, 2),
        Column(_("Billable (h:mm:ss)"), DURATION),
        Column(_("Billable (minutes)"), DECIMAL, 2),
        Column(_("Data (MB)"), DECIMAL, 2),
        Column(_("Cost (%(currency)s)") % {"currency": currency}, MONEY, _money_places(currency)),
        Column(_("Rated cost (%(currency)s, 6 decimals)") % {"currency": currency}, RATED),
    ]


def record_rows(scope: Scope, query: ExportQuery, progress=None) -> Iterator[list]:
    """Every call of a drill-down, page after page through the scoped selector (keyset pagination)."""
    tz = scope.organization.tz
    currency = scope.organization.currency
    types, directions = dict(UsageType.choices), dict(Direction.choices)
    yes, no = _("Yes"), _("No")
    after, done = None, 0
    while True:
        page = usage_records(
            scope=scope,
            period=query.period,
            filters=query.filters,
            order_by=query.order,
            descending=query.descending,
            first=MAX_PAGE,
            after=after,
        )
        for r in page.records:
            yield [
                r.started_at.astimezone(tz).replace(tzinfo=None),
                r.line.number,
                r.person.name if r.person else "",
                r.location.name if r.location else "",
                str(types.get(r.usage_type, r.usage_type)),
                str(directions.get(r.direction, r.direction)),
                yes if r.answered else no,
                r.destination if scope.reveal_numbers else r.destination_masked,
                r.category,
                r.country,
                r.duration_seconds,
                _minutes(r.duration_seconds),
                r.billable_seconds,
                _minutes(r.billable_seconds),
                (Decimal(r.data_bytes) / 1_000_000).quantize(Decimal("0.01")),
                money(r.cost, currency) if r.cost is not None else None,
                r.cost,
            ]
        done += len(page.records)
        if progress:
            progress(done)
        if not page.has_next_page:
            return
        after = page.end_cursor


def records_table(scope: Scope, query: ExportQuery, progress=None) -> Table:
    return Table(about(scope, query), record_columns(scope), record_rows(scope, query, progress), title=_("Calls"))


def count_records(scope: Scope, query: ExportQuery) -> int:
    """How many records a drill-down has, from the rollups (no scan of the calls)."""
    return usage_summary(scope=scope, period=query.period, group_by=[], filters=query.filters).totals.records


def write(target, table: Table, file_format: str, dialect: str = "comma") -> None:
    """The table into an open binary file, as XLSX or as CSV."""
    if file_format == "xlsx":
        write_xlsx(target, table)
    else:
        for chunk in csv_lines(table, dialect=dialect):
            target.write(chunk.encode())


# --- Export jobs -----------------------------------------------------------------------------------


def export_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "exports"


def write_job_file(job: ExportJob, scope: Scope, query: ExportQuery, progress) -> str:
    """Write the export beside its final name, then rename: a download never sees half a file."""
    directory = export_dir() / str(job.organization_id)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{job.organization_id}/job-{job.id}.{job.file_format}"
    final = export_dir() / name
    partial = final.with_suffix(final.suffix + ".part")
    with partial.open("wb") as fh:
        write(fh, records_table(scope, query, progress), job.file_format, job.params.get("dialect", "comma"))
    os.replace(partial, final)
    return name


def _fail(job: ExportJob, error: str) -> str:
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )
    return ExportJob.Status.FAILED


def export_job_run(job_id: int) -> str:
    """Build the file of an export job. Idempotent: a ready job is left alone, a re-run rewrites the file.

    The scope is rebuilt from the membership now: every selector filters by it, so a role narrowed since
    the request also narrows the export (a location no longer allowed simply has no calls in it).
    """
    job = ExportJob.objects.select_related("organization", "membership__organization").filter(pk=job_id).first()
    if job is None or job.status == ExportJob.Status.READY:
        return job.status if job else "missing"
    scope = scope_for(job.membership)
    try:
        query = ExportQuery.from_params(job.params)
    except (KeyError, TypeError, ValueError):
        return _fail(job, "This export was requested in an older format; please request it again.")
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING, rows_done=0)
    last = [0, 0]  # rows done, rows at the last progress update

    def progress(done: int) -> None:
        last[0] = done
        if done - last[1] >= PROGRESS_EVERY:
            last[1] = done
            ExportJob.objects.filter(pk=job.pk).update(rows_done=done)

    try:
        with translation.override(job.params.get("language") or "en"):
            name = write_job_file(job, scope, query, progress)
    except Exception as exc:
        logger.exception("export %s failed", job.pk)
        _fail(job, str(exc))
        raise
    done = last[0]
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.READY, file=name, rows_done=done, finished_at=timezone.now(), error=""
    )
    return f"{ExportJob.Status.READY} {done}"
