"""Ways to take a database away for real, for the tests of kansa's error contract: a file
system of its own (to fill, or remount read-only) for SQLite, and a PostgreSQL database of the
test's own closed to connections."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest


@contextmanager
def tmpfs(where: Path, size: str = "16m") -> Iterator[Path]:
    """A file system of its own at ``where``, to fill or make read-only; skips, saying why,
    where mounting is not possible (not root, no mount(8), a container without the right)."""
    where.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("SQLite outages NOT TESTED: there is no mount(8) here to make a tmpfs")
    mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        reason = done.stderr.strip() or f"mount exited {done.returncode}"
        pytest.skip(f"SQLite outages NOT TESTED: cannot mount here (needs root): {reason}")


def fill(directory: Path) -> None:
    """Take every free page of ``directory``'s file system."""
    with (directory / "filler").open("wb", buffering=0) as filler:
        for chunk in (1 << 20, 1 << 12):
            try:
                while True:
                    filler.write(bytes(chunk))
            except OSError:
                continue


def cut_off(server: str, name: str) -> None:
    """Refuse new connections to database ``name`` (the test's own) and end its backends."""
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'.encode())
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
