"""The kansa command refuses a mistake in what it is given before it does anything: a
misspelled ``KANSA_*`` variable or config file key, a setting out of range, a tenant that is
not there, a SQLite file that is not there. One line on stderr, exit 2, nothing created."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kansa.cli import app
from kansa.settings import load_settings

runner = CliRunner()

EVERY_KIND = [
    ["init"],
    ["serve", "--port=-1"],
    ["demo", "--events", "10"],
    ["tenant", "list"],
    ["tenant", "update", "t", "--lang", "en"],
    ["verify"],
    ["key", "show"],
    ["export", "--tenant", "t", "-o", "-"],
    ["checkpoint"],
    ["purge", "--dry-run"],
    ["apikey", "create", "--app", "x"],
]


def _refused(args: list[str], env: dict[str, str | None]) -> str:
    """The one line of stderr of a command that exits 2 without a traceback."""
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 2, (args, result.output)
    assert isinstance(result.exception, SystemExit)
    (line,) = result.stderr.splitlines()
    return line


@pytest.mark.parametrize("args", EVERY_KIND, ids=lambda a: " ".join(a[:2]))
def test_a_misspelled_variable_stops_every_command(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"KANSA_DATABSE_URL": f"sqlite:///{tmp_path / 'meant.db'}"}
    line = _refused(args, {**env})
    assert line == (
        "kansa: unknown setting KANSA_DATABSE_URL in the environment; "
        "did you mean KANSA_DATABASE_URL?"
    )
    assert list(tmp_path.iterdir()) == []  # no fresh kansa.db where the operator stands


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("KANSA_MAX_BATCH", "0", "KANSA_MAX_BATCH: Input should be greater than or equal to 1"),
        ("KANSA_SESSION_MINUTES", "often", "KANSA_SESSION_MINUTES: Input should be a valid"),
        ("KANSA_PURGE_AT", "25:00", "KANSA_PURGE_AT: must be a time of day HH:MM (UTC)"),
        ("KANSA_CREATE_TENANTS", "perhaps", "KANSA_CREATE_TENANTS: Input should be a valid"),
    ],
)
def test_a_setting_out_of_range_is_one_line(
    name: str, value: str, says: str, store_url: str
) -> None:
    line = _refused(["tenant", "list", "--db", store_url], {name: value})
    assert line.startswith(f"kansa: {says}") and repr(value) in line


def test_a_secret_out_of_range_is_not_repeated(store_url: str) -> None:
    line = _refused(["tenant", "list", "--db", store_url], {"KANSA_SECRET_KEY": "hunter2hunter2"})
    assert "KANSA_SECRET_KEY" in line and "hunter2" not in line


def test_a_config_file_under_the_environment(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "kansa.toml"
    config.write_text(
        f'database_url = "{store_url}"\nmax_batch = 50\ntrusted_proxies = ["10.0.0.0/8"]\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("KANSA_CONFIG", str(config))
    settings = load_settings()
    assert (settings.database_url, settings.max_batch) == (store_url, 50)
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8"]
    monkeypatch.setenv("KANSA_MAX_BATCH", "70")
    assert load_settings().max_batch == 70
    result = runner.invoke(app, ["tenant", "list"])
    assert result.exit_code == 0, result.output  # the file's database


def test_a_config_file_refuses_what_the_environment_refuses(tmp_path: Path, store_url: str) -> None:
    config = tmp_path / "kansa.toml"
    config.write_text('databse_url = "sqlite:///elsewhere.db"\n', encoding="utf-8")
    line = _refused(["tenant", "list", "--db", store_url], {"KANSA_CONFIG": str(config)})
    assert line == f"kansa: {config}: unknown setting 'databse_url'; did you mean database_url?"
    config.write_text("max_batch = 0\n", encoding="utf-8")
    line = _refused(["tenant", "list", "--db", store_url], {"KANSA_CONFIG": str(config)})
    assert line.startswith(f"kansa: KANSA_MAX_BATCH (or max_batch in {config}): ")
    missing = tmp_path / "nope.toml"
    line = _refused(["tenant", "list", "--db", store_url], {"KANSA_CONFIG": str(missing)})
    assert line.startswith(f"kansa: {missing}: cannot read settings")


READERS = [
    ["tenant", "list"],
    ["tenant", "update", "t", "--lang", "en"],
    ["verify"],
    ["key", "show"],
    ["export", "--tenant", "t", "-o", "-"],
    ["checkpoint"],
    ["purge", "--dry-run"],
    ["hold", "set", "--tenant", "t", "--reason", "r"],
    ["apikey", "create", "--app", "x"],
    ["account", "create", "--tenant", "t", "--login", "l", "--role", "admin"],
]


@pytest.mark.parametrize("args", READERS, ids=lambda a: " ".join(a[:2]))
def test_a_sqlite_file_that_is_not_there_is_not_made(args: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "kansa.db"
    # key show alone: looking for the key file beside the database, not the suite's own
    env: dict[str, str | None] = {"KANSA_SIGNING_KEY_FILE": None} if args[0] == "key" else {}
    line = _refused([*args, "--db", f"sqlite:///{missing}"], env)
    assert line.startswith(f"kansa: no database at {missing} ") and "kansa init" in line
    assert list(tmp_path.iterdir()) == []


def test_init_serve_and_demo_still_create_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'made.db'}"
    result = runner.invoke(app, ["demo", "--events", "10", "--db", url])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "made.db").is_file()


UNKNOWN_TENANT = [
    ["tenant", "update", "nope", "--lang", "en"],
    ["account", "create", "--tenant", "nope", "--login", "l", "--role", "admin"],
    ["apikey", "create", "--app", "x", "--tenant", "nope"],
    ["export", "--tenant", "nope", "-o", "-"],
    ["checkpoint", "--tenant", "nope"],
    ["purge", "--tenant", "nope"],
    ["hold", "set", "--tenant", "nope", "--reason", "r"],
    ["hold", "release", "--tenant", "nope", "--reason", "r"],
]


@pytest.mark.parametrize("args", UNKNOWN_TENANT, ids=lambda a: " ".join(a[:2]))
def test_an_unknown_tenant_is_bad_input(args: list[str], store_url: str) -> None:
    line = _refused([*args, "--db", store_url], {})
    assert line.startswith("kansa: no tenant 'nope'")
