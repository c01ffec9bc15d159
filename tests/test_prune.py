"""The whole of retention and erasure on every engine, as an operator runs them: a tenant
keeping login history 30 days and operations for ever, 2,000 events shuffled over 400 days.
After ``kansa purge`` (or ``kansa erase``) what went is in no search, no export and not in the
database's bytes; what stays stays; ``kansa verify`` exits 0; and a JSON Lines export taken
before still verifies offline with the public key."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from kansa.catalog import Catalog
from kansa.cli import app
from kansa.dburl import path_of
from kansa.events.prepare import prepare
from kansa.events.query import Query
from kansa.export.jsonl import jsonl_lines
from kansa.integrity.checkpoints import manifest_line
from kansa.integrity.files import verify_file
from kansa.integrity.keyfile import load_signer
from kansa.records import TenantChanges
from kansa.settings import Settings
from kansa.store import Store
from kansa.timeutil import utcnow
from tests.helpers import pca_event
from tests.raw import execute

runner = CliRunner()
COUNT = 2000


def kansa(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def shuffled_tenant(store: Store, catalog: Catalog, tenant: str) -> list[dict[str, Any]]:
    """2,000 events, logins and operations alternating, at random times over 400 days, each
    with a unique marker in its actor's name; login kept 30 days, operations for ever."""
    rng = random.Random(16)
    now = utcnow()
    events = []
    for n in range(1, COUNT + 1):
        when = (now - timedelta(days=rng.uniform(0, 400))).isoformat()
        event = pca_event(tenant, n, occurred_at=when)
        if n % 2:
            event.update(action="auth.login", targets=[], params={})
        event["actor"] = {**event["actor"], "name": f"marker-{n:05d}-zq"}
        events.append(event)
    for start in range(0, COUNT, 500):
        store.append(prepare(events[start : start + 500], catalog))
    store.update_tenant(tenant, TenantChanges(retention={"login": 30, "operation": 0}))
    return events


def export_now(store: Store, store_url: str, tenant: str, tmp_path: Path) -> list[bytes]:
    tenant_record = store.get_tenant(tenant)
    assert tenant_record is not None
    last = tenant_record.last_seq
    signer = load_signer(Settings(database_url=store_url))
    return [*jsonl_lines(store, tenant, 1, last), manifest_line(store, signer, tenant, 1, last)]


def on_disk(store_url: str, marker: bytes) -> bool:
    """Whether ``marker`` is anywhere in the database: the SQLite file and its WAL, byte for
    byte; on PostgreSQL, in any row of events a query sees."""
    if store_url.startswith("sqlite"):
        files = [Path(path_of(store_url)), Path(path_of(store_url) + "-wal")]
        return any(marker in f.read_bytes() for f in files if f.exists())
    text = marker.decode()
    (found,) = execute(
        store_url,
        "SELECT count(*) FROM events WHERE strpos(encode(body, 'escape'), ?) > 0"
        " OR strpos(coalesce(actor_name, '') || search_text, ?) > 0",
        text,
        text,
    )
    return bool(found[0])


def test_a_purge_prunes_every_expired_login_and_keeps_every_operation(
    fresh_url: str, catalog: Catalog, tmp_path: Path
) -> None:
    from kansa.store import open_store

    store = open_store(fresh_url)
    try:
        events = shuffled_tenant(store, catalog, "t16")
        before = export_now(store, fresh_url, "t16", tmp_path)
        cutoff = utcnow() - timedelta(days=30)
        expired = {
            e["actor"]["name"]
            for e in events
            if e["action"] == "auth.login" and e["occurred_at"] < cutoff.isoformat()
        }
        assert 900 < len(expired) < 1000
        sample = sorted(expired)[:: len(expired) // 20]
        assert all(on_disk(fresh_url, name.encode()) for name in sample[:3])

        code, out, err = kansa("purge", "--tenant", "t16", "--db", fresh_url)
        assert code == 0, err
        assert f"purged tenant t16: {len(expired)} events" in out
        left = {e["actor"]["name"] for e in store.stream(Query(tenant="t16")) if e["actor"]}
        operations = {e["actor"]["name"] for e in events if e["action"] == "user.create"}
        assert operations <= left and not (expired & left)
        for name in sample:
            assert not on_disk(fresh_url, name.encode()), name
        code, out, err = kansa("verify", "--tenant", "t16", "--db", fresh_url)
        assert code == 0 and f"{len(expired)} pruned" in out, err
        signer = load_signer(Settings(database_url=fresh_url))
        assert verify_file(before, signer.public_key).intact
        after = export_now(store, fresh_url, "t16", tmp_path)  # pruned lines, still a chain
        assert verify_file(after, signer.public_key).intact
        assert len(after) == len(before) + 1  # the purge record
        assert not any(name.encode() in b"".join(after) for name in expired)
        assert sum(b'"pruned":{' in line for line in after) == len(expired)
        changed = [line.replace(b'"commitment":"0000', b'"commitment":"0001', 1) for line in after]
        assert not verify_file(changed, signer.public_key).intact
        moved = [after[1], after[0], *after[2:]]
        assert not verify_file(moved, signer.public_key).intact
    finally:
        store.close()


def test_an_erasure_removes_one_person_and_the_chain_still_verifies(
    fresh_url: str, catalog: Catalog, tmp_path: Path
) -> None:
    """The person (acc-7) as actor of some events and target of others: name, login, e-mail
    and address gone; a legal hold refuses the erasure, naming the hold."""
    from kansa.store import open_store

    store = open_store(fresh_url)
    try:
        person = {
            "id": "acc-7",
            "name": "神楽坂 七子 zq7",
            "login": "nanako-zq7",
            "email": "nanako-zq7@example.jp",
        }
        events = [pca_event("t17", n) for n in range(1, 41)]
        for n, event in enumerate(events):
            if n % 5 == 0:
                event.update(actor=person, ip="203.0.113.77")
            elif n % 5 == 1:
                event.update(
                    targets=[{"type": "user", **{k: person[k] for k in ("id", "name", "login")}}]
                )
        store.append(prepare(events, catalog))
        before = export_now(store, fresh_url, "t17", tmp_path)
        markers = [person["name"].encode(), b"nanako-zq7", b"203.0.113.77"]
        assert all(on_disk(fresh_url, m) for m in markers)

        code, _, _ = kansa(
            "hold", "set", "--tenant", "t17", "--reason", "case 9", "--db", fresh_url
        )
        assert code == 0
        erase = ("erase", "--tenant", "t17", "--actor", "acc-7", "--reason", "request 12")
        code, _, err = kansa(*erase, "--db", fresh_url)
        assert code == 1 and "legal hold: case 9" in err
        kansa("hold", "release", "--tenant", "t17", "--reason", "closed", "--db", fresh_url)

        code, out, err = kansa(*erase, "--db", fresh_url)
        assert code == 0 and "erased tenant t17: 16 events" in out, err
        for marker in markers:
            assert not on_disk(fresh_url, marker), marker
        left = list(store.stream(Query(tenant="t17")))
        assert len([e for e in left if e["action"] == "user.create"]) == 24
        (record,) = [e for e in left if e["action"] == "privacy.erasure"]
        assert record["params"] == {
            "count": 16,
            "first_seq": 1,
            "last_seq": 37,
            "reason": "request 12",
        }
        assert (
            b"acc-7"
            not in execute(fresh_url, "SELECT body FROM events WHERE action = 'privacy.erasure'")[
                0
            ][0]
        )
        code, out, err = kansa("verify", "--tenant", "t17", "--db", fresh_url)
        assert code == 0 and "16 pruned" in out, err
        signer = load_signer(Settings(database_url=fresh_url))
        assert verify_file(before, signer.public_key).intact
    finally:
        store.close()


def test_an_unknown_tenant_is_refused_with_exit_2(store_url: str) -> None:
    code, _, err = kansa(
        "erase", "--tenant", "nobody-here", "--actor", "x", "--reason", "r", "--db", store_url
    )
    assert code == 2 and "nobody-here" in err
