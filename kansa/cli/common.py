"""What every command shares: the ``--db``, ``--catalog``, ``--layout-file`` and
``--screen-file`` options, the settings they make (a misspelled ``KANSA_*`` variable
refused), the store opened for one command (a SQLite file that is not there is not made,
but by the commands that create), the operator as an actor, and one line on stderr (no
traceback) for an expected failure: exit 2 for bad input, 1 for a problem found."""

from __future__ import annotations

import functools
import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from kansa.dburl import path_of
from kansa.errors import ConfigError, InvalidInput, KansaError, NotFound
from kansa.settings import Settings, load_settings
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
    settings = load_settings()
    updates: dict[str, object] = {}
    if db:
        updates["database_url"] = db
        updates["database_url_file"] = None  # the URL no longer comes from the file
    for name, extra in (("catalogs", catalogs), ("layouts", layouts), ("screens", screens)):
        if extra:
            updates[name] = [*getattr(settings, name), *extra]
    return settings.model_copy(update=updates)


def guarded(func: Callable[..., None]) -> Callable[..., None]:
    """A command whose expected failures (kansa's own errors) print one line on stderr and
    exit non-zero: 2 for bad input (invalid, an unknown name, wrong settings or files), 1
    for a problem found while running (a broken chain, the database away, a conflict)."""

    @functools.wraps(func)
    def run(*args: object, **kwargs: object) -> None:
        try:
            func(*args, **kwargs)
        except (InvalidInput, NotFound, ConfigError) as exc:
            raise fail(str(exc), 2) from None
        except KansaError as exc:
            raise fail(str(exc), 1) from None

    return run


def fail(message: str, code: int = 1) -> typer.Exit:
    """Say what went wrong on stderr; raise what this returns to exit with ``code``."""
    typer.echo(f"kansa: {message}", err=True)
    return typer.Exit(code)


def existing(settings: Settings) -> Settings:
    """``settings``, if their database is there: a SQLite file that is not is NotFound
    (and is not made), for the commands that read or change a database they expect."""
    url = settings.database_url
    if url.startswith("sqlite://") and path_of(url) != ":memory:":
        path = Path(path_of(url))
        if not path.is_file():
            raise NotFound(
                f"no database at {path} ({url}): check --db or KANSA_DATABASE_URL, "
                "or create it with 'kansa init'"
            )
    return settings


@contextmanager
def opened(settings: Settings, migrate: bool = True, create: bool = False) -> Iterator[Store]:
    """The settings' store for one command, its schema brought up to date unless told not;
    a SQLite file that is not there is made only if ``create``."""
    store = open_store((settings if create else existing(settings)).database_url)
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
