"""Credentials at the command line: ``kansa apikey create`` and ``kansa account create``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from kansa.access.keys import make_key, parse_scopes
from kansa.cli.common import DbOption, opened, settings_for
from kansa.errors import NotFound


def account_create(
    tenant: Annotated[str, typer.Option(help="The account's tenant.")],
    login: Annotated[str, typer.Option(help="The login name.")],
    role: Annotated[str, typer.Option(help="admin (the whole tenant) or user (own events).")],
    name: Annotated[str | None, typer.Option(help="Display name (default: the login).")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Create an account. Without --password-stdin a password is generated and printed once."""
    from kansa.access.accounts import check_role, generate_password, hash_password

    check_role(role)
    generated = not password_stdin
    password = generate_password() if generated else typer.get_text_stream("stdin").readline()
    password = password.rstrip("\r\n")
    with opened(settings_for(db)) as store:
        if store.get_tenant(tenant) is None:
            raise NotFound(f"no tenant {tenant!r}; create it first with 'kansa tenant create'")
        store.create_account(
            tenant, login, name=name or login, role=role, password_hash=hash_password(password)
        )
    typer.echo(f"account {login} ({role}) created in {tenant}")
    if generated:
        typer.echo(f"password: {password}  (shown only this once)")


def apikey_create(
    app_name: Annotated[str, typer.Option("--app", help="The publishing application.")],
    tenant: Annotated[str | None, typer.Option(help="Bind the key to one tenant.")] = None,
    scopes: Annotated[
        str,
        typer.Option(help="Comma-separated: publish, read, mint, hold, checkpoint, admin."),
    ] = "publish",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = None,
) -> None:
    """Create an API key. The key is printed only this once; kansa keeps only its hash."""
    wanted = parse_scopes(scopes)
    new = make_key()
    with opened(settings_for(db)) as store:
        if tenant is not None and store.get_tenant(tenant) is None:
            raise NotFound(f"no tenant {tenant!r}; create it first with 'kansa tenant create'")
        store.create_api_key(
            new.id, app=app_name, tenant=tenant, scopes=wanted, secret_hash=new.secret_hash
        )
    if as_json:
        typer.echo(
            json.dumps(
                {"key": new.token, "app": app_name, "tenant": tenant, "scopes": sorted(wanted)}
            )
        )
    else:
        typer.echo(new.token)
        typer.echo(
            f"(app {app_name}, scopes {','.join(sorted(wanted))}"
            f"{', tenant ' + tenant if tenant else ''}; shown only this once)",
            err=True,
        )
