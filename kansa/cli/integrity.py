"""The commands that prove the log intact and keep it no longer than it should be:
``kansa key show|rotate``, ``kansa checkpoint``, ``kansa verify``, ``kansa purge`` and
``kansa hold set|release``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from kansa import erasure, retention
from kansa.cli.common import (
    CatalogOption,
    DbOption,
    ReasonOption,
    TenantOption,
    existing,
    fail,
    opened,
    operator,
    settings_for,
)
from kansa.errors import ConfigError, InvalidInput, Problem
from kansa.integrity import registry
from kansa.integrity.checkpoints import sign_checkpoint, sign_heads
from kansa.integrity.files import verify_file
from kansa.integrity.keyfile import key_path, load_signer, read_public_key, write_key
from kansa.integrity.signing import PublicKey, Signer
from kansa.server.runtime import load_catalog_for
from kansa.settings import Settings
from kansa.store import Store
from kansa.store.schema import MIGRATIONS
from kansa.timeutil import utcnow


def key_show(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = None,
) -> None:
    """Print the public key (PEM) that checks checkpoints and export manifests."""
    import json

    settings = settings_for(db)
    if settings.signing_key is None and settings.signing_key_file is None:
        existing(settings)  # the key file is looked for beside the database
    public = load_signer(settings).public_key
    if as_json:
        typer.echo(
            json.dumps(
                {"algorithm": "Ed25519", "key_id": public.key_id, "public_key": public.pem()}
            )
        )
        return
    typer.echo(public.pem(), nl=False)
    typer.echo(f"key id {public.key_id} (Ed25519)", err=True)


def checkpoint(
    tenant: Annotated[str | None, typer.Option(help="Sign one tenant's head only.")] = None,
    db: DbOption = None,
) -> None:
    """Sign a checkpoint at the head of every tenant with unsigned events (or of one)."""
    settings = settings_for(db)
    signer = load_signer(settings)
    with opened(settings) as store:
        registry.check_signer(store, signer)
        if tenant is not None:
            made = [sign_checkpoint(store, signer, tenant)]
            refused: list[str] = []
        else:
            signed = sign_heads(store, signer, store.list_tenants())
            made, refused = signed.checkpoints, signed.refused
    for cp in made:
        typer.echo(
            f"signed tenant {cp.tenant}: seq {cp.seq} {cp.head_hash[:16]}… at {cp.signed_at} "
            f"(key id {cp.key_id})"
        )
    for reason in refused:
        typer.echo(f"REFUSED {reason}", err=True)
    if refused:
        raise fail(f"{len(refused)} tenant chain(s) not signed", 1)
    if not made:
        typer.echo("every tenant's head is signed already")


def verify(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="An exported JSON Lines file to check offline, or a folder of delivered "
            "batches (webhook bodies, S3 objects: .jsonl or .jsonl.gz)."
        ),
    ] = None,
    tenant: Annotated[str | None, typer.Option(help="Check one tenant only.")] = None,
    key: Annotated[
        list[Path] | None,
        typer.Option(
            help="A public key (PEM) whose checkpoints are trusted; repeat it for the keys a "
            "rotated one replaced. Default: the signing key's."
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Walk every tenant's hash chain and signed checkpoints, or check an exported file with
    --key. Exit 0 when intact; 1 naming the first broken link or a checkpoint of a key not
    given."""
    run_verify(file, tenant, key or [], settings_for(db))


def run_verify(
    file: Path | None, tenant: str | None, key_files: list[Path], settings: Settings
) -> None:
    """``kansa verify``: a database, an exported file or a folder of delivered batches."""
    if file is not None and file.is_dir():
        from kansa.cli.delivered import verify_folder

        if key_files:  # offline: the keys given alone
            keys = [read_public_key(k) for k in key_files]
        else:  # the database's registered keys
            with opened(settings, migrate=False) as store:
                keys = _keys_for_database(store, key_files, settings)
        verify_folder(file, keys)
        return
    if file is not None:
        if not key_files:
            raise InvalidInput([Problem("--key", "checking a file needs the public key")])
        _verify_file(file, [read_public_key(k) for k in key_files])
        return
    from kansa.integrity.verify import verify_store

    broken = checked = pruned = 0
    with opened(settings, migrate=False) as store:  # a backup is checked as it is
        if store.schema_version() < MIGRATIONS[-1].version:
            raise ConfigError(
                f"the database's schema is at version {store.schema_version()}, not "
                f"{MIGRATIONS[-1].version}: run 'kansa init' on it (or on a copy) first"
            )
        key = _keys_for_database(store, key_files, settings)
        for walk in verify_store(store, tenant, key):
            checked += walk.checked
            pruned += walk.pruned
            if walk.broken is not None:
                broken += 1
                typer.echo(f"BROKEN {walk.broken}", err=True)
                continue
            signed = f", {walk.anchors} signed checkpoint(s) agree" if key else ""
            gone = f" ({walk.pruned} pruned, linked by their commitments)" if walk.pruned else ""
            typer.echo(
                f"ok     tenant {walk.tenant}: {walk.checked} events{gone}, head seq "
                f"{walk.head_seq} {walk.head_hash[:16]}…{signed}"
            )
    if broken:
        raise fail(f"{broken} tenant chain(s) broken", 1)
    typer.echo(f"intact: {checked} events checked, {pruned} pruned")


def _keys_for_database(store: Store, key_files: list[Path], settings: Settings) -> list[PublicKey]:
    """The keys whose checkpoints verify trusts: every key the database registered (the
    current one and those rotated out) and the ``--key`` files; a database that registered
    none (older than the registry) is checked with the signing key's public half."""
    given = [read_public_key(k) for k in key_files]
    registered = registry.public_keys(store)
    if registered:
        ids = ", ".join(k.key_id for k in registered)
        typer.echo(f"checkpoints checked with the database's key id(s) {ids}", err=True)
        return [*registered, *given]
    if given:
        return given
    try:
        return [load_signer(settings).public_key]
    except ConfigError as exc:
        typer.echo(f"kansa: checkpoints not checked: {exc}; or give --key PUBKEY.pem", err=True)
        return []


def key_rotate(db: DbOption = None) -> None:
    """Make a new signing key and register it as the database's current one; the old public
    key stays registered (old checkpoints still verify) and the old key file is kept beside
    the new one as FILE.<old key id>.retired. Restart every kansa serve afterwards."""
    settings = settings_for(db)
    if settings.signing_key is not None:
        raise InvalidInput(
            [Problem("KANSA_SIGNING_KEY", "rotate a key kept in a file (KANSA_SIGNING_KEY_FILE)")]
        )
    path = key_path(settings)
    old = load_signer(settings)
    new = Signer.generate()
    staged = path.with_name(f"{path.name}.{new.key_id}.new")
    retired = path.with_name(f"{path.name}.{old.key_id}.retired")
    with opened(settings) as store:
        registry.check_signer(store, old)  # only the current key is rotated
        write_key(staged, new)
        registry.rotate(store, new, utcnow())
    os.replace(path, retired)
    os.replace(staged, path)
    typer.echo(
        f"signing key rotated: key id {new.key_id} at {path} signs from now on; key id "
        f"{old.key_id} stays registered (its file kept as {retired}). Restart every kansa serve."
    )


def _verify_file(file: Path, keys: list[PublicKey]) -> None:
    """The file checked with the keys given: its manifest and checkpoint each with the key
    of their key id."""
    try:
        with file.open("rb") as lines:
            report = verify_file(lines, keys)
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror}") from None
    if report.problem is not None:
        typer.echo(f"BROKEN file {file}: {report.problem}", err=True)
        raise fail("the file is not intact", 1)
    manifest = report.manifest
    assert manifest is not None
    typer.echo(
        f"ok     file {file}: tenant {manifest.tenant}, seq {manifest.first_seq}-"
        f"{manifest.last_seq}, {report.lines} events, manifest and checkpoint signed by key id "
        f"{manifest.key_id} at {manifest.signed_at}"
    )


def purge(
    tenant: Annotated[str | None, typer.Option(help="Purge one tenant only.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")] = False,
    undelivered: Annotated[
        bool,
        typer.Option(
            "--undelivered",
            help="Prune expired events streaming destinations have not received too "
            "(the gap is recorded in the purge's event).",
        ),
    ] = False,
    db: DbOption = None,
    catalog: CatalogOption = None,
) -> None:
    """Prune expired events: remove the content of every event that has passed its
    retention, keeping its place in the chain. Tenants under legal hold are skipped; events
    a streaming destination has not received wait for it (see --undelivered)."""
    settings = settings_for(db, catalog)
    try:
        key: PublicKey | None = load_signer(settings).public_key
    except ConfigError:
        key = None
    with opened(settings) as store:
        plans = retention.purge(
            store,
            load_catalog_for(settings),
            tenant_id=tenant,
            dry_run=dry_run,
            now=utcnow(),
            key=key,
            undelivered=undelivered,
        )
    refused = 0
    for plan in plans:
        refused += plan.refused is not None
        typer.echo(_describe(plan, dry_run), err=plan.refused is not None)
    if refused:
        raise fail(f"{refused} tenant(s) not purged: their expired events do not verify")


def _describe(plan: retention.Plan, dry_run: bool) -> str:
    who = f"tenant {plan.tenant.id}"
    if plan.held:
        return f"held   {who}: legal hold ({plan.tenant.legal_hold}); nothing purged"
    if plan.refused:
        return f"REFUSED {plan.refused}"
    count, first, last = plan.expired
    waits = (
        f"; events after seq {plan.waiting} wait for streaming destinations"
        if plan.waiting is not None
        else ""
    )
    if plan.order is None or not count:
        return f"keep   {who}: nothing expired ({retention.describe(plan.days)}){waits}"
    if dry_run:
        return f"would  {who}: purge {count} events (seq {first}-{last}){waits}"
    if plan.purged is None:
        return f"skip   {who}: changed meanwhile; run again"
    done = plan.purged
    return (
        f"purged {who}: {done.count} events (seq {done.first_seq}-{done.last_seq});"
        f" each keeps its place in the chain{waits}"
    )


def erase(
    tenant: TenantOption,
    actor: Annotated[str, typer.Option("--actor", help="The id of the person to erase.")],
    reason: ReasonOption,
    db: DbOption = None,
) -> None:
    """Erase one person: remove the content of every event of the tenant in which they are
    the actor or a target, keeping each one's place in the chain; recorded as
    privacy.erasure (without the person's id). Refused under legal hold."""
    settings = settings_for(db)
    try:
        key: PublicKey | None = load_signer(settings).public_key
    except ConfigError:
        key = None
    with opened(settings) as store:
        erased = erasure.erase(
            store, load_catalog_for(settings), tenant, actor, reason, operator(), key=key
        )
    span = f" (seq {erased.first_seq}-{erased.last_seq})" if erased.count else ""
    typer.echo(f"erased tenant {tenant}: {erased.count} events{span}; recorded as privacy.erasure")


def hold_set(tenant: TenantOption, reason: ReasonOption, db: DbOption = None) -> None:
    """Place a legal hold: the tenant's events are not purged until it is released."""
    settings = settings_for(db)
    with opened(settings) as store:
        held = retention.set_legal_hold(
            store, load_catalog_for(settings), tenant, reason, operator()
        )
    typer.echo(f"tenant {held.id}: legal hold placed ({held.legal_hold}); purging stopped")


def hold_release(tenant: TenantOption, reason: ReasonOption, db: DbOption = None) -> None:
    """Release the legal hold: purging resumes."""
    settings = settings_for(db)
    with opened(settings) as store:
        released = retention.set_legal_hold(
            store, load_catalog_for(settings), tenant, None, operator(), release_reason=reason
        )
    typer.echo(f"tenant {released.id}: legal hold released; purging resumes")
