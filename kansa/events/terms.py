"""The terms of the free-text index, and what a free-text term of a search asks of them.

The index is a prefilter: a search still tests that the term is a substring of the event's
search text (lower-cased, :func:`kansa.events.prepare.search_text`); the index only finds
the rows that can pass that test, quickly. Its terms are cut from the search text with one
rule, said once here and in docs/api.md:

- a *word* is a run of ASCII letters and digits (``[0-9a-z]``, the text being lower-case);
  it is stored whole (its first :data:`WORD_MAX` characters), and each word of a term must
  start a word of the event: ``suzuki`` finds ``kenta.suzuki7@…``, ``chiro`` does not find
  ``ichiro``;
- any other letter or digit (Japanese, accented Latin, …: a non-ASCII character for which
  ``str.isalnum()`` holds) is matched anywhere: a run of them is stored as every pair of
  neighbours (a run of one as that character), and a term's runs of two or more must have
  all their pairs: ``削除`` finds ``ファイルを削除しました``.

A term with no word of :data:`WORD_MIN` characters or more and no run of two such other
characters cannot be served by the index (``削``, ``ab``, ``-``): it is tested on every event
of the window, as before. Nothing here does I/O; the stores turn :class:`Needle` into SQL.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

MatchedBy = Literal["index", "scan"]

WORD_MAX = 100
"""Characters of a word the index keeps (and of a term's word it looks up)."""
WORD_MIN = 3
"""The shortest word of a term the index looks up by its start (shorter ones are left to
the substring test: a prefix of one or two letters starts too many words to be quick)."""

_WORDS = re.compile(rf"([0-9a-z]{{1,{WORD_MAX}}})[0-9a-z]*")
"""A term's words (their first :data:`WORD_MAX` characters)."""
_OTHERS = re.compile(r"[^\W\x00-\x7f]+")
"""Runs of word characters (``str.isalnum()``) outside ASCII."""
_ASCII_WORDS = bytes(b if 48 <= b <= 57 or 97 <= b <= 122 else 32 for b in range(256))
"""UTF-8 bytes with every byte but ``[0-9a-z]`` made a space: its words, split quickly."""
_NOT_ASCII = bytes(b if b >= 128 else 32 for b in range(256))
"""UTF-8 bytes with every ASCII byte made a space: the runs of other characters."""


def index_text(tenant_id: str | None, text: str) -> str:
    """The index terms of an event of ``tenant_id`` whose search text is ``text``, each once,
    separated by spaces: its words, the pairs of its other word characters, and
    :func:`tenant_term` (none without a tenant: PostgreSQL's index has the tenant beside it).
    Bytes and C-level methods, not a regular expression over the whole text: a few
    microseconds an event."""
    data = text.encode()
    words = set(data.translate(_ASCII_WORDS).split())
    if max(map(len, words), default=0) > WORD_MAX:
        words = {word[:WORD_MAX] for word in words}
    joined = b" ".join(words).decode()
    if len(data) != len(text):
        pairs = _pairs(b" ".join(data.translate(_NOT_ASCII).split()).decode())
        if pairs:
            joined += " " + " ".join(pairs)
    if tenant_id is None:
        return joined
    return f"{joined} {tenant_term(tenant_id)}" if joined else tenant_term(tenant_id)


def _pairs(others: str) -> set[str]:
    """Every pair of neighbours in each run of word characters of ``others`` (the runs of
    non-ASCII characters, space-separated); a run of one character as itself."""
    found: set[str] = set()
    for chunk in others.split():
        for run in (chunk,) if chunk.isalnum() else _OTHERS.findall(chunk):
            if len(run) == 1:
                found.add(run)
            else:
                found.update(map(str.__add__, run, run[1:]))
    return found


def terms(text: str) -> list[str]:
    """The index terms of a search text (lower-cased), without the tenant's."""
    return index_text(None, text).split()


@dataclass(frozen=True, slots=True)
class Form:
    """One form of a term (as typed, or its NFKC form), lower-cased as the search text is."""

    text: str
    """The substring the search text must hold."""
    words: tuple[str, ...]
    """The term's words (first :data:`WORD_MAX` characters), each of which must start a word
    of the search text."""
    prefixes: tuple[str, ...]
    """Index terms that must start a stored term (the words of :data:`WORD_MIN` or more)."""
    pairs: tuple[str, ...]
    """Index terms that must be stored whole (the pairs of its other characters)."""

    @property
    def indexed(self) -> bool:
        return bool(self.prefixes or self.pairs)


@dataclass(frozen=True, slots=True)
class Needle:
    """A free-text term of a search: the event matches when it holds one of ``forms``."""

    term: str
    forms: tuple[Form, ...]

    @property
    def indexed(self) -> bool:
        """Whether the index can find every event that holds the term."""
        return all(form.indexed for form in self.forms)


def matched_by(terms: tuple[str, ...]) -> list[tuple[str, MatchedBy]]:
    """How each free-text term of a search is matched: through the index (``index``), or
    tested on every event of the window (``scan``: too short for the index)."""
    return [(term, "index" if needle(term).indexed else "scan") for term in terms]


def needle(term: str) -> Needle:
    """``term`` as a search looks for it: lower-cased as stored, and also in its NFKC form
    when that differs (full-width ``ＩＤ`` finds ``id``, half-width ``ｶﾅ`` finds ``カナ``)."""
    typed = term.lower()
    folded = unicodedata.normalize("NFKC", term).lower()
    texts = (typed,) if folded == typed else (typed, folded)
    return Needle(term, tuple(_form(text) for text in texts))


def _form(text: str) -> Form:
    words = sorted(set(_WORDS.findall(text)))
    pairs: set[str] = set()
    for run in _OTHERS.findall(text):
        pairs.update(run[i : i + 2] for i in range(len(run) - 1))
    prefixes = tuple(w for w in words if len(w) >= WORD_MIN)
    return Form(text, tuple(words), prefixes, tuple(sorted(pairs)))


def tenant_term(tenant_id: str) -> str:
    """The index term every event of ``tenant_id`` carries, so that the index answers for
    one tenant: a private-use character (never part of a word) and the id's UTF-8 in hex."""
    return "\ue000" + tenant_id.encode().hex()
