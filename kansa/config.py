"""Where the settings come from besides the environment, and how a mistake in them is told:
the TOML file ``KANSA_CONFIG`` names (keys named as the settings, without the prefix), and
one line for a name kansa does not know (with the closest one it does) or a value out of
range — never a silently fresh database because a variable was misspelled, never a
traceback. :mod:`kansa.settings` uses these; nothing here knows its fields by name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from kansa.catalog.toml import read_toml
from kansa.errors import SettingError

PREFIX = "KANSA_"
NOT_SETTINGS = ("KANSA_TEST_", "KANSA_BENCH_")
"""Variables of kansa's test suite and benchmarks: not settings, and not refused."""


def variable(field: str) -> str:
    """``database_url`` → ``KANSA_DATABASE_URL``."""
    return PREFIX + field.upper()


def closest(name: str, known: Iterable[str]) -> str:
    """``; did you mean KNOWN?`` for the known name closest to ``name``, else nothing."""
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {match[0]}?" if match else ""


def unknown_variables(environ: Mapping[str, str], fields: Iterable[str]) -> list[str]:
    """The ``KANSA_*`` variables of ``environ`` that name no setting, with a line for each."""
    known = {variable(f) for f in fields}
    lines = []
    for name in sorted(environ):
        upper = name.upper()
        if upper.startswith(PREFIX) and upper not in known and not upper.startswith(NOT_SETTINGS):
            lines.append(f"unknown setting {name} in the environment{closest(upper, known)}")
    return lines


def read_config(path: Path, fields: Iterable[str]) -> dict[str, Any]:
    """The settings of the TOML file at ``path``; a key that names no setting is refused."""
    values = read_toml(path, "settings")
    known = [f for f in fields if f != "config"]
    for key in values:
        if key not in known:
            raise SettingError(f"{path}: unknown setting {key!r}{closest(key, known)}")
    return values


def describe(
    error: ValidationError, fields: Iterable[str], secret: Iterable[str], config: Path | None
) -> str:
    """The first problem of ``error`` as one line naming the variable (and the key of the
    ``config`` file) and what is allowed; the value given is repeated unless its field is
    ``secret``."""
    problems = error.errors()
    first = problems[0]
    field = str(first["loc"][0]) if first["loc"] else "settings"
    fields_wrong = {str(p["loc"][0]) if p["loc"] else "" for p in problems}
    more = f" (and {len(fields_wrong) - 1} more)" if len(fields_wrong) > 1 else ""
    if first["type"] == "extra_forbidden":
        name = field.upper()
        return f"unknown setting {name} in .env{closest(name, map(variable, fields))}{more}"
    message = str(first["msg"]).removeprefix("Value error, ")
    if not first["loc"]:  # a rule over several settings names them itself
        return f"{message}{more}"
    given = "" if field in secret else f", not {first['input']!r}"
    where = f" (or {field} in {config})" if config else ""
    return f"{variable(field)}{where}: {message}{given}{more}"


class ConfigFile(PydanticBaseSettingsSource):
    """The settings of the file named by ``config`` in the sources before it (arguments,
    environment, .env): below them all, so the environment overrides the file."""

    def __init__(
        self, settings_cls: type[BaseSettings], before: Iterable[PydanticBaseSettingsSource]
    ) -> None:
        super().__init__(settings_cls)
        self.before = list(before)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # the whole file is read at once, in __call__

    def __call__(self) -> dict[str, Any]:
        for source in self.before:
            named = source().get("config")
            if named:
                return read_config(Path(named), self.settings_cls.model_fields)
        return {}
