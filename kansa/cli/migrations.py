"""``kansa migrate`` and ``kansa migrate status``: bring a database's schema up to date, or
say which migrations it has and which it still needs (exit 1 while any is pending — a check
for an upgrade script or a readiness gate)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from kansa.cli.common import DbOption, fail, opened, settings_for
from kansa.store.schema import MIGRATIONS
from kansa.timeutil import iso_utc


def migrate(ctx: typer.Context, db: DbOption = None) -> None:
    """Apply the migrations the database has not had (what ``kansa init`` does, without
    making a signing key); ``kansa migrate status`` only looks."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = db
        return
    with opened(settings_for(db), migrate=False) as store:
        applied = store.migrate()
    for name in applied:
        typer.echo(f"applied {name}")
    typer.echo(f"schema up to date ({len(applied)} migration(s) applied now)")


def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = None,
) -> None:
    """List the migrations applied and those pending; exit 1 while any is pending."""
    with opened(settings_for(db or ctx.obj), migrate=False) as store:
        applied = store.applied_migrations()
    done = {version for version, _, _ in applied}
    pending = [m for m in MIGRATIONS if m.version not in done]
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "applied": [
                        {"version": v, "name": n, "applied_at": iso_utc(at)} for v, n, at in applied
                    ],
                    "pending": [{"version": m.version, "name": m.name} for m in pending],
                },
                ensure_ascii=False,
            )
        )
    else:
        for version, name, at in applied:
            typer.echo(f"applied {version:>3}  {iso_utc(at)}  {name}")
        for migration in pending:
            typer.echo(f"pending {migration.version:>3}  {'':27}  {migration.name}")
    if pending:
        raise fail(f"{len(pending)} migration(s) pending: run 'kansa migrate'", 1)
