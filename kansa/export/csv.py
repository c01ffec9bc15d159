"""The CSV writer: rows in, bytes out, a chunk at a time, so memory stays flat however many
rows there are.

The default follows the PCA ID spec (seed 003): UTF-8 with a BOM, CRLF (LF on request), a
header row, every string in double quotes with embedded quotes doubled and line breaks kept
inside the quotes; numbers unquoted. A string a spreadsheet would run as a formula — starting
with ``=``, ``+``, ``-``, ``@`` or their full-width forms (``＝＋－＠``, which Japanese Excel
reads as the same), also behind spaces, no-break or zero-width spaces, or starting with tab,
CR or LF — gets a leading ``'`` (OWASP CSV injection), so Excel shows it as text. Characters
that reorder text (right-to-left overrides) are written out as ``<U+202E>``
(:mod:`kansa.visible`).

CP932 (Windows' Shift_JIS) is written without a BOM. Characters Unicode and Windows map
differently are first turned into the ones Windows uses (the wave dash 〜 U+301C becomes
U+FF5E, 0x8160); any character CP932 cannot hold becomes ``?`` and is counted.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from kansa.visible import REORDERING, visible

Cell = str | int | float | None

BOM = b"\xef\xbb\xbf"
NEWLINES = {"crlf": "\r\n", "lf": "\n"}
ENCODINGS = ("utf-8", "cp932")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
FORMULA_CHARS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
"""What starts a formula, in ASCII and full width."""
BLANK_LEAD = " \u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" + (
    "\u200b\u200c\u200d\u2060\u3000\ufeff"
)
"""Spaces, no-break, zero-width and ideographic spaces a spreadsheet may skip before ``=``."""
SUSPECT_FIRST = frozenset(FORMULA_STARTS) | FORMULA_CHARS | frozenset(BLANK_LEAD)
REORDERS = re.compile(f"[{REORDERING}]").search
"""Finds a character :func:`kansa.visible.visible` writes out; a string starting outside
:data:`SUSPECT_FIRST` without one is a cell as it is."""
CHUNK_CHARS = 64 * 1024

# Unicode code points with a Windows twin: what Windows' own converter produces for them.
WINDOWS_TWINS = str.maketrans(
    {
        "\u301c": "\uff5e",  # WAVE DASH → FULLWIDTH TILDE (0x8160)
        "\u2016": "\u2225",  # DOUBLE VERTICAL LINE → PARALLEL TO (0x8161)
        "\u2212": "\uff0d",  # MINUS SIGN → FULLWIDTH HYPHEN-MINUS (0x817C)
        "\u00a2": "\uffe0",  # CENT SIGN → FULLWIDTH CENT SIGN (0x8191)
        "\u00a3": "\uffe1",  # POUND SIGN → FULLWIDTH POUND SIGN (0x8192)
        "\u00ac": "\uffe2",  # NOT SIGN → FULLWIDTH NOT SIGN (0x81CA)
        "\u2014": "\u2015",  # EM DASH → HORIZONTAL BAR (0x815C)
        "\u00a6": "\uffe4",  # BROKEN BAR → FULLWIDTH BROKEN BAR (0xEEFA)
    }
)


@dataclass(slots=True)
class Tally:
    """What an export wrote so far; read it once the chunks are consumed."""

    rows: int = 0
    bytes: int = 0
    unmappable: int = 0
    """Characters CP932 could not hold, written as ``?``."""


def is_formula(text: str) -> bool:
    """Whether a spreadsheet could take ``text`` for a formula."""
    if text[:1] not in SUSPECT_FIRST:
        return False
    return text.startswith(FORMULA_STARTS) or text.lstrip(BLANK_LEAD)[:1] in FORMULA_CHARS


def neutralise(text: str) -> str:
    """``text`` as a spreadsheet shows it: never as a formula, never reordered."""
    text = text if text.isascii() else visible(text)
    return "'" + text if text[:1] in SUSPECT_FIRST and is_formula(text) else text


def cell(value: Cell) -> str | int | float:
    """A value as the writer takes it: strings neutralised (and quoted by the writer), numbers
    as they are, nothing as an empty string."""
    if isinstance(value, str):
        return neutralise(value)
    if value is None or isinstance(value, bool):
        return "" if value is None else str(value).lower()
    return value


class Encoder:
    """Text to bytes in one of :data:`ENCODINGS`, counting what CP932 cannot hold."""

    def __init__(self, encoding: str, tally: Tally) -> None:
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}")
        self.encoding = encoding
        self.tally = tally

    def start(self) -> bytes:
        return BOM if self.encoding == "utf-8" else b""

    def encode(self, text: str) -> bytes:
        if self.encoding == "utf-8":
            return text.encode("utf-8")
        text = text.translate(WINDOWS_TWINS)
        data = text.encode("cp932", errors="replace")
        # 0x3F is never part of a CP932 double-byte character: every "?" beyond those in the
        # text is a replacement.
        self.tally.unmappable += data.count(b"?") - text.count("?")
        return data


def csv_chunks(
    header: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    encoding: str = "utf-8",
    newline: str = "crlf",
    tally: Tally | None = None,
    chunk_chars: int = CHUNK_CHARS,
    as_cells: bool = False,
) -> Iterator[bytes]:
    """The CSV file of ``header`` and ``rows`` as byte chunks of about ``chunk_chars``
    characters. ``tally`` counts rows, bytes and unmappable characters as they are written.
    With ``as_cells``, every value of ``rows`` is already what :func:`cell` makes of it
    (:func:`kansa.export.fields.cells_builder`) and is written as it is."""
    if newline not in NEWLINES:
        raise ValueError(f"newline must be one of {', '.join(NEWLINES)}")
    tally = tally if tally is not None else Tally()
    encoder = Encoder(encoding, tally)
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator=NEWLINES[newline])
    writer.writerow([neutralise(h) for h in header])
    first = encoder.start()
    suspect, reorders = SUSPECT_FIRST, REORDERS
    writerow = writer.writerow
    for row in rows:
        if as_cells:
            writerow(row)
        else:  # cell() inlined for the common case, a string that starts harmlessly
            writerow(
                [
                    v
                    if type(v) is str
                    and v[:1] not in suspect
                    and (v.isascii() or reorders(v) is None)
                    else cell(v)
                    for v in row
                ]
            )
        tally.rows += 1
        if buffer.tell() >= chunk_chars:
            chunk = first + encoder.encode(buffer.getvalue())
            first = b""
            buffer.seek(0)
            buffer.truncate()
            tally.bytes += len(chunk)
            yield chunk
    chunk = first + encoder.encode(buffer.getvalue())
    tally.bytes += len(chunk)
    yield chunk
