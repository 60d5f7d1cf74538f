"""What can be scheduled: a small registry of report kinds.

A kind says what it is called, which sources an owner may pick (``choices``: e.g. their saved views; a kind
without sources offers one ""), and how it builds its table for a scope and a period (``build``). Rendering
to CSV, XLSX or PDF is shared (``render``), so a kind returns rows only. Other modules register their kinds
where they are defined (``register(ReportKind(...))`` at import, imported from ``portal.reports.kinds``):
the pivot and the chargeback report plug in so.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.template.loader import render_to_string

from billing.usage.scope import Scope
from billing.usage.selectors import Period
from portal import spreadsheets

STYLE = Path(__file__).with_name("table.css")
FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "pdf": "application/pdf",
}


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list]
    notes: list[str] = field(default_factory=list)  # printed under the table (PDF) / ignored in data files
    sheet: spreadsheets.Table | None = None  # the typed sheet of XLSX/CSV, when the kind has one

    def typed(self) -> spreadsheets.Table:
        """The sheet the XLSX and CSV are written from (portal.spreadsheets: typed cells, UTF-8 BOM, the
        formula guard); without one of the kind's own, each column typed by its values."""
        if self.sheet is not None:
            return self.sheet
        columns = []
        for i, header in enumerate(self.header):
            values = [row[i] for row in self.rows if row[i] is not None]
            if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                columns.append(spreadsheets.Column(header, spreadsheets.INTEGER))
            elif values and all(isinstance(v, (int, Decimal)) and not isinstance(v, bool) for v in values):
                columns.append(spreadsheets.Column(header, spreadsheets.DECIMAL))
            else:
                columns.append(spreadsheets.Column(header))
        return spreadsheets.Table(about=[], columns=columns, rows=self.rows, title=self.title)


@dataclass(frozen=True)
class ReportKind:
    key: str
    label: str
    choices: Callable[[object], list[tuple[str, str]]]  # (membership) -> [(source, label)]
    build: Callable[[Scope, str, Period], Table]  # (scope, source, period) -> Table
    needs_billing: bool = False  # only for owners and recipients who see the organization's charges


KINDS: dict[str, ReportKind] = {}


def register(kind: ReportKind) -> ReportKind:
    if kind.key in KINDS and KINDS[kind.key] != kind:
        raise ValueError(f"report kind {kind.key!r} is registered twice")
    KINDS[kind.key] = kind
    return kind


@dataclass
class Rendered:
    filename: str
    content_type: str
    content: bytes


def render(table: Table, file_format: str, basename: str) -> Rendered:
    if file_format == "csv":
        content = "".join(spreadsheets.csv_lines(table.typed())).encode("utf-8")
    elif file_format == "xlsx":
        buffer = io.BytesIO()
        spreadsheets.write_xlsx(buffer, table.typed())
        content = buffer.getvalue()
    elif file_format == "pdf":
        from weasyprint import CSS, HTML

        # The style sheet is given to WeasyPrint, not inlined: portal templates carry no inline style (CSP).
        html = render_to_string("portal/reports/table.html", {"table": table})
        content = HTML(string=html).write_pdf(stylesheets=[CSS(filename=str(STYLE))])
    else:
        raise ValueError(f"unknown file format {file_format!r}")
    return Rendered(f"{basename}.{file_format}", FORMATS[file_format], content)
