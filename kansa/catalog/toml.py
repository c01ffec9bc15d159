"""Reading the TOML files that configure kansa — catalogs, layouts, screens, export files —
shipped or an operator's: a file that cannot be read or is not TOML is a ConfigError naming
it."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from kansa.errors import ConfigError


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The parsed file at ``path``, a ``what`` (``catalog``, ``layout`` …)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: cannot read {what}: not valid TOML: {exc}") from exc
