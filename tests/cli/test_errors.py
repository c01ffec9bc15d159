"""The kansa command with its database taken away: one line on stderr, exit status 1, no
traceback — for a PostgreSQL server nobody listens for and a SQLite file on a read-only file
system."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kansa.cli import app
from kansa.store import open_store
from tests.net import free_port
from tests.outage import mount, tmpfs

runner = CliRunner()


def _assert_one_line(args: list[str], says: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # typer.Exit: no traceback
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"kansa: {says}: ")


@pytest.mark.parametrize("command", [["tenant", "list"], ["init"]])
def test_a_postgresql_server_that_is_not_there(command: list[str]) -> None:
    url = f"postgresql://kansa@127.0.0.1:{free_port()}/kansa?connect_timeout=2"
    _assert_one_line([*command, "--db", url], "cannot connect to PostgreSQL")


def test_a_sqlite_file_on_a_read_only_file_system(tmp_path: Path) -> None:
    directory = tmp_path / "fs"
    with tmpfs(directory):
        url = f"sqlite:///{directory / 'kansa.db'}"
        store = open_store(url)
        store.migrate()
        store.close()
        mount("-o", "remount,ro", str(directory))
        for command in (["tenant", "list"], ["init"]):
            _assert_one_line([*command, "--db", url], "the database is unavailable")
