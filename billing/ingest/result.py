"""What an import says about itself: its counts, its rejected rows (file line and reason) and warnings."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_WARNINGS = 200  # stored one by one on the batch; beyond that they are counted


class ImportFileError(Exception):
    """The file as a whole cannot be read; nothing was changed."""


@dataclass
class Rejection:
    line_number: int
    reason: str
    raw: str = ""
    shape: bool = False  # the row is not a row of the format at all (see formats.ShapeError)


@dataclass
class ImportResult:
    batch_id: int | None
    path: str
    format: str
    source: str = ""
    rows: int = 0
    loaded: int = 0
    duplicates: int = 0
    rejected: int = 0
    joined_legs: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    warning_count: int = 0
    failed: bool = False  # no row loaded (or was already loaded): the batch is kept as failed, with its report
    statements: int = 0  # SQL statements the set-based path issued (constant in the file's size)
    careful_rows: int = 0  # rows that went the row-by-row way (legs, odd fields, DST hours, ...)

    def warn(self, text: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(text)
