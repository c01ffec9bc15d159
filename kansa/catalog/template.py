"""Message templates: ``ユーザー[{login}]を作成`` with ``{name}`` for a required value and
``{name?}`` for one that may be missing (it then renders as nothing).

Placeholders name values only — there is no attribute access or formatting language, so a
template from a user's catalog cannot reach anything but the values it is given.
``{{`` and ``}}`` stand for literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from kansa.words import Lang

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)(\??)\}")
_STRAY = re.compile(r"(?<!\{)\{(?!\{)|(?<!\})\}(?!\})")


@dataclass(frozen=True, slots=True)
class Template:
    """A message in Japanese and English, with the value names it needs."""

    ja: str
    en: str
    required: frozenset[str]
    optional: frozenset[str]

    @classmethod
    def parse(cls, ja: str, en: str) -> Template:
        required: set[str] = set()
        optional: set[str] = set()
        for text in (ja, en):
            leftover = _PLACEHOLDER.sub("", text)
            if _STRAY.search(leftover):
                raise ValueError(f"unbalanced brace in template {text!r}")
            for match in _PLACEHOLDER.finditer(text):
                name, maybe = match.group(1), match.group(2)
                if name:
                    (optional if maybe else required).add(name)
        return cls(ja, en, frozenset(required), frozenset(optional - required))

    @property
    def names(self) -> frozenset[str]:
        return self.required | self.optional

    def missing(self, values: Mapping[str, object]) -> list[str]:
        """The required names that ``values`` lacks or holds as empty."""
        return sorted(n for n in self.required if values.get(n) in (None, ""))

    def render(self, lang: Lang, values: Mapping[str, object], blank: str = "") -> str:
        """Fill the template. An optional value that is missing takes the space before it
        along, so ``[{ip} {os?}]`` renders ``[1.2.3.4]`` without an OS; a required one
        that is missing renders as ``blank``."""
        text = self.ja if lang == "ja" else self.en
        pieces, tail = _pieces(text)
        out: list[str] = []
        for literal, brace, name, optional in pieces:
            out.append(literal)
            if brace:
                out.append(brace)
                continue
            value = values.get(name)
            if value is None or value == "":
                if optional and out[-1].endswith(" "):
                    out[-1] = out[-1][:-1]
                elif not optional:
                    out.append(blank)
                continue
            out.append(value if type(value) is str else _text(value))
        out.append(tail)
        return "".join(out).strip()


_Piece = tuple[str, str, str, bool]


@lru_cache(maxsize=4096)
def _pieces(text: str) -> tuple[tuple[_Piece, ...], str]:
    """``text`` cut at its placeholders, once: each piece the literal text before one, then a
    brace (``{{`` or ``}}``, as one character) or a value's name and whether it is optional;
    and the text after the last."""
    pieces: list[_Piece] = []
    last = 0
    for match in _PLACEHOLDER.finditer(text):
        literal = text[last : match.start()]
        last = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            pieces.append((literal, token[0], "", False))
        else:
            pieces.append((literal, "", match.group(1), bool(match.group(2))))
    return tuple(pieces), text[last:]


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return str(value)
