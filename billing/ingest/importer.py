"""``usage_import``: load a usage file, one transaction, idempotent, honest about every rejected row.

A file is read for a usage source (``billing.models.UsageSource``: its organization, format, clock,
dial plan and how rows name lines) or, without one, by ``format`` over all organizations' lines by
number (the older command line). Its encoding is detected (``encoding``), its first rows are sniffed
(header row, format mismatch, clock check: ``reading``), then the rows are loaded:

- set-based (``setbased``, for Asterisk, FreeSWITCH, custom and header layouts with text times): one
  COPY into a staging table, then parsing, matching, classification and the checks as SQL over all
  rows, and one ``INSERT … SELECT … ON CONFLICT DO NOTHING``; what SQL cannot decide exactly as the
  row-by-row reading would goes through it (``careful``);
- row by row (``careful``) for native files and epoch times, or with ``FAST_PATH`` off (the reference
  the tests compare the set-based path with), written with COPY by ``billing.usage.writer``.

Either way the rollups of the touched days are rebuilt in the same transaction, and rows that fail
are stored as ``ImportRejection`` with their file line number, the field and the reason. A file that
cannot be read at all raises ``ImportFileError`` and changes nothing (everything, the batch included,
is one transaction); a file of which no row loads is kept as a failed batch with its rejections
(``ImportResult.failed``), so the command exits non-zero and the drop folder moves it to ``failed/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from billing.ingest import legs, setbased
from billing.ingest.careful import Careful
from billing.ingest.formats import FormatError, looks_like_header, native_parser
from billing.ingest.reading import FORMATS, Reading, readable, reading_for, rows, sha256, sniff
from billing.ingest.result import ImportFileError, ImportResult, Rejection
from billing.models import ImportBatch, ImportRejection, UsageSource
from billing.usage.writer import record_line_renderer, usage_lines_write

__all__ = ["FORMATS", "FAST_PATH", "ImportFileError", "ImportResult", "Rejection", "usage_import"]

FAST_PATH = True  # tests switch it off to compare the set-based path with the row-by-row one


def usage_import(
    *,
    path: Path,
    format: str | None = None,
    timezone_name: str | None = None,
    source: UsageSource | str | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Import one file, for a usage source (its slug or itself) or, without one, in ``format`` over
    all organizations. Raises ImportFileError (and changes nothing) when the file cannot be read."""
    path = Path(path)
    format, reading = reading_for(format=format, source=source, timezone_name=timezone_name)
    text_encoding = readable(path)
    digest = sha256(path)
    now = now or timezone.now()
    result = ImportResult(
        batch_id=None, path=str(path), format=format, source=reading.source.slug if reading.source else ""
    )
    if text_encoding.note:
        result.warn(f"encoding: {text_encoding.note}")
    sniff(path, text_encoding, reading, result)

    with transaction.atomic():
        # The batch comes first so its id can go straight into the records; a file refused as a whole
        # raises inside this transaction, so the batch and everything else is rolled back.
        batch = ImportBatch.objects.create(
            filename=str(path)[:500], format=format, sha256=digest, source=reading.source
        )
        careful = Careful(reading, now, batch.id, result)
        if FAST_PATH and setbased.applies(reading):
            with connection.cursor() as cursor:
                written = setbased.SetImport(cursor, path, text_encoding, reading, careful, now, batch.id,
                                             result).run()  # fmt: skip
        else:
            written = usage_lines_write(lines=_careful_lines(path, text_encoding, reading, careful, result))
            ImportRejection.objects.bulk_create(
                ImportRejection(batch=batch, line_number=r.line_number, reason=r.reason[:300], raw=r.raw)
                for r in result.rejections
            )
        result.rejections.sort(key=lambda r: r.line_number)
        _refuse_unreadable(path, reading, result)
        result.loaded, result.duplicates, result.rejected = written.inserted, written.duplicates, len(result.rejections)
        if result.joined_legs:
            result.warn(f"legs: {result.joined_legs} row(s) were further legs of a call already read, joined to it")
        if result.warning_count > len(result.warnings):
            result.warnings.append(f"… and {result.warning_count - len(result.warnings)} more warnings")
        result.failed = result.loaded + result.duplicates == 0
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportBatch.Status.FAILED if result.failed else ImportBatch.Status.DONE,
            rows=result.rows,
            loaded=result.loaded,
            duplicates=result.duplicates,
            rejected=result.rejected,
            warnings=result.warnings,
            error="no row of the file could be loaded" if result.failed else "",
            finished_at=timezone.now(),
        )
        result.batch_id = batch.id
    return result


def _refuse_unreadable(path: Path, reading: Reading, result: ImportResult) -> None:
    """Every row is not a row of this format at all: the file is refused as a whole (rolled back)."""
    misshapen = sum(r.shape for r in result.rejections)
    if result.rows and misshapen == result.rows:
        first = result.rejections[0]
        raise ImportFileError(
            f"{path}: no row could be read as {reading.format} CSV (line {first.line_number}: {first.reason})"
        )


def _careful_lines(path, text_encoding, reading: Reading, careful: Careful, result: ImportResult) -> Iterator[str]:
    """The COPY line of every good row, read row by row; rejections go to ``result``."""
    render = record_line_renderer()
    header_done = reading.format not in ("native", "header")
    b_legs = legs.freeswitch_b_legs(rows(path, text_encoding)) if reading.b_legs_seen else frozenset()
    stream = rows(path, text_encoding)
    if reading.legs:
        stream = legs.group_asterisk(stream, reading)
    first_pbx_row = reading.format in ("asterisk", "freeswitch")  # it may be a header row
    count = 0
    for line_number, fields in stream:
        if not header_done:  # native and header exports: the first row is the header
            header_done = True
            if not isinstance(fields, list):
                raise ImportFileError(f"{path}: line {line_number}: the header row cannot be read")
            if reading.format == "native":
                try:
                    reading.native = native_parser(fields)
                except FormatError as exc:
                    raise ImportFileError(f"{path}: line {line_number}: {exc}") from None
            continue
        if type(fields) is legs.Group:
            first_pbx_row = False
            count += len(fields.legs)
            record = careful.group(fields)
        else:
            if first_pbx_row:
                first_pbx_row = False
                if type(fields) is list and looks_like_header(fields):
                    result.warn(f"line {line_number}: a header row, skipped")
                    continue
            count += 1
            if b_legs and type(fields) is list and len(fields) > 10 and fields[10].strip() in b_legs:
                result.joined_legs += 1
                continue
            record = careful.one(line_number, fields)
        if record is not None:
            yield render(record)
    result.rows = count
    if not header_done:
        raise ImportFileError(f"{path}: no header row")
