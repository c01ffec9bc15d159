"""What every command shares: the ``--db``, ``--catalog``, ``--layout-file`` and
``--screen-file`` options, the settings they make, the store opened for one command, the
operator as an actor, and one line on stderr (no traceback) for an expected failure."""

from __future__ import annotations

import functools
import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from kansa.errors import InvalidInput, KansaError
from kansa.settings import Settings
from kansa.store import Store, open_store

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL (default: $KANSA_DATABASE_URL or sqlite:///./kansa.db)."
    ),
]
CatalogOption = Annotated[
    list[Path] | None,
    typer.Option("--catalog", help="An extra catalog file (repeatable)."),
]
LayoutFileOption = Annotated[
    list[Path] | None,
    typer.Option("--layout-file", help="An extra layout file (repeatable)."),
]
ScreenFileOption = Annotated[
    list[Path] | None,
    typer.Option("--screen-file", help="An extra console screen file (repeatable)."),
]
TenantOption = Annotated[str, typer.Option("--tenant", help="The tenant.")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (recorded in the log).")]


def settings_for(
    db: str | None,
    catalogs: list[Path] | None = None,
    layouts: list[Path] | None = None,
    screens: list[Path] | None = None,
) -> Settings:
    """The settings from the environment, with ``--db``, ``--catalog``, ``--layout-file`` and
    ``--screen-file`` applied (files are added to those the environment names)."""
    settings = Settings()
    updates: dict[str, object] = {}
    if db:
        updates["database_url"] = db
    for name, extra in (("catalogs", catalogs), ("layouts", layouts), ("screens", screens)):
        if extra:
            updates[name] = [*getattr(settings, name), *extra]
    return settings.model_copy(update=updates)


def guarded(func: Callable[..., None]) -> Callable[..., None]:
    """A command whose expected failures (kansa's own errors) print one line on stderr and
    exit non-zero: 2 for invalid input, 1 otherwise."""

    @functools.wraps(func)
    def run(*args: object, **kwargs: object) -> None:
        try:
            func(*args, **kwargs)
        except InvalidInput as exc:
            raise fail(str(exc), 2) from None
        except KansaError as exc:
            raise fail(str(exc), 1) from None

    return run


def fail(message: str, code: int = 1) -> typer.Exit:
    """Say what went wrong on stderr; raise what this returns to exit with ``code``."""
    typer.echo(f"kansa: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def opened(settings: Settings, migrate: bool = True) -> Iterator[Store]:
    """The settings' store for one command, its schema brought up to date unless told not."""
    store = open_store(settings.database_url)
    try:
        if migrate:
            store.migrate()
        yield store
    finally:
        store.close()


def operator() -> dict[str, str]:
    """The person at the command line, as the actor of what they record."""
    name = getpass.getuser()
    return {"id": f"operator:{name}", "name": name, "type": "operator"}
