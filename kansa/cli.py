"""The ``kansa`` command. It translates arguments into calls and results into lines; the
rules live in the library."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from kansa import __version__
from kansa.errors import InvalidInput, KansaError
from kansa.keys import make_key, parse_scopes
from kansa.runtime import load_catalog_for
from kansa.settings import Settings
from kansa.store import Store, open_store

app: typer.Typer = typer.Typer(
    help="kansa (監査): a multi-tenant audit log service.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
tenant_app = typer.Typer(help="Tenants: the customer organisations.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys of publishing applications.", no_args_is_help=True)
account_app = typer.Typer(help="Accounts of people who read a tenant's log.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(apikey_app, name="apikey")
app.add_typer(account_app, name="account")

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


def _settings(db: str | None, catalogs: list[Path] | None = None) -> Settings:
    settings = Settings()
    updates: dict[str, object] = {}
    if db:
        updates["database_url"] = db
    if catalogs:
        updates["catalogs"] = [*settings.catalogs, *catalogs]
    return settings.model_copy(update=updates)


def command(
    group: typer.Typer, name: str | None = None
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register a command whose expected failures (kansa's own errors) print one line on
    stderr and exit non-zero: 2 for invalid input, 1 otherwise. No traceback."""

    def register(func: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(func)
        def run(*args: object, **kwargs: object) -> None:
            try:
                func(*args, **kwargs)
            except InvalidInput as exc:
                raise _fail(str(exc), 2) from None
            except KansaError as exc:
                raise _fail(str(exc), 1) from None

        group.command(name)(run)
        return run

    return register


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"kansa: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _store(settings: Settings, migrate: bool = True) -> Iterator[Store]:
    store = open_store(settings.database_url)
    try:
        if migrate:
            store.migrate()
        yield store
    finally:
        store.close()


@app.callback(invoke_without_command=True)
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False,
) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()


@command(app)
def init(db: DbOption = None) -> None:
    """Create the database (or bring its schema up to date) and the signing key."""
    from kansa.integrity.keyfile import ensure_signing_key

    settings = _settings(db)
    with _store(settings, migrate=False) as store:
        applied = store.migrate()
    what = f"applied {len(applied)} migration(s)" if applied else "schema already up to date"
    typer.echo(f"database ready at {settings.database_url} ({what})")
    typer.echo(ensure_signing_key(settings)[1])


@command(app)
def serve(
    db: DbOption = None,
    catalog: CatalogOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Serve the API (and /docs) over HTTP."""
    import uvicorn

    from kansa.api.app import create_app

    settings = _settings(db, catalog)
    from kansa.integrity.keyfile import load_signer

    load_signer(settings)  # refuse to serve without the key that signs checkpoints
    application = create_app(settings)
    typer.echo(
        f"kansa {__version__} on http://{host}:{port} (docs at /docs), "
        f"database {settings.database_url}",
        err=True,
    )
    from kansa import accesslog

    accesslog.install()  # a viewer token in /console/enter?token=… never reaches the log
    uvicorn.run(
        application,
        host=host,
        port=port,
        access_log=access_log,
        proxy_headers=False,  # X-Forwarded-For is kansa's to judge (KANSA_TRUSTED_PROXIES)
        log_level="info" if access_log else "warning",  # request lines are logged at info
        loop="auto",
        http="auto",
    )


@command(tenant_app, "create")
def tenant_create(
    tenant_id: Annotated[str, typer.Argument(metavar="ID", help="The tenant's id.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    layout: Annotated[str | None, typer.Option(help="Product layout, e.g. pca-id.")] = None,
    tz: Annotated[str, typer.Option(help="Time zone for screens and CSV.")] = "Asia/Tokyo",
    lang: Annotated[str, typer.Option(help="ja or en.")] = "ja",
    db: DbOption = None,
    catalog: CatalogOption = None,
) -> None:
    """Set up a tenant ahead of its first event, with its layout, time zone and language."""
    import re

    from kansa.events import TENANT_ID_PATTERN

    settings = _settings(db, catalog)
    if not re.match(TENANT_ID_PATTERN, tenant_id):
        raise _fail(f"tenant id {tenant_id!r} must be letters, digits and . _ : @ - (≤128)")
    _check_tenant_options(settings, layout, tz, lang)
    with _store(settings) as store:
        tenant = store.create_tenant(tenant_id, name=name, layout=layout, tz=tz, lang=lang)
    typer.echo(
        f"tenant {tenant.id} created (layout {tenant.layout or '-'}, {tenant.tz}, {tenant.lang})"
    )


@command(tenant_app, "update")
def tenant_update(
    tenant_id: Annotated[str, typer.Argument(metavar="ID", help="The tenant's id.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    layout: Annotated[str | None, typer.Option(help="Product layout, e.g. pca-id.")] = None,
    tz: Annotated[str | None, typer.Option(help="Time zone for screens and CSV.")] = None,
    lang: Annotated[str | None, typer.Option(help="ja or en.")] = None,
    record_searches: Annotated[
        bool | None, typer.Option(help="Record every search of the log in the log itself.")
    ] = None,
    retention: Annotated[
        str | None,
        typer.Option(
            help="Days kept per history: login=365,operation=forever,provisioning=default."
        ),
    ] = None,
    db: DbOption = None,
    catalog: CatalogOption = None,
) -> None:
    """Change a tenant's name, layout, time zone, language, whether searches are recorded, or
    how long its histories are kept (recorded in its log)."""
    from kansa import retention as kept
    from kansa.cli_integrity import operator

    settings = _settings(db, catalog)
    overrides = kept.parse_overrides(retention) if retention is not None else None
    changes = {
        k: v
        for k, v in {
            "name": name,
            "layout": layout,
            "tz": tz,
            "lang": lang,
            "record_searches": record_searches,
        }.items()
        if v is not None
    }
    _check_tenant_options(settings, layout, tz, lang)
    kinds = load_catalog_for(settings)
    with _store(settings) as store:
        tenant = store.update_tenant(tenant_id, **changes)
        if overrides is not None:
            tenant = kept.change_retention(store, kinds, tenant_id, overrides, operator())
    typer.echo(
        f"tenant {tenant.id}: layout {tenant.layout or '-'}, {tenant.tz}, {tenant.lang}, "
        f"searches {'recorded' if tenant.record_searches else 'not recorded'}, "
        f"retention {kept.describe(kept.effective(tenant, kinds))}"
    )


def _check_tenant_options(
    settings: Settings, layout: str | None, tz: str | None, lang: str | None
) -> None:
    from kansa.layout import default_layout_paths, load_layouts

    layouts = sorted(load_layouts(default_layout_paths()))
    if layout is not None and layout not in layouts:
        raise _fail(f"unknown layout {layout!r}; known: {', '.join(layouts)}")
    if tz is not None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise _fail(f"unknown time zone {tz!r} (e.g. Asia/Tokyo, UTC)") from None
    if lang is not None and lang not in ("ja", "en"):
        raise _fail("lang must be ja or en")


@command(account_app, "create")
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
    from kansa.accounts import check_role, generate_password, hash_password

    check_role(role)
    generated = not password_stdin
    password = generate_password() if generated else typer.get_text_stream("stdin").readline()
    password = password.rstrip("\r\n")
    with _store(_settings(db)) as store:
        if store.get_tenant(tenant) is None:
            raise _fail(f"no tenant {tenant!r}; create it first with 'kansa tenant create'")
        store.create_account(
            tenant, login, name=name or login, role=role, password_hash=hash_password(password)
        )
    typer.echo(f"account {login} ({role}) created in {tenant}")
    if generated:
        typer.echo(f"password: {password}  (shown only this once)")


@command(tenant_app, "list")
def tenant_list(db: DbOption = None) -> None:
    """List tenants with their event counts."""
    with _store(_settings(db)) as store:
        for tenant in store.list_tenants():
            typer.echo(
                f"{tenant.id}\t{tenant.name or ''}\t{tenant.layout or '-'}\t"
                f"{tenant.tz}\t{tenant.lang}\t{tenant.last_seq} events"
            )


@command(apikey_app, "create")
def apikey_create(
    app_name: Annotated[str, typer.Option("--app", help="The publishing application.")],
    tenant: Annotated[str | None, typer.Option(help="Bind the key to one tenant.")] = None,
    scopes: Annotated[str, typer.Option(help="publish, read or both.")] = "publish",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = None,
) -> None:
    """Create an API key. The key is printed only this once; kansa keeps only its hash."""
    wanted = parse_scopes(scopes)
    new = make_key()
    with _store(_settings(db)) as store:
        if tenant is not None and store.get_tenant(tenant) is None:
            raise _fail(f"no tenant {tenant!r}; create it first with 'kansa tenant create'")
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


@command(app)
def demo(
    events: Annotated[int, typer.Option(help="How many events to create.")] = 20_000,
    if_empty: Annotated[bool, typer.Option(help="Do nothing if the database has events.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    db: DbOption = None,
) -> None:
    """Fill the database with realistic events of the four products over 90 days."""
    from kansa.demo import DEMO_PASSWORD, demo_accounts, fill

    settings = _settings(db)
    with _store(settings) as store:
        catalog = load_catalog_for(settings)
        if if_empty and store.count_events() > 0:
            typer.echo(f"demo: {store.count_events()} events already stored; nothing added")
        else:
            started = time.perf_counter()
            stored = fill(store, catalog, events, seed=seed)
            typer.echo(f"demo: stored {stored} events in {time.perf_counter() - started:.1f}s")
        accounts = demo_accounts(store, catalog)
    if accounts:
        typer.echo(f"demo console accounts (demo data only), password {DEMO_PASSWORD}:")
        for a in accounts:
            typer.echo(f"  tenant {a.tenant:<18} login {a.login:<12} {a.role}")


@command(app)
def verify(
    file: Annotated[
        Path | None, typer.Argument(help="An exported JSON Lines file to check offline.")
    ] = None,
    tenant: Annotated[str | None, typer.Option(help="Check one tenant only.")] = None,
    key: Annotated[
        Path | None, typer.Option(help="The public key (PEM); default: the signing key's.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Walk every tenant's hash chain and signed checkpoints, or check an exported file with
    --key. Exit 0 when intact; 1 naming the first broken link."""
    from kansa.cli_integrity import run_verify

    run_verify(file, tenant, key, _settings(db))


@command(app, "export")
def export_file(
    tenant: Annotated[str, typer.Option(help="The tenant whose log is exported.")],
    output: Annotated[str, typer.Option("--output", "-o", help="The file to write; - for stdout.")],
    name: Annotated[str, typer.Option(help="The layout's file: events, access-log …")] = "events",
    from_: Annotated[str | None, typer.Option("--from", help="First day, or ISO time.")] = None,
    to: Annotated[str | None, typer.Option(help="Last day (included), or ISO time.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    encoding: Annotated[str, typer.Option(help="utf-8 (with BOM) or cp932.")] = "utf-8",
    newline: Annotated[str, typer.Option(help="crlf or lf.")] = "crlf",
    lang: Annotated[str | None, typer.Option(help="Headers and labels: ja or en.")] = None,
    db: DbOption = None,
    catalog: CatalogOption = None,
) -> None:
    """Write a layout's file as an administrator downloads it; recorded in the tenant's log."""
    import sys
    from contextlib import ExitStack

    from kansa.export.operator import counter, export_as_operator, part_file
    from kansa.export.plan import Options
    from kansa.runtime import Runtime

    rt, started = Runtime.from_settings(_settings(db, catalog)), time.perf_counter()
    tty = sys.stderr.isatty()
    rt.start()
    try:
        with ExitStack() as files:
            out = sys.stdout.buffer if output == "-" else files.enter_context(part_file(output))
            job, tally = export_as_operator(
                rt,
                tenant,
                name,
                (from_, to),
                Options(fmt, encoding, newline, lang or ""),
                out,
                counter(sys.stderr) if tty else None,
            )
    finally:
        rt.close()
    lost = f", {tally.unmappable} unmappable (written as ?)" if encoding == "cp932" else ""
    typer.echo(
        f"{chr(13) + chr(27) + '[K' if tty else ''}exported {job.filename} to {output}: "
        f"{tally.rows} rows, {tally.bytes} bytes, {time.perf_counter() - started:.2f} s{lost}",
        err=True,
    )


from kansa import cli_integrity  # noqa: E402, F401 - registers key, checkpoint, purge, hold


def main() -> None:
    app()


if __name__ == "__main__":
    main()
