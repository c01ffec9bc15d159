"""Errors raised by kansa's domain and storage code.

Every error kansa raises on purpose is a :class:`KansaError`. The edges (HTTP API, CLI)
map them to a status code or an exit status in one place each::

    KansaError
    ├── ConfigError            settings or a data file (catalog, layout) is wrong
    │   └── SettingError       a setting unknown (a misspelled name) or out of range
    ├── InvalidInput           a request is malformed; carries a list of Problems (422)
    │   └── InvalidQuery       a search or export parameter is wrong (400)
    ├── AuthError              no credentials, or unknown ones (401)
    ├── Forbidden              credentials are valid but not for this (403)
    ├── NotFound               no such tenant, event, key... (404)
    ├── Conflict               the thing already exists (409)
    └── StoreError             the database could not do what was asked
        ├── StoreUnavailable   unreachable, locked, read-only or full: try later (503)
        └── IntegrityError     a chain or schema check failed
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input: where (a field path such as ``events[3].actor.id``)
    and what."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class KansaError(Exception):
    """Base of every error kansa raises on purpose."""


class ConfigError(KansaError):
    """A setting or a data file (catalog, layout) is wrong."""


class SettingError(ConfigError):
    """A ``KANSA_*`` variable, ``.env`` line or config file key that names no setting, or a
    setting's value of the wrong type or out of range."""


class InvalidInput(KansaError):
    """A request is malformed; ``problems`` says where and what."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = problems[0] if problems else Problem("", "invalid input")
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{first.path or 'input'}: {first.message}{more}")


class InvalidQuery(InvalidInput):
    """A search or export parameter is wrong."""


class AuthError(KansaError):
    """No credentials, or credentials kansa does not know."""


class Forbidden(KansaError):
    """Valid credentials that do not allow this."""


class NotFound(KansaError):
    """No such thing."""


class Conflict(KansaError):
    """The thing already exists."""


class StoreError(KansaError):
    """The database could not do what was asked."""


class StoreUnavailable(StoreError):
    """The database cannot be used right now: unreachable, locked past its timeout,
    read-only or out of space. Nothing was done; the same request may succeed later."""


class IntegrityError(StoreError):
    """A hash chain or a schema check failed."""
