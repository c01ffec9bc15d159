"""An event as kansa keeps it and gives it back: the record :func:`kansa.events.prepare.prepare`
hashes, with its place in the tenant's chain (``seq``, ``prev_hash``, ``hash``); and the same
event as a reader is shown it (:func:`kansa.events.present.present`).

Typed dicts: at run time each is the plain dict decoded from the stored JSON, so typing them
costs nothing. Every key below is in every stored event (``prepare`` writes them all, None
where a publisher sent nothing). An event read from a file someone hands in is not one of
these until it is verified; :mod:`kansa.integrity` reads those as plain mappings.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from kansa.words import History, Level


class TenantOf(TypedDict):
    id: str
    name: str | None


class ActorOf(TypedDict):
    id: str
    name: str | None
    login: str | None
    email: str | None
    type: str | None


class TargetOf(TypedDict):
    type: str | None
    id: str | None
    name: str | None
    login: str | None


class ErrorOf(TypedDict):
    code: str | None
    message: str | None


class Messages(TypedDict):
    ja: str
    en: str


class _Event(TypedDict):
    """The fields a stored and a presented event share (all but ``message``)."""

    v: int
    id: str
    client_id: str | None
    """The publisher's own id, the idempotency key."""
    tenant: TenantOf
    app: str | None
    product: str
    action: str
    category: str
    history: History
    occurred_at: str
    """ISO 8601 in UTC, as are all the times here."""
    received_at: str
    result: str
    level: Level
    actor: ActorOf | None
    anonymous: bool
    ip: str | None
    user_agent: str | None
    targets: list[TargetOf]
    params: dict[str, Any]
    details: dict[str, Any] | None
    trace_id: str | None
    error: ErrorOf | None
    correlation_id: str | None
    seq: int
    prev_hash: str
    hash: str
    pruned: NotRequired[str]
    """Only on a screen's placeholder of a pruned event: ``retention`` or ``erasure``."""


class StoredEvent(_Event):
    """An event read back from the store."""

    message: Messages


class PresentedEvent(_Event):
    """A stored event with its message (``message``, in the reader's language; ``messages``,
    both) and the catalog's ``labels``, ``module`` and ``action_code``; a detail view adds
    the ``states`` of its job, an export the job's start (``job``)."""

    message: str
    messages: Messages
    labels: dict[str, str]
    module: str
    action_code: str
    states: NotRequired[list[PresentedEvent]]
    job: NotRequired[dict[str, Any]]
