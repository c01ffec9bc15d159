"""The ``kansa`` command. Each module holds the commands of one concept; this one puts them
together, every command named here, so ``kansa --help`` and this list agree."""

from __future__ import annotations

from collections.abc import Callable

import typer

from kansa.cli import (
    credentials,
    destinations,
    export,
    integrity,
    migrations,
    sessions,
    setup,
    tenants,
)
from kansa.cli.common import guarded

Command = tuple[str, Callable[..., None]]

COMMANDS: list[Command] = [
    ("init", setup.init),
    ("serve", setup.serve),
    ("demo", setup.demo),
    ("verify", integrity.verify),
    ("checkpoint", integrity.checkpoint),
    ("purge", integrity.purge),
    ("erase", integrity.erase),
    ("export", export.export_file),
    ("deliver", destinations.deliver),
]
GROUPS: list[tuple[str, str, list[Command]]] = [
    (
        "tenant",
        "Tenants: the customer organisations.",
        [
            ("create", tenants.tenant_create),
            ("update", tenants.tenant_update),
            ("list", tenants.tenant_list),
            ("show", tenants.tenant_show),
            ("retire", tenants.tenant_retire),
        ],
    ),
    (
        "apikey",
        "API keys of publishing and reading applications.",
        [
            ("create", credentials.apikey_create),
            ("list", credentials.apikey_list),
            ("show", credentials.apikey_show),
            ("revoke", credentials.apikey_revoke),
            ("rotate", credentials.apikey_rotate),
        ],
    ),
    (
        "account",
        "Accounts of people who read a tenant's log.",
        [
            ("create", credentials.account_create),
            ("list", credentials.account_list),
            ("disable", credentials.account_disable),
            ("enable", credentials.account_enable),
            ("set-role", credentials.account_set_role),
            ("unlock", credentials.account_unlock),
            ("reset-password", credentials.account_reset_password),
        ],
    ),
    ("session", "Console sessions.", [("end", sessions.session_end)]),
    (
        "destination",
        "Streaming destinations: where tenants' logs are delivered.",
        [
            ("add", destinations.destination_add),
            ("list", destinations.destination_list),
            ("pause", destinations.destination_pause),
            ("resume", destinations.destination_resume),
            ("test", destinations.destination_test),
            ("remove", destinations.destination_remove),
            ("rewind", destinations.destination_rewind),
        ],
    ),
    (
        "key",
        "The key that signs checkpoints and exports.",
        [("show", integrity.key_show), ("rotate", integrity.key_rotate)],
    ),
    (
        "hold",
        "Legal holds: stop purging a tenant.",
        [("set", integrity.hold_set), ("release", integrity.hold_release)],
    ),
]


def build() -> typer.Typer:
    """The ``kansa`` command with every command and group registered."""
    app = typer.Typer(
        help="kansa (監査): a multi-tenant audit log service.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback(invoke_without_command=True)(setup.version)
    _register(app, COMMANDS)
    migrate = typer.Typer(help="The database's schema: apply migrations, or list them.")
    migrate.callback(invoke_without_command=True)(guarded(migrations.migrate))
    _register(migrate, [("status", migrations.status)])
    app.add_typer(migrate, name="migrate")
    for name, help_text, commands in GROUPS:
        group = typer.Typer(help=help_text, no_args_is_help=True)
        _register(group, commands)
        app.add_typer(group, name=name)
    return app


def _register(group: typer.Typer, commands: list[Command]) -> None:
    for name, func in commands:
        group.command(name)(guarded(func))


app = build()


def main() -> None:
    app()


__all__ = ["app", "main"]
