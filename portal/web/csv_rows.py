"""CSV rows for every download (statement calls, usage exports): one formula guard, one row writer.

Every text cell goes through ``safe_cell``: a cell starting with =, +, -, @, tab or CR could run as a formula
in a spreadsheet (OWASP CSV injection). Numbers are written as numbers, None as an empty cell."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """Neutralise spreadsheet formulas: a leading =, +, -, @, tab or CR gets a quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def cell(value):
    return safe_cell(value) if isinstance(value, str) else value


class Echo:
    """A file-like object whose write returns the line: csv.writer then yields rows to a streaming response."""

    def write(self, value):
        return value


def csv_lines(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(Echo())
    yield writer.writerow([cell(h) for h in header])
    for row in rows:
        yield writer.writerow(["" if v is None else cell(v) for v in row])
