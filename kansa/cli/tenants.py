"""Tenants at the command line: ``kansa tenant create|update|list|show|retire``. The rules a
tenant's settings follow are :mod:`kansa.tenants`'; retiring is :mod:`kansa.access.manage`'s."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from kansa import retention as kept
from kansa import tenants
from kansa.access import manage
from kansa.catalog import Catalog
from kansa.cli.common import (
    CatalogOption,
    DbOption,
    LayoutFileOption,
    ReasonOption,
    opened,
    operator,
    settings_for,
)
from kansa.errors import NotFound
from kansa.records import DEFAULT_LANG, DEFAULT_TZ, Tenant, TenantChanges
from kansa.server.runtime import load_catalog_for, load_layouts_for
from kansa.timeutil import utcnow

RegionOption = Annotated[
    str | None,
    typer.Option(help="Where the tenant's product runs, a region its catalog names (e.g. JP)."),
]


def _check_region(region: str | None, catalog: Catalog) -> None:
    if region is not None:
        tenants.check_region(region, (r for p in catalog.products.values() for r in p.regions))


def _described(tenant: Tenant) -> str:
    return f"{tenant.tz}, {tenant.lang}" + (f", region {tenant.region}" if tenant.region else "")


def tenant_create(
    tenant_id: Annotated[str, typer.Argument(metavar="ID", help="The tenant's id.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    layout: Annotated[str | None, typer.Option(help="Product layout, e.g. pca-id.")] = None,
    tz: Annotated[str, typer.Option(help="Time zone for screens and CSV.")] = DEFAULT_TZ,
    lang: Annotated[str, typer.Option(help="ja or en.")] = DEFAULT_LANG,
    region: RegionOption = None,
    db: DbOption = None,
    catalog: CatalogOption = None,
    layout_file: LayoutFileOption = None,
) -> None:
    """Set up a tenant ahead of its first event, with its layout, time zone, language and
    region."""
    settings = settings_for(db, catalog, layout_file)
    tenants.check_id(tenant_id)
    tenants.check_settings(load_layouts_for(settings), layout, tz, lang)
    _check_region(region, load_catalog_for(settings))
    with opened(settings) as store:
        tenant = store.create_tenant(tenant_id, name=name, layout=layout, tz=tz, lang=lang)
        if region:
            tenant = store.update_tenant(tenant_id, TenantChanges(region=region))
    typer.echo(f"tenant {tenant.id} created (layout {tenant.layout or '-'}, {_described(tenant)})")


def tenant_update(
    tenant_id: Annotated[str, typer.Argument(metavar="ID", help="The tenant's id.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    layout: Annotated[str | None, typer.Option(help="Product layout, e.g. pca-id.")] = None,
    tz: Annotated[str | None, typer.Option(help="Time zone for screens and CSV.")] = None,
    lang: Annotated[str | None, typer.Option(help="ja or en.")] = None,
    region: RegionOption = None,
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
    layout_file: LayoutFileOption = None,
) -> None:
    """Change a tenant's name, layout, time zone, language, region (``--region ''`` clears
    it), whether searches are recorded, or how long its histories are kept (recorded in its
    log)."""
    settings = settings_for(db, catalog, layout_file)
    overrides = kept.parse_overrides(retention) if retention is not None else None
    changes = TenantChanges(name, layout, tz, lang, record_searches, region=region)
    tenants.check_settings(load_layouts_for(settings), layout, tz, lang)
    kinds = load_catalog_for(settings)
    _check_region(region, kinds)
    with opened(settings) as store:
        tenant = store.update_tenant(tenant_id, changes)
        if overrides is not None:
            tenant = kept.change_retention(store, kinds, tenant_id, overrides, operator())
    typer.echo(
        f"tenant {tenant.id}: layout {tenant.layout or '-'}, {_described(tenant)}, "
        f"searches {'recorded' if tenant.record_searches else 'not recorded'}, "
        f"retention {kept.describe(kept.effective(tenant, kinds))}"
    )


def tenant_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = None,
) -> None:
    """List tenants with their last sequence number (retired ones marked)."""
    with opened(settings_for(db)) as store:
        found = store.list_tenants()
    if as_json:
        typer.echo(json.dumps([manage.tenant_facts(t) for t in found], ensure_ascii=False))
        return
    for tenant in found:
        typer.echo(
            f"{tenant.id}\t{tenant.name or ''}\t{tenant.layout or '-'}\t"
            f"{tenant.tz}\t{tenant.lang}\t{tenant.region or '-'}\t{tenant.last_seq} events"
            + ("\tretired" if tenant.retired_at is not None else "")
        )


def tenant_show(
    tenant_id: Annotated[str, typer.Argument(metavar="ID", help="The tenant's id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = None,
) -> None:
    """Show one tenant: its settings, chain, checkpoint, legal hold and whether retired."""
    with opened(settings_for(db)) as store:
        tenant = store.get_tenant(tenant_id)
        if tenant is None:
            raise NotFound(f"no tenant {tenant_id!r}")
        facts = manage.tenant_facts(tenant)
        facts["accounts"] = len(store.list_accounts(tenant_id))
        facts["api_keys"] = len(store.list_api_keys(tenant_id))
    if as_json:
        typer.echo(json.dumps(facts, ensure_ascii=False))
        return
    for name, value in facts.items():
        typer.echo(f"{name}: {'-' if value is None else value}")


def tenant_retire(
    tenant_id: Annotated[str, typer.Argument(metavar="ID", help="The tenant's id.")],
    reason: ReasonOption,
    db: DbOption = None,
) -> None:
    """Retire a tenant (one made by mistake, or no longer served): events for it are refused
    from then on; its log stays readable, exportable and verifiable (recorded in it)."""
    settings = settings_for(db)
    with opened(settings) as store:
        manage.retire_tenant(
            store, load_catalog_for(settings), tenant_id, reason, operator(), now=utcnow()
        )
    typer.echo(f"tenant {tenant_id} retired: it accepts no events; its log stays readable")
