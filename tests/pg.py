"""A PostgreSQL server for the tests: the one ``KANSA_TEST_POSTGRES_URL`` names, or else a
throwaway cluster made with ``initdb`` + ``pg_ctl`` in a temp dir (about a second), stopped
when the session ends. Where no PostgreSQL binaries exist at all, :class:`Unavailable` says
so; ``KANSA_TEST_REQUIRE_POSTGRES=1`` (set by CI) turns that skip into a failure."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.net import free_port

URL_VARIABLE = "KANSA_TEST_POSTGRES_URL"
REQUIRE_VARIABLE = "KANSA_TEST_REQUIRE_POSTGRES"


class Unavailable(Exception):
    """No PostgreSQL server is given and none can be started here."""


def unavailable(reason: str) -> None:
    """Skip the PostgreSQL half of the suite, loudly — or fail it where it is required."""
    message = (
        f"PostgreSQL tests NOT RUN: {reason}. Set {URL_VARIABLE}=postgresql://... or install "
        f"PostgreSQL (initdb, pg_ctl); {REQUIRE_VARIABLE}=1 makes this a failure."
    )
    if os.environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def bindir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are: ``pg_config --bindir``, Debian's
    /usr/lib/postgresql/*/bin (newest first), or the PATH."""
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if found.returncode == 0:
            candidates.append(Path(found.stdout.strip()))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += [Path(p) for p in sorted(versions, key=_version, reverse=True)]
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    return None


def _version(path: str) -> float:
    try:
        return float(Path(path).parent.name)
    except ValueError:
        return 0.0


def start_server() -> tuple[str, Callable[[], None]]:
    """The URL of a PostgreSQL server for the session (a database on it that may create
    databases), and how to stop it when the session ends."""
    if url := os.environ.get(URL_VARIABLE):
        return url, lambda: None
    return throwaway_cluster()


def throwaway_cluster() -> tuple[str, Callable[[], None]]:
    """A new cluster in a temp dir, listening on 127.0.0.1 on a free port."""
    found = bindir()
    if found is None:
        raise Unavailable(f"{URL_VARIABLE} is unset and no PostgreSQL binaries were found")
    data = Path(tempfile.mkdtemp(prefix="kansa-pg-"))
    as_user = _run_as(data)
    port = free_port()
    log = data / "server.log"
    pg_ctl = [*as_user, str(found / "pg_ctl"), "-D", str(data / "data")]
    try:
        subprocess.run(
            [
                *as_user,
                str(found / "initdb"),
                "-D",
                str(data / "data"),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={data}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=200"
        )
        subprocess.run(
            [*pg_ctl, "-l", str(log), "-o", options, "-w", "-t", "30", "start"],
            check=True,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as exc:
        detail = log.read_text() if log.exists() else ""
        shutil.rmtree(data, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {exc.stderr}{detail}") from exc

    def stop() -> None:
        subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)

    return f"postgresql://postgres@127.0.0.1:{port}/postgres", stop


def _run_as(data: Path) -> list[str]:
    """initdb refuses to run as root: then run the cluster as the ``postgres`` user."""
    if os.geteuid() != 0:
        return []
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        raise Unavailable("running as root and there is no 'postgres' user for initdb") from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise Unavailable("running as root and runuser is missing")
    os.chown(data, user.pw_uid, user.pw_gid)
    return [runuser, "-u", "postgres", "--"]


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def create_database(server_url: str) -> str:
    """A fresh, empty database on the server; returns its URL."""
    name = f"kansa_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    return with_database(server_url, name)


def drop_database(server_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


@contextmanager
def fresh_database(
    engine_url: str, request: pytest.FixtureRequest, directory: Path, name: str = "fresh"
) -> Iterator[str]:
    """A new, migrated database of ``engine_url``'s engine (a SQLite file in ``directory``,
    or a database on the session's PostgreSQL server), dropped afterwards."""
    from kansa.store import open_store

    if engine_url.startswith("sqlite"):
        url, server = f"sqlite:///{directory / f'{name}.db'}", None
    else:
        server = request.getfixturevalue("postgres_server")
        url = create_database(server)
    store = open_store(url)
    store.migrate()
    store.close()
    try:
        yield url
    finally:
        if server is not None:
            drop_database(server, url)
