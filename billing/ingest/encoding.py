"""Reading a usage file's text whatever encoding the phone system wrote it in.

UTF-8 (with or without a byte order mark) and UTF-16 (byte order mark, or the tell-tale NUL of every
other byte) are read as such; a file whose non-ASCII bytes are not UTF-8 at all is read as
Windows-1252 (a superset of Latin-1's printable characters). In a UTF-8 file, stray bytes that are not
UTF-8 arrive as lone surrogates (``surrogateescape``): in a text-only field (caller name, lastdata,
userfield) they are read as Windows-1252 and counted as a warning; in a field billing uses the row is
rejected, with its line number. A NUL byte is a rejection of its row, never of the whole file.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path

HEAD = 1 << 16
_VALID_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
UNDECODABLE = re.compile("[\udc80-\udcff]")


class EncodingError(ValueError):
    pass


@dataclass(frozen=True)
class TextEncoding:
    codec: str
    errors: str
    note: str  # what the import says about it ("" for plain UTF-8)


def detect(path: Path) -> TextEncoding:
    with path.open("rb") as handle:
        head = handle.read(HEAD)
    if head.startswith(codecs.BOM_UTF8):
        return TextEncoding("utf-8-sig", "surrogateescape", "")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return TextEncoding("utf-16", "replace", "read as UTF-16 (byte order mark)")
    sample = head[:4096]
    if len(sample) >= 4 and sample.count(0) * 3 >= len(sample):
        even_nul = sample[0::2].count(0)
        odd_nul = sample[1::2].count(0)
        if odd_nul > 0.8 * len(sample[1::2]) and even_nul < 0.2 * len(sample[0::2]):
            return TextEncoding("utf-16-le", "replace", "read as UTF-16 little-endian (no byte order mark)")
        if even_nul > 0.8 * len(sample[0::2]) and odd_nul < 0.2 * len(sample[1::2]):
            return TextEncoding("utf-16-be", "replace", "read as UTF-16 big-endian (no byte order mark)")
    if b"\x00" in head:
        control = sum(1 for b in head if b < 9 or 13 < b < 32)
        if control * 10 > len(head):
            raise EncodingError("not a text file (it is mostly NUL and control bytes)")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        if not _VALID_MULTIBYTE.search(head):
            return TextEncoding("cp1252", "replace", "read as Windows-1252 / Latin-1 (the file is not UTF-8)")
    return TextEncoding("utf-8", "surrogateescape", "")


def _as_cp1252(match: re.Match) -> str:
    return bytes([ord(match.group()) - 0xDC00]).decode("cp1252", errors="replace")


def repair(value: str) -> tuple[str, int]:
    """A text-only field with stray bytes: each read as Windows-1252; how many there were."""
    fixed, count = UNDECODABLE.subn(_as_cp1252, value)
    return fixed, count
