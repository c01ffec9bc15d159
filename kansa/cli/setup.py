"""Setting kansa up and running it: ``kansa init``, ``kansa serve``, ``kansa demo`` and
``kansa --version``."""

from __future__ import annotations

import os
import time
from typing import Annotated

import typer

from kansa import __version__, private_files
from kansa.cli.common import (
    CatalogOption,
    DbOption,
    LayoutFileOption,
    ScreenFileOption,
    opened,
    settings_for,
)
from kansa.dburl import masked
from kansa.server.runtime import load_catalog_for


def version(
    version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False,
) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()


def init(db: DbOption = None) -> None:
    """Create the database (or bring its schema up to date) and the signing key."""
    from kansa.integrity.keyfile import ensure_signing_key
    from kansa.integrity.registry import check_signer

    settings = settings_for(db)
    with opened(settings, migrate=False, create=True) as store:
        applied = store.migrate()
        what = f"applied {len(applied)} migration(s)" if applied else "schema already up to date"
        typer.echo(f"database ready at {masked(settings.database_url)} ({what})")
        signer, said = ensure_signing_key(settings)
        typer.echo(said)
        check_signer(store, signer)  # registered now, or the database's own: else exit 2
    typer.echo(f"the database's signing key is key id {signer.key_id}")


def serve(
    db: DbOption = None,
    catalog: CatalogOption = None,
    layout_file: LayoutFileOption = None,
    screen_file: ScreenFileOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    access_log: Annotated[
        bool, typer.Option(help="Log one line per request (credentials redacted).")
    ] = True,
    # -- running it: workers, proxies, logs, metrics (see docs/operations.md) ------------
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes; jobs and metrics stay in this one.")
    ] = 1,
    trusted_proxies: Annotated[
        str | None,
        typer.Option(help="Proxies whose X-Forwarded-* are believed (KANSA_TRUSTED_PROXIES)."),
    ] = None,
    log_format: Annotated[
        str | None, typer.Option(help="json or text (KANSA_LOG_FORMAT; default json).")
    ] = None,
    metrics_address: Annotated[
        str | None,
        typer.Option(help="HOST:PORT to serve /metrics on, apart from the API."),
    ] = None,
) -> None:
    """Serve the API, the console and /docs over HTTP."""
    for name, value in (
        ("KANSA_TRUSTED_PROXIES", trusted_proxies),
        ("KANSA_LOG_FORMAT", log_format),
        ("KANSA_METRICS_ADDRESS", metrics_address),
    ):
        if value is not None:
            os.environ[name] = value  # the workers read their settings from the environment
    settings = settings_for(db, catalog, layout_file, screen_file)
    from kansa.integrity.keyfile import load_signer
    from kansa.integrity.registry import check_signer

    signer = load_signer(settings)  # refuse to serve without the key that signs checkpoints
    private_files.check_database(settings.database_url)  # nor on a database others may read
    with opened(settings, create=True) as store:  # kansa serve makes a new SQLite file
        check_signer(store, signer)  # ...and refuse another key than the database's
    from kansa.server import serving

    def announce() -> None:
        typer.echo(
            f"kansa {__version__} on http://{host}:{port} (docs at /docs), "
            f"database {masked(settings.database_url)}",
            err=True,
        )
        if workers > 1 or settings.metrics_address:
            metrics = settings.metrics_address or "off"
            typer.echo(f"kansa workers {workers}, metrics {metrics}", err=True)

    serving.serve(
        settings,
        host=host,
        port=port,
        workers=workers,
        log_format=settings.log_format,
        requests_log=access_log,
        announce=announce,
    )


def demo(
    events: Annotated[int, typer.Option(help="How many events to create.")] = 20_000,
    if_empty: Annotated[
        bool, typer.Option(help="Do nothing if the database has a tenant or an event.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    db: DbOption = None,
) -> None:
    """Fill the database with realistic events of the four products over 90 days, and
    console accounts with a random password (printed, and kept in a file of mode 0600)."""
    from kansa.demo import demo_accounts, demo_password, fill, is_empty, password_file

    settings = settings_for(db)
    kept = password_file(settings.database_url)
    with opened(settings, create=True) as store:
        if if_empty and not is_empty(store):
            typer.echo(
                f"demo: the database holds {len(store.list_tenants())} tenant(s) and "
                f"{store.count_events()} event(s); nothing added"
                + (f" (demo accounts' password: {kept})" if kept and kept.exists() else "")
            )
            return
        catalog = load_catalog_for(settings)
        started = time.perf_counter()
        stored = fill(store, catalog, events, seed=seed)
        typer.echo(f"demo: stored {stored} events in {time.perf_counter() - started:.1f}s")
        password = demo_password(kept)
        made = [a for a in demo_accounts(store, catalog, password) if a.created]
    if made:
        typer.echo("demo console accounts (demo data only):")
        for a in made:
            typer.echo(f"  tenant {a.tenant:<18} login {a.login:<12} {a.role}")
        kept_in = f"kept in {kept}, readable by its owner only" if kept else "shown only this once"
        typer.echo(f"password: {password}  ({kept_in})")
