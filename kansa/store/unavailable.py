"""The store's side of the error contract: no driver exception crosses the store.

A database that cannot be used right now — unreachable, locked past its timeout, read-only,
out of disk — is :class:`~kansa.errors.StoreUnavailable`, which the edges answer with a 503
and ``Retry-After`` (the CLI: one line, exit 1). Each engine says which of its driver's
errors mean that and applies :func:`translating` where its connections are handed out and
its transactions end, so every method is covered without a ``try`` of its own. Every other
driver error (a constraint that means a conflict, a tenant that does not exist) is left to
the engine's own mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kansa.errors import StoreUnavailable


@contextmanager
def translating(unavailable: Callable[[Exception], bool]) -> Iterator[None]:
    """Raise :class:`StoreUnavailable` instead of any error ``unavailable`` recognises."""
    try:
        yield
    except Exception as exc:
        if unavailable(exc):
            raise StoreUnavailable(f"the database is unavailable: {first_line(exc)}") from exc
        raise


def first_line(exc: BaseException) -> str:
    """A driver's message on one line (PostgreSQL's run over several)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
