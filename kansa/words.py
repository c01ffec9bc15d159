"""The words kansa's rules are written in, as types: who reads (their kind and role), why
(purpose), in which language, and how events are sorted into histories and levels. Each
comes with the tuple of its values, for checking input and listing choices."""

from __future__ import annotations

from typing import Literal, TypeGuard, get_args

Role = Literal["admin", "user"]
"""An administrator reads the whole tenant's log; a user only their own events."""
ReaderKind = Literal["key", "viewer", "account", "operator"]
"""An API key, a viewer token, a signed-in account, or the operator at the command line."""
Purpose = Literal["screen", "export"]
"""Reading on a log screen, or downloading a file (a key reads as for an export)."""
Lang = Literal["ja", "en"]
History = Literal["login", "operation", "provisioning", "access"]
"""A product's login, operation and provisioning histories, and kansa's own ``access``
(ログの利用履歴: reading, downloading, signing in to the console, retention and holds), which no
product view holds."""
Level = Literal["important", "info", "warning", "error"]

ROLES: tuple[Role, ...] = get_args(Role)
READER_KINDS: tuple[ReaderKind, ...] = get_args(ReaderKind)
PURPOSES: tuple[Purpose, ...] = get_args(Purpose)
LANGS: tuple[Lang, ...] = get_args(Lang)
HISTORIES: tuple[History, ...] = get_args(History)
LEVELS: tuple[Level, ...] = get_args(Level)
OWN_HISTORY: History = "access"
"""kansa's own history: returned by a search only when asked for by name."""
PRODUCT_HISTORIES: tuple[History, ...] = tuple(h for h in HISTORIES if h != OWN_HISTORY)


def is_role(value: object) -> TypeGuard[Role]:
    return value in ROLES


def is_lang(value: object) -> TypeGuard[Lang]:
    return value in LANGS


def lang_of(value: object, default: Lang) -> Lang:
    """``value`` where it names a language (a request's ``lang``, a stored setting), else
    ``default``."""
    return value if is_lang(value) else default


def role_of(value: object) -> Role:
    """A role read back from storage; anything else reads as the lesser role, ``user``."""
    return value if is_role(value) else "user"
