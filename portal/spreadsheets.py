"""Tables written for spreadsheets: XLSX with typed cells, CSV in UTF-8 with a byte-order mark.

A table is a header block (what the file is: organization, period, filters, when it was made), then
typed columns (``Column``) and rows of Python values:

- XLSX (openpyxl, write-only): text is a text cell (a phone number such as +16177098147 stays text,
  with no apostrophe; a text beginning with = is stored as text, never as a formula), numbers are
  numbers, dates and times are dates, durations are times shown as h:mm:ss, money is rounded to the
  currency's minor unit and shown with as many decimals.
- CSV: UTF-8 with a BOM (so Excel reads "Köln" right); ``,`` between cells and ``.`` in numbers, or
  ``;`` and a decimal comma for locales that write 1,5 (``dialect="semicolon"``). Dates are ISO
  (2026-11-30, 2026-11-30 14:05:00), durations h:mm:ss. The formula guard (``safe_cell``): a *text*
  cell that begins with = + - @ or a control character (tab, carriage return, ...) gets a leading
  apostrophe, as OWASP advises, so a spreadsheet never runs it; nothing else is changed, and numbers
  (also negative ones) are written as numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font


def safe_cell(value) -> str:
    """Neutralise spreadsheet formulas: a text beginning with =, +, -, @ or a control character gets a quote."""
    text = "" if value is None else str(value)
    return "'" + text if text and (text[0] in "=+-@" or ord(text[0]) < 32 or ord(text[0]) == 127) else text


TEXT, INTEGER, DECIMAL, MONEY, RATED, DATE, DATETIME, DURATION = (
    "text",
    "integer",
    "decimal",
    "money",
    "rated",
    "date",
    "datetime",
    "duration",
)
_XLSX_FORMATS = {
    INTEGER: "#,##0",
    RATED: "0.000000",
    DATE: "yyyy-mm-dd",
    DATETIME: "yyyy-mm-dd hh:mm:ss",
    DURATION: "[h]:mm:ss",
}


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = TEXT
    places: int = 2  # decimals of a DECIMAL or MONEY column (MONEY: the currency's minor unit)

    def xlsx_format(self) -> str | None:
        if self.kind in (DECIMAL, MONEY):
            return "#,##0" + ("." + "0" * self.places if self.places else "")
        return _XLSX_FORMATS.get(self.kind)


@dataclass(frozen=True)
class Table:
    about: list[tuple[str, str]]  # the header block: (what, value), e.g. ("Organization", "Acme GmbH")
    columns: list[Column]
    rows: Iterable[list]
    title: str = "Sheet"


def clock(seconds) -> str:
    """Seconds as h:mm:ss (a minus in front when negative)."""
    seconds = int(seconds)
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"


def write_xlsx(target, table: Table) -> None:
    """Stream the table into an XLSX file (openpyxl's write-only mode keeps memory flat)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=table.title[:31])
    bold = Font(bold=True)

    def text(value, font=None):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # a text starting with = stays text: openpyxl would make it a formula
        if font:
            cell.font = font
        return cell

    for what, value in table.about:
        sheet.append([text(what, bold), text(value)])
    if table.about:
        sheet.append([])
    sheet.append([text(c.header, bold) for c in table.columns])
    formats = [c.xlsx_format() for c in table.columns]
    for row in table.rows:
        cells = []
        for column, number_format, value in zip(table.columns, formats, row, strict=True):
            if value is None:
                cells.append(None)
                continue
            if column.kind == TEXT:
                cells.append(text(str(value)))
                continue
            if column.kind == DURATION:
                value = timedelta(seconds=int(value))
            cell = WriteOnlyCell(sheet, value=value)
            if number_format:
                cell.number_format = number_format
            cells.append(cell)
        sheet.append(cells)
    workbook.save(target)


class _Echo:
    """A file-like object whose write returns the line: csv.writer then yields rows to a streaming response."""

    def write(self, value):
        return value


def _csv_value(value, column: Column, decimal_comma: bool) -> str:
    if value is None:
        return ""
    if column.kind == TEXT:
        return safe_cell(value)
    if column.kind == DURATION:
        return clock(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if column.kind in (DECIMAL, MONEY):
        value = Decimal(value).quantize(Decimal(1).scaleb(-column.places))
    text = format(value, "f") if isinstance(value, Decimal) else str(value)
    return text.replace(".", ",") if decimal_comma else text


def csv_lines(table: Table, *, dialect: str = "comma") -> Iterator[str]:
    """The table as CSV lines, the first beginning with the UTF-8 byte-order mark."""
    semicolon = dialect == "semicolon"
    writer = csv.writer(_Echo(), delimiter=";" if semicolon else ",", lineterminator="\r\n")
    yield "\ufeff"
    for what, value in table.about:
        yield writer.writerow([safe_cell(what), safe_cell(value)])
    if table.about:
        yield writer.writerow([])
    yield writer.writerow([safe_cell(c.header) for c in table.columns])
    for row in table.rows:
        yield writer.writerow([_csv_value(v, c, semicolon) for v, c in zip(row, table.columns, strict=True)])


def plain_csv_lines(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    """A plain CSV (no BOM, no header block, values as given, text cells guarded): the statement calls file."""
    writer = csv.writer(_Echo())
    yield writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        yield writer.writerow(["" if v is None else safe_cell(v) if isinstance(v, str) else v for v in row])
