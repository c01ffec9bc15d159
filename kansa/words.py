"""The words kansa's rules are written in, as types: who reads (their kind and role), why
(purpose), in which language, and how events are sorted into histories and levels. Each
comes with the tuple of its values, for checking input and listing choices."""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["admin", "user"]
"""An administrator reads the whole tenant's log; a user only their own events."""
ReaderKind = Literal["key", "viewer", "account", "operator"]
"""An API key, a viewer token, a signed-in account, or the operator at the command line."""
Purpose = Literal["screen", "export"]
"""Reading on a log screen, or downloading a file (a key reads as for an export)."""
Lang = Literal["ja", "en"]
History = Literal["login", "operation", "provisioning"]
Level = Literal["important", "info", "warning", "error"]

ROLES: tuple[Role, ...] = get_args(Role)
READER_KINDS: tuple[ReaderKind, ...] = get_args(ReaderKind)
PURPOSES: tuple[Purpose, ...] = get_args(Purpose)
LANGS: tuple[Lang, ...] = get_args(Lang)
HISTORIES: tuple[History, ...] = get_args(History)
LEVELS: tuple[Level, ...] = get_args(Level)
