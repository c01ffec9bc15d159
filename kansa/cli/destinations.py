"""``kansa destination add | list | pause | resume | test | remove | rewind`` and
``kansa deliver``: streaming destinations configured as code, from the database's side (the
operator: any tenant's, or every tenant's). ``add`` takes the same JSON as
``POST /api/v1/destinations``."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import orjson
import typer

from kansa.cli.common import CatalogOption, DbOption, fail, opened, settings_for
from kansa.errors import ConfigError, InvalidInput, Problem
from kansa.integrity.keyfile import load_signer
from kansa.server.runtime import load_catalog_for
from kansa.streaming import manage
from kansa.streaming.destinations import parse_spec
from kansa.streaming.sealing import Sealer
from kansa.streaming.senders import probed
from kansa.streaming.worker import Deliverer
from kansa.timeutil import utcnow

IdArgument = Annotated[str, typer.Argument(help="The destination's id (dst_…).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _spec_of(path: Path) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise InvalidInput([Problem("SPEC", f"{path} is not JSON: {exc}")]) from None
    if not isinstance(data, dict):
        raise InvalidInput([Problem("SPEC", f"{path} must hold a JSON object")])
    return data


def destination_add(
    spec: Annotated[Path, typer.Argument(help="A JSON file: name, kind, config, secret …")],
    tenant: Annotated[
        str | None, typer.Option(help="The tenant; without it, every tenant (the operator's).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Add a destination from a JSON file (docs/streaming.md); prints its id. A webhook given
    no secret gets one, printed this once."""
    data = _spec_of(spec)
    given = data.get("secret") is not None
    parsed = parse_spec(data)
    settings = settings_for(db)
    with opened(settings) as store:
        made = manage.add(store, load_signer(settings), parsed, tenant, secret_given=given)
    typer.echo(made.destination.id)
    if made.secret is not None:
        typer.echo(f"webhook signing secret (shown this once): {made.secret}", err=True)


def destination_list(
    tenant: Annotated[str | None, typer.Option(help="One tenant's destinations only.")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List destinations with their lag (events, seconds) and state."""
    now = utcnow()
    with opened(settings_for(db)) as store:
        shown = [manage.status(store, d, tenant, now) for d in manage.listed(store, tenant)]
    if as_json:
        typer.echo(json.dumps({"destinations": shown}, ensure_ascii=False))
        return
    for d in shown:
        state = "paused" if d["paused"] else "degraded" if d["degraded"] else "ok"
        typer.echo(
            f"{d['id']}\t{d['name']}\t{d['kind']}\t{d['tenant'] or '*'}\t{state}\t"
            f"lag {d['lag_events']} events, {d['lag_seconds']} s"
        )


def destination_pause(destination: IdArgument, db: DbOption = None) -> None:
    """Stop delivering to a destination; its cursors wait."""
    with opened(settings_for(db)) as store:
        manage.pause(store, destination, None, True)
    typer.echo(f"{destination}: paused")


def destination_resume(destination: IdArgument, db: DbOption = None) -> None:
    """Deliver to a paused destination again, from where its cursors wait."""
    with opened(settings_for(db)) as store:
        manage.pause(store, destination, None, False)
    typer.echo(f"{destination}: resumed")


def destination_remove(destination: IdArgument, db: DbOption = None) -> None:
    """Remove a destination and its cursors."""
    with opened(settings_for(db)) as store:
        manage.remove(store, destination, None)
    typer.echo(f"{destination}: removed")


def destination_rewind(
    destination: IdArgument,
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant whose cursor moves.")],
    seq: Annotated[int, typer.Option("--seq", help="Deliver everything after this seq again.")],
    db: DbOption = None,
) -> None:
    """Move a destination's cursor back (a backfill): the events after --seq go again."""
    with opened(settings_for(db)) as store:
        cursor = manage.rewind(store, destination, None, tenant, seq)
    typer.echo(f"{destination}: tenant {tenant} delivers again after seq {cursor.delivered_seq}")


def destination_test(destination: IdArgument, db: DbOption = None) -> None:
    """Reach the destination's receiver without delivering anything; exit 1 if it fails."""
    settings = settings_for(db)
    with opened(settings) as store:
        found = manage.find(store, destination, None)
    problem = probed(found, Sealer(load_signer(settings)))
    if problem is not None:
        raise fail(f"{destination}: {problem}", 1)
    typer.echo(f"{destination}: ok")


def deliver(
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due now, then stop.")
    ] = False,
    db: DbOption = None,
    catalog: CatalogOption = None,
) -> None:
    """Deliver to streaming destinations, on its own (beside or instead of kansa serve's own
    delivery): until SIGTERM or Ctrl-C, or with --once until nothing is due."""
    settings = settings_for(db, catalog)
    with opened(settings) as store:
        worker = Deliverer(
            store,
            load_catalog_for(settings),
            load_signer(settings),
            lease=settings.delivery_lease_seconds,
        )
        if once:
            total = 0
            while done := worker.run_once().batches:
                total += done
            typer.echo(f"{total} batches delivered")
            return
        stop = worker.request_stop

        def on_signal(number: int, frame: FrameType | None) -> None:
            stop()

        signal.signal(signal.SIGTERM, on_signal)
        try:
            worker.run_until_stopped()
        except KeyboardInterrupt:
            pass
        finally:
            worker.stop()
