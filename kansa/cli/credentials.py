"""Credentials at the command line: ``kansa apikey create|list|show|revoke|rotate`` and
``kansa account create|list|disable|enable|set-role|unlock|reset-password``. The rules are
:mod:`kansa.access.manage`'s; every change is recorded in the tenant's own log."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from kansa.access import manage
from kansa.access.keys import make_key, parse_scopes
from kansa.cli.common import DbOption, TenantOption, opened, operator, settings_for
from kansa.errors import NotFound
from kansa.records import ApiKey
from kansa.server.runtime import load_catalog_for
from kansa.timeutil import utcnow

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
KeyIdArgument = Annotated[str, typer.Argument(metavar="KEY_ID", help="The key's id.")]
LoginArgument = Annotated[str, typer.Argument(metavar="LOGIN", help="The account's login.")]


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
    expires_in_days: Annotated[
        int | None, typer.Option(help="Refuse the key after this many days (default: never).")
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Create an API key. The key is printed only this once; kansa keeps only its hash."""
    wanted = parse_scopes(scopes)
    new = make_key()
    expires = manage.expiry(expires_in_days, utcnow())
    with opened(settings_for(db)) as store:
        if tenant is not None and store.get_tenant(tenant) is None:
            raise NotFound(f"no tenant {tenant!r}; create it first with 'kansa tenant create'")
        store.create_api_key(
            new.id,
            app=app_name,
            tenant=tenant,
            scopes=wanted,
            secret_hash=new.secret_hash,
            expires_at=expires,
        )
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "key": new.token,
                    "id": new.id,
                    "app": app_name,
                    "tenant": tenant,
                    "scopes": sorted(wanted),
                    "expires_at": manage.key_facts_time(expires),
                }
            )
        )
    else:
        typer.echo(new.token)
        typer.echo(
            f"(app {app_name}, scopes {','.join(sorted(wanted))}"
            f"{', tenant ' + tenant if tenant else ''}; shown only this once)",
            err=True,
        )


def apikey_list(
    tenant: Annotated[str | None, typer.Option(help="Only the keys bound to this tenant.")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List API keys: id, application, tenant, scopes, state and last use (never a secret)."""
    with opened(settings_for(db)) as store:
        if tenant is not None and store.get_tenant(tenant) is None:
            raise NotFound(f"no tenant {tenant!r}")
        keys = store.list_api_keys(tenant)
    if as_json:
        typer.echo(json.dumps([manage.key_facts(k) for k in keys], ensure_ascii=False))
        return
    for k in keys:
        used = manage.key_facts_time(k.last_used_at) or "never"
        typer.echo(
            f"{k.id}\t{k.app}\t{k.tenant or '*'}\t{','.join(sorted(k.scopes))}\t"
            f"{_state(k)}\tlast used {used}"
        )


def _state(key: ApiKey) -> str:
    if key.revoked_at is not None:
        return f"revoked {manage.key_facts_time(key.revoked_at)}"
    if key.expires_at is not None:
        return f"expires {manage.key_facts_time(key.expires_at)}"
    return "active"


def apikey_show(key_id: KeyIdArgument, as_json: JsonOption = False, db: DbOption = None) -> None:
    """Show one API key (never its secret)."""
    with opened(settings_for(db)) as store:
        key = manage.key_facts(manage.key_in(store, key_id))
    if as_json:
        typer.echo(json.dumps(key, ensure_ascii=False))
        return
    for name, value in key.items():
        shown = ",".join(value) if isinstance(value, list) else value
        typer.echo(f"{name}: {'-' if shown is None else shown}")


def apikey_revoke(key_id: KeyIdArgument, db: DbOption = None) -> None:
    """Revoke an API key: every kansa process refuses it within a second (recorded in its
    tenant's log)."""
    settings = settings_for(db)
    with opened(settings) as store:
        key = manage.revoke_key(store, load_catalog_for(settings), key_id, operator(), now=utcnow())
    typer.echo(f"API key {key.id} ({key.app}) revoked")


def apikey_rotate(
    key_id: KeyIdArgument,
    overlap_minutes: Annotated[
        int, typer.Option(help="How long the old secret keeps working (0: stops now).")
    ] = 60,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Give an API key a new secret (same id, scopes and tenant), printed only this once;
    the old secret keeps working for --overlap-minutes, then stops."""
    settings = settings_for(db)
    with opened(settings) as store:
        key, fresh = manage.rotate_key(
            store,
            load_catalog_for(settings),
            key_id,
            operator(),
            overlap_minutes=overlap_minutes,
            now=utcnow(),
        )
    until = manage.key_facts(key)["previous_secret_until"]
    if as_json:
        typer.echo(json.dumps({"key": fresh.token, "id": key.id, "previous_secret_until": until}))
        return
    typer.echo(fresh.token)
    typer.echo(
        f"(key {key.id}: the old secret works until {until}; shown only this once)", err=True
    )


def account_list(tenant: TenantOption, as_json: JsonOption = False, db: DbOption = None) -> None:
    """List a tenant's accounts: login, role, disabled or locked (never a password)."""
    now = utcnow()
    with opened(settings_for(db)) as store:
        if store.get_tenant(tenant) is None:
            raise NotFound(f"no tenant {tenant!r}")
        accounts = [manage.account_facts(a, now) for a in store.list_accounts(tenant)]
    if as_json:
        typer.echo(json.dumps(accounts, ensure_ascii=False))
        return
    for a in accounts:
        state = "disabled" if a["disabled_at"] else "locked" if a["locked_until"] else "active"
        typer.echo(f"{a['login']}\t{a['name']}\t{a['role']}\t{state}")


def _account_action(
    tenant: str,
    login: str,
    action: manage.AccountAction,
    db: str | None,
    role: str | None = None,
    password_hash: str | None = None,
) -> None:
    settings = settings_for(db)
    with opened(settings) as store:
        manage.change_account(
            store,
            load_catalog_for(settings),
            tenant,
            login,
            action,
            operator(),
            now=utcnow(),
            role=role,
            password_hash=password_hash,
        )


def account_disable(tenant: TenantOption, login: LoginArgument, db: DbOption = None) -> None:
    """Disable an account: it cannot sign in, and its console sessions end now."""
    _account_action(tenant, login, "disable", db)
    typer.echo(f"account {login} of {tenant} disabled; its sessions ended")


def account_enable(tenant: TenantOption, login: LoginArgument, db: DbOption = None) -> None:
    """Enable a disabled account again."""
    _account_action(tenant, login, "enable", db)
    typer.echo(f"account {login} of {tenant} enabled")


def account_set_role(
    tenant: TenantOption,
    login: LoginArgument,
    role: Annotated[str, typer.Option(help="admin or user.")],
    db: DbOption = None,
) -> None:
    """Give an account another role; its console sessions end now."""
    _account_action(tenant, login, "set-role", db, role=role)
    typer.echo(f"account {login} of {tenant} is now {role}; its sessions ended")


def account_unlock(tenant: TenantOption, login: LoginArgument, db: DbOption = None) -> None:
    """Clear an account's lock and failed sign-ins."""
    _account_action(tenant, login, "unlock", db)
    typer.echo(f"account {login} of {tenant} unlocked")


def account_reset_password(
    tenant: TenantOption,
    login: LoginArgument,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Give an account a new password (generated and printed once, or read from standard
    input); its lock is cleared and its console sessions end now."""
    from kansa.access.accounts import generate_password, hash_password

    generated = not password_stdin
    password = generate_password() if generated else typer.get_text_stream("stdin").readline()
    hashed = hash_password(password.rstrip("\r\n"))
    _account_action(tenant, login, "reset-password", db, password_hash=hashed)
    typer.echo(f"account {login} of {tenant}: password reset; its sessions ended")
    if generated:
        typer.echo(f"password: {password}  (shown only this once)")
