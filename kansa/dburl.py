"""What a database URL says, read without opening anything: the storage engines open the
database, and the key file's default place (beside a SQLite file) is found from the same
reading, so neither the settings nor the integrity keys import a storage engine."""

from __future__ import annotations


def path_of(url: str) -> str:
    """``sqlite:///./kansa.db`` → ``./kansa.db``; ``sqlite:////abs/path.db`` → ``/abs/path.db``;
    ``sqlite://:memory:`` → ``:memory:``."""
    rest = url.removeprefix("sqlite://")
    if rest in (":memory:", "/:memory:"):
        return ":memory:"
    return rest[1:] if rest.startswith("/") else rest


def in_memory(url: str) -> bool:
    """Whether ``url`` is a SQLite database in memory: one process's own, never on disk."""
    return url.startswith("sqlite") and path_of(url) == ":memory:"


MASK = "***"


def masked(url: str) -> str:
    """``url`` fit to print or log: the password of its user part (everything between the
    first ``:`` and the last ``@``, so a password holding ``/``, ``@`` or ``?`` is masked
    whole) and any ``password=`` query parameter replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    userinfo, at, place = rest.rpartition("@")
    user = f"{userinfo.split(':', 1)[0]}:{MASK}" if ":" in userinfo else userinfo
    path, question, query = place.partition("?")
    if question:
        query = "&".join(_masked_parameter(p) for p in query.split("&"))
    return f"{scheme}{sep}{user}{at}{path}{question}{query}"


def _masked_parameter(parameter: str) -> str:
    name, equals, _ = parameter.partition("=")
    return f"{name}={MASK}" if equals and name.lower() == "password" else parameter
