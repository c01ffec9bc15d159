"""What a database URL says, read without opening anything: the storage engines open the
database, and the key file's default place (beside a SQLite file) is found from the same
reading, so neither the settings nor the integrity keys import a storage engine."""

from __future__ import annotations

import re

_PASSWORD_IN_NETLOC = re.compile(r"^([a-z][a-z0-9+.-]*://[^:@/?#]*:)([^@/?#]*)(@)", re.IGNORECASE)
_PASSWORD_IN_QUERY = re.compile(r"([?&]password=)([^&#]*)", re.IGNORECASE)


def path_of(url: str) -> str:
    """``sqlite:///./kansa.db`` → ``./kansa.db``; ``sqlite:////abs/path.db`` → ``/abs/path.db``;
    ``sqlite://:memory:`` → ``:memory:``."""
    rest = url.removeprefix("sqlite://")
    if rest in (":memory:", "/:memory:"):
        return ":memory:"
    return rest[1:] if rest.startswith("/") else rest


def masked(url: str) -> str:
    """``url`` fit to print: a password in it, before the host(s) or as a ``password=``
    parameter, becomes ``***``. ``postgresql://kansa:s3cret@h1:5432,h2:5432/kansa`` →
    ``postgresql://kansa:***@h1:5432,h2:5432/kansa``."""
    url = _PASSWORD_IN_NETLOC.sub(r"\1***\3", url)
    return _PASSWORD_IN_QUERY.sub(r"\1***", url)
