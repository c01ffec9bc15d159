"""Files that hold keys or data are kansa's owner's alone: made mode 0600 and refused when
others may read or write them — the SQLite database with its ``-wal`` and ``-shm``, the
signing key file and the file that holds a database URL."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from kansa.dburl import path_of
from kansa.errors import ConfigError

OWNER_ONLY = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm")
"""The files SQLite keeps beside a database in WAL mode; SQLite makes them with the
database file's own mode."""


def make(path: Path) -> None:
    """Create ``path`` empty, mode 0600 whatever the umask, unless it exists."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY)
    except FileExistsError:
        return
    os.close(descriptor)


def check(path: Path, what: str) -> None:
    """ConfigError naming ``what`` and the fix when others may read or write ``path``;
    nothing when it is its owner's alone or is not there."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{what} {path} may be read by others (mode {stat.S_IMODE(mode):04o}): chmod 600 {path}"
        )


def check_sqlite(path: Path) -> None:
    """A SQLite database and the companions SQLite keeps beside it: each the owner's alone."""
    check(path, "database")
    for suffix in SQLITE_COMPANIONS:
        check(path.with_name(path.name + suffix), "database file")


def check_database(url: str) -> None:
    """For a SQLite URL, :func:`check_sqlite` of its file (PostgreSQL keeps its own files)."""
    if url.startswith("sqlite://") and path_of(url) != ":memory:":
        check_sqlite(Path(path_of(url)))
