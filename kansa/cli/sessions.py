"""Console sessions at the command line: ``kansa session end`` ends every session of a
tenant at once, whoever holds a copy of its cookie."""

from __future__ import annotations

import typer

from kansa.access.sessions import end_tenant
from kansa.cli.common import DbOption, TenantOption, opened, settings_for
from kansa.timeutil import utcnow


def session_end(tenant: TenantOption, db: DbOption = None) -> None:
    """End every console session of a tenant now (accounts' and viewers'). People sign in
    again; an unexpired viewer token can still open a new session."""
    with opened(settings_for(db)) as store:
        end_tenant(store, tenant, now=utcnow())
    typer.echo(f"ended every console session of {tenant}")
