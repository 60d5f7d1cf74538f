"""Streaming a usage file into the import's staging table with one ``COPY``.

Why a Python step stays here: PostgreSQL's COPY needs one fixed column count per table, and real CDR
files mix widths (Asterisk 16-21 columns), quote commas inside fields, and carry bytes that are not
text (NUL, stray non-UTF-8 bytes) which PostgreSQL cannot store. So Python's C CSV reader splits the
rows, and everything else is done per block of rows, not per row: each block is joined into COPY text
with C-level ``str.join`` and checked with a handful of substring scans (NUL, undecodable bytes, COPY's
special characters, the separator). Only a block that fails a check is looked at row by row.

The staging table holds ``(n, line)``: the file line the row starts on and its fields joined by
``SEP``. A row PostgreSQL cannot hold as it is (NUL, undecodable bytes, an unreadable CSV row) is kept
in memory for the row-by-row path and staged under ``-n`` with those characters replaced, so that the
set operations that look at neighbours and uuids (legs, b-legs) still see it in its place.
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass, field
from pathlib import Path

from billing.ingest.encoding import UNDECODABLE
from billing.ingest.formats import ShapeError, looks_like_header
from billing.ingest.reading import Reading, open_text
from billing.ingest.result import ImportFileError, ImportResult

SEP = "\x1f"  # the unit separator: not in the text of a call record (a block that has it goes row by row)
BLOCK = 4000  # rows per block
_ROW = "%d\t%s".__mod__
_COPY_SPECIAL = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_UNSTORABLE = str.maketrans({"\x00": "\ufffd"})


@dataclass
class Staged:
    rows: int = 0  # rows of the file (not blank lines, not the header row)
    widths: set[int] = field(default_factory=set)
    held: dict[int, object] = field(default_factory=dict)  # line -> fields (or the RowError) PostgreSQL cannot hold


class _Pipe:
    """A file-like object for ``copy_expert``: each read() hands over the next block of COPY text. An
    error while reading ends the COPY and is raised again afterwards as itself (psycopg2 would turn it
    into a database error), and the caller's transaction rolls back what was staged."""

    def __init__(self, blocks):
        self.blocks = blocks
        self.error: BaseException | None = None

    def read(self, _size=-1):
        try:
            return next(self.blocks, "")
        except BaseException as exc:  # noqa: BLE001 - raised again by stage()
            self.error = exc
            return ""


def stage(cursor, table: str, path: Path, text_encoding, reading: Reading, result: ImportResult) -> Staged:
    staged = Staged()
    pipe = _Pipe(_blocks(path, text_encoding, reading, result, staged))
    cursor.copy_expert(f"COPY {table} (n, line) FROM STDIN", pipe)
    if pipe.error is not None:
        raise pipe.error
    return staged


def _blocks(path: Path, text_encoding, reading: Reading, result: ImportResult, staged: Staged):
    header_first = reading.format == "header"  # its header row was read when sniffing
    maybe_header = reading.format in ("asterisk", "freeswitch")
    with open_text(path, text_encoding) as handle:
        first = handle.readline()
        if not first:
            return
        reader = csv.reader(itertools.chain((first.lstrip("\ufeff"),), handle))
        while True:
            before = reader.line_num
            rows: list[list[str]] = []
            error = None
            try:
                rows.extend(itertools.islice(reader, BLOCK))
            except csv.Error as exc:
                error = exc
            if not rows and error is None:
                return
            consecutive = error is None and reader.line_num - before == len(rows)
            if consecutive and [] not in rows and [""] not in rows:
                numbers = range(before + 1, before + 1 + len(rows))
            else:  # rows spanning lines, blank lines, an unreadable row: number each row
                numbers, rows = _numbered(rows, before)
            if error is not None:
                numbers.append(_error_line(numbers, rows, before))
                rows.append(ShapeError(f"unreadable CSV row: {error}"))
            if header_first or maybe_header:
                if header_first and rows:
                    if isinstance(rows[0], ShapeError):
                        raise ImportFileError(f"{path}: line {numbers[0]}: the header row cannot be read")
                    header_first, rows, numbers = False, rows[1:], numbers[1:]
                elif maybe_header and rows:
                    maybe_header = False
                    if isinstance(rows[0], list) and looks_like_header(rows[0]):
                        result.warn(f"line {numbers[0]}: a header row, skipped")
                        rows, numbers = rows[1:], numbers[1:]
            if rows:
                yield _copy_text(rows, numbers, staged)


def _numbered(rows, before) -> tuple[list[int], list]:
    numbers, kept = [], []
    line = before + 1
    for row in rows:
        if row and row != [""]:
            numbers.append(line)
            kept.append(row)
        line += 1 + sum(value.count("\n") for value in row)
    return numbers, kept


def _error_line(numbers, rows, before) -> int:
    """The line an unreadable row starts on: right after the last row read before it."""
    if not rows:
        return before + 1
    last = rows[-1]
    return numbers[-1] + 1 + sum(value.count("\n") for value in last)


def _copy_text(rows: list, numbers, staged: Staged) -> str:
    staged.rows += len(rows)
    if isinstance(numbers, range) and not isinstance(rows[-1], ShapeError):
        staged.widths.update(map(len, rows))
        text = "\n".join(map(_ROW, zip(numbers, map(SEP.join, rows), strict=True))) + "\n"
        # No NUL or stray byte, none of COPY's special characters, no separator inside a field: the
        # common case, checked on the whole block at C speed. (The row breaks are the only LFs.)
        if (
            "\x00" not in text
            and (text.isascii() or not UNDECODABLE.search(text))
            and "\\" not in text
            and "\r" not in text
            and text.count("\t") == len(rows)
            and text.count(SEP) == sum(map(len, rows)) - len(rows)
        ):
            return text
    out = []
    for number, row in zip(numbers, rows, strict=True):
        if isinstance(row, ShapeError):
            staged.held[number] = row
            out.append(f"{-number}\t\n")
            continue
        staged.widths.add(len(row))
        joined = SEP.join(row)
        if "\x00" in joined or UNDECODABLE.search(joined) or joined.count(SEP) != len(row) - 1:
            staged.held[number] = row
            safe = UNDECODABLE.sub("\ufffd", SEP.join(value.replace(SEP, "\ufffd") for value in row))
            out.append(f"{-number}\t{safe.translate(_UNSTORABLE).translate(_COPY_SPECIAL)}\n")
        else:
            out.append(f"{number}\t{joined.translate(_COPY_SPECIAL)}\n")
    return "".join(out)
