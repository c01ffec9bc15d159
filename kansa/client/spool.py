"""The spool: a SQLite file where the client keeps every event until kansa has acknowledged it.

``publish`` commits the event here before it returns, so an event survives a server outage
and the end of the publishing process (``synchronous=FULL`` by default: a power cut too).
The sender reads the oldest events, and removes them only once a receipt covers them. An
event kansa refused (a 4xx) moves to the ``rejected`` table with the server's problems, kept
until someone requeues it.

One live client per spool file: an exclusive lock on ``<spool>.lock`` (released by the
kernel when the process ends, however it ends) keeps a second one out.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

import orjson

from kansa.client.errors import SpoolBusy, SpoolExposed

OWNER_ONLY = 0o600
COMPANIONS = ("", ".lock", "-wal", "-shm")
"""The spool file and those kept beside it, all its owner's alone."""

Sync = Literal["full", "normal"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT    NOT NULL,
    body       BLOB    NOT NULL,
    queued_at  REAL    NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS rejected (
    seq          INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL,
    body         BLOB    NOT NULL,
    status       INTEGER NOT NULL,
    detail       TEXT    NOT NULL,
    problems     TEXT    NOT NULL,
    rejected_at  TEXT    NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Spooled:
    """One event waiting in the spool."""

    seq: int
    id: str
    body: bytes
    queued_at: float
    attempts: int
    """How many times it was handed to the sender before this one (0: never sent)."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """An event kansa refused with a 4xx, and why."""

    id: str
    event: dict[str, Any]
    status: int
    detail: str
    problems: list[dict[str, str]]
    rejected_at: datetime


def default_spool_path(url: str) -> Path:
    """``kansa/spool-<hash of url>.sqlite3`` in the user's cache directory."""
    digest = hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:16]
    return cache_dir() / "kansa" / f"spool-{digest}.sqlite3"


def cache_dir() -> Path:
    """The user's cache directory: XDG_CACHE_HOME or ~/.cache, ~/Library/Caches on macOS,
    LOCALAPPDATA on Windows."""
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"])
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


class Spool:
    """The durable queue of one client; safe to share between threads."""

    def __init__(self, path: Path | str, *, sync: Sync = "full") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _private(self.path)
        self._lockfile = _lock(self.path.with_name(self.path.name + ".lock"))
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(f"PRAGMA synchronous={sync.upper()}")
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._conn.executescript(_SCHEMA)
            self._pending = self._count("pending")
            self._rejected = self._count("rejected")
        except BaseException:
            self._lockfile.close()
            raise
        self._closed = False

    @property
    def pending(self) -> int:
        """Events waiting to be acknowledged."""
        return self._pending

    @property
    def rejected_count(self) -> int:
        """Events in the rejected table."""
        return self._rejected

    def add(self, events: Sequence[tuple[str, bytes]]) -> None:
        """Append ``(id, JSON body)`` pairs in one committed transaction."""
        now = time.time()
        with self._lock, self._transaction():
            self._conn.executemany(
                "INSERT INTO pending (id, body, queued_at) VALUES (?, ?, ?)",
                [(event_id, body, now) for event_id, body in events],
            )
            self._pending += len(events)

    def oldest(self) -> float | None:
        """When the oldest waiting event was queued (Unix time), or None when empty."""
        with self._lock:
            row = self._conn.execute("SELECT min(queued_at) FROM pending").fetchone()
        return None if row[0] is None else float(row[0])

    def take(self, limit: int) -> list[Spooled]:
        """The oldest ``limit`` waiting events; each one's attempt count goes up (durably,
        so a resend after a crash is known as one). They stay until removed."""
        with self._lock, self._transaction():
            rows = self._conn.execute(
                "SELECT seq, id, body, queued_at, attempts FROM pending ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
            if rows:
                self._conn.execute(
                    "UPDATE pending SET attempts = attempts + 1 WHERE seq BETWEEN ? AND ?",
                    (rows[0][0], rows[-1][0]),
                )
            else:
                self._pending = 0  # the count drifted (a failed commit): the table is empty
        return [Spooled(int(s), str(i), bytes(b), float(q), int(a)) for s, i, b, q, a in rows]

    def remove(self, events: Sequence[Spooled]) -> None:
        """Forget events kansa acknowledged."""
        with self._lock, self._transaction():
            cursor = self._conn.executemany(
                "DELETE FROM pending WHERE seq = ?", [(e.seq,) for e in events]
            )
            self._pending -= cursor.rowcount

    def reject(
        self, events: Sequence[Spooled], status: int, detail: str, problems: list[dict[str, str]]
    ) -> None:
        """Move refused events to ``rejected`` with the server's answer, in one transaction."""
        when = datetime.now(UTC).isoformat()
        listed = orjson.dumps(problems).decode()
        with self._lock, self._transaction():
            self._conn.executemany(
                "INSERT OR REPLACE INTO rejected (seq, id, body, status, detail, problems,"
                " rejected_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(e.seq, e.id, e.body, status, detail, listed, when) for e in events],
            )
            cursor = self._conn.executemany(
                "DELETE FROM pending WHERE seq = ?", [(e.seq,) for e in events]
            )
            self._pending -= cursor.rowcount
            self._rejected = self._count("rejected")

    def rejected(self) -> list[Rejected]:
        """Every refused event, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, body, status, detail, problems, rejected_at FROM rejected ORDER BY seq"
            ).fetchall()
        return [
            Rejected(
                id=str(event_id),
                event=orjson.loads(body),
                status=int(status),
                detail=str(detail),
                problems=orjson.loads(problems),
                rejected_at=datetime.fromisoformat(when),
            )
            for event_id, body, status, detail, problems, when in rows
        ]

    def requeue_rejected(self) -> int:
        """Put every refused event back in line (after the cause was fixed); how many."""
        with self._lock, self._transaction():
            cursor = self._conn.execute(
                "INSERT INTO pending (seq, id, body, queued_at, attempts)"
                " SELECT seq, id, body, ?, 0 FROM rejected",
                (time.time(),),
            )
            moved = cursor.rowcount
            self._conn.execute("DELETE FROM rejected")
            self._pending += moved
            self._rejected = 0
        return moved

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._conn.close()
            self._lockfile.close()

    def _count(self, table: str) -> int:
        return int(self._conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK when the block raises."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            try:
                self._conn.execute("COMMIT")
                return
            except sqlite3.Error:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        self._conn.execute("ROLLBACK")


def _private(path: Path) -> None:
    """Make the spool and its lock file 0600 if they are new (SQLite gives ``-wal`` and
    ``-shm`` the spool's mode); SpoolExposed when any of them may be read by others."""
    for suffix in ("", ".lock"):
        try:
            os.close(os.open(f"{path}{suffix}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY))
        except FileExistsError:
            pass
    if sys.platform == "win32":  # pragma: no cover - no POSIX modes; the profile's ACL rules
        return
    for suffix in COMPANIONS:
        try:
            mode = os.stat(f"{path}{suffix}").st_mode
        except FileNotFoundError:
            continue
        if mode & 0o077:
            raise SpoolExposed(
                f"spool file {path}{suffix} may be read by others (mode {mode & 0o777:04o}):"
                f" chmod 600 {path}{suffix}"
            )


def _lock(path: Path) -> IO[bytes]:
    """Hold an exclusive lock on ``path`` for as long as the returned file stays open."""
    handle = open(path, "a+b")  # the open file is the lock
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory lock, one client by contract
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise SpoolBusy(
            f"{path.with_suffix('')} is in use by another client; give each client its own"
            " spool_path"
        ) from None
    return handle
