"""Searches as values: what a reader asked for (:class:`Filters`), the query language people
type into ``q``, and the cursor. No SQL here: the store translates a :class:`Query`.

The query language: terms separated by spaces, all of which must match (AND). ``field:value``
matches one field — ``actor:ichiro result:failure action:login*`` — and a value holding spaces
is quoted, ``service:"Microsoft 365"``. A bare word or a quoted phrase is free text over the
message, the names and the details.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from kansa.errors import InvalidQuery, Problem

SORTS = (
    "occurred_at",
    "started_at",
    "received_at",
    "actor",
    "actor_id",
    "actor_login",
    "actor_name",
    "action",
    "label",
    "result",
    "level",
    "category",
    "history",
    "ip",
    "target",
    "target_id",
    "service",
    "seq",
)
NUMBER_SORTS = frozenset({"occurred_at", "started_at", "received_at", "level", "seq", "label"})
"""The sorts whose cursor value is a number; the others' is text."""
MAX_LIMIT = 500
DEFAULT_LIMIT = 50

# q fields and the Filters attribute each one fills.
Q_FIELDS = {
    "actor": "actor",
    "user": "actor",
    "actor_id": "actor_id",
    "target_id": "target_id",
    "action": "actions",
    "result": "results",
    "level": "levels",
    "category": "categories",
    "history": "histories",
    "ip": "ip",
    "target": "target",
    "service": "service",
    "app": "apps",
    "trace": "trace_id",
    "job": "correlation_id",
    "group": "groups",
}
MAX_VALUES = {
    "histories": 20,
    "categories": 100,
    "actions": 200,
    "groups": 50,
    "results": 50,
    "levels": 20,
    "apps": 50,
    "text": 20,
}
"""How many values one filter takes: enough for any screen, few enough that no engine's
statement grows past its limits (SQLite refuses an expression nested too deep)."""
PARAMETER_OF = {"histories": "history", "categories": "category", "actions": "action",
                "groups": "group", "results": "result", "levels": "level", "apps": "app",
                "text": "q"}  # fmt: skip
_TERM = re.compile(r'\s*(?:([A-Za-z_]+):(?:"([^"]*)"|(\S+))|"([^"]*)"|(\S+))')


@dataclass(frozen=True, slots=True)
class Filters:
    """What a reader asked to see. Empty means no condition; several values of one field
    mean any of them."""

    histories: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    """Exact codes, or prefixes ending in ``*``."""
    groups: tuple[str, ...] = ()
    logged_by: tuple[tuple[str, str], ...] = ()
    """(action, module) of actions several modules log, asked from one module: the event's
    ``params.module`` must name it. Either these or :attr:`actions` match."""
    results: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    apps: tuple[str, ...] = ()
    actor: str | None = None
    """Part of an actor's id, login or name."""
    actor_id: str | None = None
    """An actor's whole id: matched exactly, through the (tenant, actor, time) index."""
    ip: str | None = None
    target: str | None = None
    """Part of a target's id or name."""
    target_id: str | None = None
    """The first target's whole id, matched exactly."""
    service: str | None = None
    trace_id: str | None = None
    correlation_id: str | None = None
    text: tuple[str, ...] = ()
    """Free-text terms, each of which must appear."""
    nothing: bool = False
    """Conditions that no event can meet (an action asked for outside its module)."""

    def __post_init__(self) -> None:
        for name, most in MAX_VALUES.items():
            given = getattr(self, name)
            if len(given) > most:
                where = PARAMETER_OF.get(name, name)
                raise InvalidQuery(
                    [
                        Problem(
                            where, f"at most {most} values may be asked at once, not {len(given)}"
                        )
                    ]
                )

    def merge(self, other: Filters) -> Filters:
        """Both sets of conditions (used for ``q`` terms on top of parameters)."""
        values: dict[str, object] = {}
        for name in self.__dataclass_fields__:
            mine, theirs = getattr(self, name), getattr(other, name)
            if isinstance(mine, bool):
                values[name] = mine or theirs
            elif isinstance(mine, tuple):
                values[name] = mine + tuple(v for v in theirs if v not in mine)
            elif mine is not None and theirs is not None and mine != theirs:
                raise InvalidQuery([Problem(name, f"given twice: {mine!r} and {theirs!r}")])
            else:
                values[name] = mine if mine is not None else theirs
        return Filters(**values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next page starts: after the row with this sort value and seq."""

    value: str | int | None
    seq: int

    def encode(self) -> str:
        raw = orjson.dumps([self.value, self.seq])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            value, seq = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        except (ValueError, TypeError, orjson.JSONDecodeError):
            raise InvalidQuery([Problem("cursor", "not a cursor this API gave out")]) from None
        shaped = isinstance(seq, int) and isinstance(value, str | int | None)
        if not shaped or not _storable(seq) or not _storable(value):
            raise InvalidQuery([Problem("cursor", "not a cursor this API gave out")])
        return cls(value, seq)

    def check(self, sort: str) -> None:
        """Refuse a cursor whose value cannot be of ``sort`` (made for another sort, or
        crafted): a number for a time, seq or level, text for the others."""
        wanted = int if sort in NUMBER_SORTS else str
        if self.value is not None and not isinstance(self.value, wanted):
            raise InvalidQuery(
                [Problem("cursor", f"not a cursor for sort={sort}; start again without it")]
            )


def _storable(value: object) -> bool:
    """A value both engines take as a parameter: no bool, a 64-bit integer, text without NUL."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return not isinstance(value, str) or "\x00" not in value


@dataclass(frozen=True, slots=True)
class Query:
    """A search after access rules were applied: what the store runs."""

    tenant: str
    since: datetime | None = None
    until: datetime | None = None
    filters: Filters = field(default_factory=Filters)
    actor_id: str | None = None
    """Only events of this actor (a general user reading their own)."""
    visible: frozenset[tuple[str, str]] | None = None
    """The (product, action) pairs the reader may see; None for every one."""
    group_actions: frozenset[tuple[str, str]] | None = None
    """The (product, action) pairs of the asked-for groups, when groups were asked for."""
    sort: str = "occurred_at"
    descending: bool = True
    limit: int = DEFAULT_LIMIT
    after: Cursor | None = None
    jobs: bool = False
    """One row per job (correlation id) in its latest state: the provisioning view."""
    placeholders: bool = False
    """Pruned events too, as placeholders saying they were removed (a screen's rows); never
    for an API or an export, which return only what the store still holds."""
    labels: tuple[tuple[str, str, int], ...] = ()
    """For the sort ``label``: (product, action, rank), the rank of the action's label in
    the reader's language among the labels sorted (:func:`label_ranks`); an action not
    listed sorts last."""

    def __post_init__(self) -> None:
        if self.after is not None:
            self.after.check(self.sort)


def label_ranks(labels: Sequence[tuple[tuple[str, str], str]]) -> list[tuple[str, str, int]]:
    """(product, action, rank) for each (pair, label): the rank of its label among the
    labels sorted, one rank for one label."""
    ordered = sorted({label for _, label in labels})
    rank = {label: number for number, label in enumerate(ordered)}
    return [(product, action, rank[label]) for (product, action), label in labels]


def parse_q(text: str) -> Filters:
    """Parse the query language into filters; a bad term is a 400 naming it."""
    lists: dict[str, list[str]] = {}
    single: dict[str, str] = {}
    text_terms: list[str] = []
    position = 0
    stripped = text.strip()
    while position < len(stripped):
        match = _TERM.match(stripped, position)
        if match is None or match.end() == position:
            raise InvalidQuery(
                [Problem("q", f"cannot read the query from {stripped[position:]!r}")]
            )
        position = match.end()
        name, quoted, plain, phrase, word = match.groups()
        term = match.group(0).strip()
        if name is None:
            value = phrase if phrase is not None else word
            if value is None or '"' in value:
                raise InvalidQuery([Problem("q", f"unbalanced quote in {term!r}")])
            if value.endswith(":") and value[:-1].lower() in Q_FIELDS:
                raise InvalidQuery([Problem("q", f"{term!r} has no value")])
            if value.strip():
                text_terms.append(value)
            continue
        value = quoted if quoted is not None else plain
        if value is None or '"' in value:
            raise InvalidQuery([Problem("q", f"unbalanced quote in {term!r}")])
        target = Q_FIELDS.get(name.lower())
        if target is None:
            raise InvalidQuery(
                [
                    Problem(
                        "q",
                        f"unknown field {name!r} in {term!r}; known: {', '.join(sorted(Q_FIELDS))}",
                    )
                ]
            )
        if not value:
            raise InvalidQuery([Problem("q", f"{term!r} has no value")])
        if target in ("actions", "results", "levels", "categories", "histories", "apps", "groups"):
            lists.setdefault(target, []).append(value)
        elif target in single and single[target] != value:
            raise InvalidQuery([Problem("q", f"{name} is given twice")])
        else:
            single[target] = value
    values: dict[str, object] = {k: tuple(v) for k, v in lists.items()}
    values.update(single)
    values["text"] = tuple(text_terms)
    return Filters(**values)  # type: ignore[arg-type]


def check_choice(name: str, values: Sequence[str], allowed: Sequence[str]) -> None:
    for value in values:
        if value not in allowed:
            raise InvalidQuery([Problem(name, f"{value!r} is not one of: {', '.join(allowed)}")])
