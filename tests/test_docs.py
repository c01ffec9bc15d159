"""The docs follow the code: every setting, command and route is documented."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from kansa.cli import app as cli_app
from kansa.server.app import create_app
from kansa.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def all_docs() -> str:
    return "\n".join(
        p.read_text(encoding="utf-8")
        for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    )


def test_every_setting_is_documented() -> None:
    docs = all_docs()
    missing = [
        f"KANSA_{name.upper()}"
        for name in Settings.model_fields
        if f"KANSA_{name.upper()}" not in docs
    ]
    assert missing == []


def test_the_operations_guide_has_a_row_for_every_setting() -> None:
    """docs/operations.md is the operator's one list: each setting of kansa/settings.py has
    its row in the settings table, not only a mention somewhere in the docs."""
    guide = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    rows = {line.split("`")[1] for line in guide.splitlines() if line.startswith("| `KANSA_")}
    missing = [
        f"KANSA_{n.upper()}" for n in Settings.model_fields if f"KANSA_{n.upper()}" not in rows
    ]
    assert missing == []


def test_the_operations_guide_covers_what_an_operator_does() -> None:
    guide = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    headings = {line.lstrip("#").strip() for line in guide.splitlines() if line.startswith("#")}
    wanted = {
        "Backups",
        "Upgrading",
        "Signing key rotation",
        "Credentials: revoke, rotate, disable, retire",
        "Retention",
        "Metrics",
    }
    assert wanted - headings == set()
    for command in (
        "kansa migrate status",
        "kansa key rotate",
        "kansa apikey revoke",
        "pg_restore",
    ):
        assert command in guide, command


def commands(group: typer.Typer, prefix: str = "kansa") -> list[str]:
    names = [
        f"{prefix} {c.name or c.callback.__name__}"
        for c in group.registered_commands
        if c.callback is not None
    ]
    for sub in group.registered_groups:
        assert sub.typer_instance is not None
        names += commands(sub.typer_instance, f"{prefix} {sub.name}")
    return names


def test_every_command_is_documented() -> None:
    cli = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    found = commands(cli_app)
    assert "kansa tenant create" in found
    assert [c for c in found if f"`{c}" not in cli] == []


def test_every_route_is_documented() -> None:
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    app = create_app(Settings(database_url="sqlite:///:memory:"))
    paths = app.openapi()["paths"]
    missing = [
        f"{method.upper()} {path}"
        for path, ops in paths.items()
        for method in ops
        if f"`{method.upper()} {path}`" not in api
    ]
    assert missing == []


def test_the_readme_starts_with_the_two_commands() -> None:
    head = (ROOT / "README.md").read_text(encoding="utf-8")[:400]
    assert "make run" in head and "make test" in head


def test_every_doc_is_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    unlinked = [
        p.name for p in sorted((ROOT / "docs").glob("*.md")) if f"(docs/{p.name})" not in readme
    ]
    assert unlinked == []


def test_the_architecture_names_every_package_and_module_it_points_to() -> None:
    """docs/architecture.md maps the code: every package under kansa/ has its row, and every
    ``folder/module.py`` it names exists."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    packages = [p.parent.name for p in sorted((ROOT / "kansa").glob("*/__init__.py"))]
    assert [p for p in packages if f"`{p}/`" not in text] == []
    named = set(re.findall(r"`([a-z]+/[a-z_]+\.py)`", text))
    assert named and [n for n in sorted(named) if not (ROOT / "kansa" / n).is_file()] == []
