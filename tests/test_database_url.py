"""The database password is never shown: every URL kansa prints or logs has it masked (one
helper, ``kansa.dburl.masked``), and ``KANSA_DATABASE_URL_FILE`` keeps the URL out of the
environment and the command line (``ps``) altogether."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kansa.cli import app
from kansa.dburl import masked
from kansa.errors import SettingError
from kansa.settings import Settings, load_settings
from tests import pg
from tests.served import serve

runner = CliRunner()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://kansa:s3cr@t@db:5432/kansa", "postgresql://kansa:***@db:5432/kansa"),
        (
            "postgresql://kansa:a/b?c@db/kansa?password=x",
            "postgresql://kansa:***@db/kansa?password=***",
        ),
        (
            "postgres://db/kansa?sslmode=require&PassWord=x",
            "postgres://db/kansa?sslmode=require&PassWord=***",
        ),
        ("postgresql://kansa@db/kansa", "postgresql://kansa@db/kansa"),
        ("sqlite:////var/lib/kansa/kansa.db", "sqlite:////var/lib/kansa/kansa.db"),
        ("not a url", "not a url"),
    ],
)
def test_masked_hides_the_password_and_nothing_else(url: str, shown: str) -> None:
    assert masked(url) == shown


@pytest.fixture
def with_password(postgres_server: str) -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL database's URL with a password in it (the test server trusts
    every local connection, so the password is carried but not needed), and the password."""
    url = pg.create_database(postgres_server)
    password = f"pw-{uuid.uuid4().hex}"
    yield url.replace("postgresql://postgres@", f"postgresql://postgres:{password}@", 1), password
    pg.drop_database(postgres_server, url)


def url_file(directory: Path, url: str, mode: int = 0o600) -> Path:
    path = directory / "database-url"
    path.write_text(url + "\n", encoding="utf-8")
    path.chmod(mode)
    return path


def test_init_and_serve_print_the_url_masked(
    with_password: tuple[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url, password = with_password
    assert url != url.replace(password, "")
    result = runner.invoke(app, ["init", "--db", url])
    assert result.exit_code == 0, result.output
    assert "postgres:***@127.0.0.1" in result.stdout
    env = {"KANSA_DATABASE_URL_FILE": str(url_file(tmp_path, url))}
    with serve(url, tmp_path, env, ["--workers", "2"]) as served:
        with served.client() as http:
            assert http.get("/readyz").status_code == 200
    logged = served.stderr.read_text(errors="replace")
    assert "database postgresql://postgres:***@127.0.0.1" in logged
    for text in (result.stdout, result.stderr, logged, caplog.text):
        assert password not in text


def test_errors_never_repeat_the_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    unreachable = f"postgresql://kansa:{password}@127.0.0.1:1/kansa"
    outputs = []
    for args, code in (
        (["verify", "--db", unreachable], 1),
        (["tenant", "list", "--db", f"mysql://kansa:{password}@db/kansa"], 2),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == code, result.output
        outputs.append(result.stderr)
    monkeypatch.setenv("KANSA_DATABASE_URL", unreachable)
    monkeypatch.setenv("KANSA_DATABASE_URL_FILE", str(url_file(tmp_path, unreachable)))
    both = runner.invoke(app, ["tenant", "list"])
    assert both.exit_code == 2
    assert both.stderr == "kansa: set KANSA_DATABASE_URL or KANSA_DATABASE_URL_FILE, not both\n"
    for text in [*outputs, both.stderr]:
        assert password not in text
    assert "mysql://kansa:***@db/kansa" in outputs[1]


def test_the_url_file_is_read_only_when_its_owners_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KANSA_DATABASE_URL", raising=False)
    url = f"sqlite:///{tmp_path / 'kansa.db'}"
    for mode in (0o600, 0o400):
        path = url_file(tmp_path, url, mode)
        assert Settings(database_url_file=path).database_url == url
        path.chmod(0o600)
    monkeypatch.setenv("KANSA_DATABASE_URL_FILE", str(url_file(tmp_path, url, 0o640)))
    result = runner.invoke(app, ["tenant", "list"])
    assert result.exit_code == 2
    assert result.stderr.startswith("kansa: KANSA_DATABASE_URL_FILE: database URL file ")
    assert "may be read by others (mode 0640): chmod 600" in result.stderr
    url_file(tmp_path, "", 0o600)
    with pytest.raises(SettingError, match="holds no database URL"):
        load_settings()
