"""``kansa init`` (the key), ``key show``, ``checkpoint``, ``verify`` (a database and a file),
``purge``, ``hold`` and ``tenant update --retention``, through the runner — on every engine."""

from __future__ import annotations

import json
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kansa.catalog import Catalog
from kansa.cli import app
from kansa.events.prepare import prepare
from kansa.export.jsonl import jsonl_lines
from kansa.integrity.checkpoints import manifest_line
from kansa.integrity.keyfile import load_signer
from kansa.settings import Settings
from kansa.store import Store
from kansa.timeutil import utcnow
from tests.helpers import pca_event
from tests.raw import execute

runner = CliRunner()


def kansa(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_init_makes_a_key_beside_a_sqlite_database_readable_by_its_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KANSA_SIGNING_KEY_FILE")
    db = f"sqlite:///{tmp_path / 'data' / 'kansa.db'}"
    code, out, _ = kansa("init", "--db", db)
    key = tmp_path / "data" / "kansa-signing.key"
    assert code == 0 and f"signing key created at {key}" in out
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    made = key.read_bytes()
    code, out, _ = kansa("init", "--db", db)
    assert code == 0 and "created" not in out and key.read_bytes() == made
    code, pem, err = kansa("key", "show", "--db", db)
    key_id = load_signer(Settings(database_url=db)).key_id
    assert code == 0 and pem.startswith("-----BEGIN PUBLIC KEY-----") and key_id in err
    key.chmod(0o644)
    code, _, err = kansa("key", "show", "--db", db)
    assert code == 2 and "may be read by others (mode 0644): chmod 600" in err
    key.unlink()
    code, _, err = kansa("serve", "--db", db, "--port", "1")
    assert code == 2 and "no signing key" in err and "kansa init" in err
    code, _, err = kansa("verify", "--db", f"sqlite:///{tmp_path / 'never-made.db'}")
    assert code == 2 and "no database at" in err and "never-made.db" in err
    assert not (tmp_path / "never-made.db").exists()
    empty = tmp_path / "empty.db"
    empty.touch(mode=0o600)
    code, _, err = kansa("verify", "--db", f"sqlite:///{empty}")
    assert code == 2 and "schema is at version 0" in err and "Traceback" not in err


def test_checkpoint_then_verify_with_the_key(
    store_url: str, store: Store, catalog: Catalog, tenant_id: str, tmp_path: Path
) -> None:
    store.append(prepare([pca_event(tenant_id, n) for n in range(1, 4)], catalog))
    code, out, _ = kansa("checkpoint", "--tenant", tenant_id, "--db", store_url)
    assert code == 0 and f"signed tenant {tenant_id}: seq 3" in out
    code, shown, _ = kansa("key", "show", "--json", "--db", store_url)
    public = tmp_path / "kansa.pub.pem"
    public.write_text(json.loads(shown)["public_key"])
    code, out, _ = kansa("verify", "--tenant", tenant_id, "--key", str(public), "--db", store_url)
    assert code == 0 and "1 signed checkpoint(s) agree" in out
    third = list(store.chain(tenant_id))[2]
    execute(
        store_url,
        "DELETE FROM events WHERE tenant_id = ? AND seq = 3",
        tenant_id,
        bypass_triggers=True,
    )
    execute(
        store_url,
        "UPDATE tenants SET last_seq = 2, last_hash = ? WHERE id = ?",
        third.prev_hash,
        tenant_id,
    )
    code, _, err = kansa("verify", "--tenant", tenant_id, "--db", store_url)
    assert code == 1
    assert f"tenant {tenant_id}: chain broken at seq 3: chain ends at seq 2 but a signed" in err


def test_verify_checks_an_exported_file_offline(
    store_url: str, store: Store, catalog: Catalog, tenant_id: str, tmp_path: Path
) -> None:
    store.append(prepare([pca_event(tenant_id, n) for n in range(1, 5)], catalog))
    signer = load_signer(Settings(database_url=store_url))
    exported = tmp_path / "events.jsonl"
    lines = [*jsonl_lines(store, tenant_id, 1, 4), manifest_line(store, signer, tenant_id, 1, 4)]
    exported.write_bytes(b"".join(lines) + b"\n")
    public = tmp_path / "kansa.pub.pem"
    public.write_text(signer.public_key.pem())
    code, out, _ = kansa("verify", str(exported), "--key", str(public))
    assert code == 0 and f"tenant {tenant_id}, seq 1-4, 4 events" in out
    exported.write_bytes(exported.read_bytes().replace(b"jiro", b"JIRO", 1))
    code, _, err = kansa("verify", str(exported), "--key", str(public))
    assert code == 1 and f"BROKEN file {exported}: line 1 (seq 1): line changed" in err
    code, _, err = kansa("verify", str(exported))
    assert code == 2 and "--key" in err
    code, _, err = kansa("verify", str(tmp_path / "nope.jsonl"), "--key", str(public))
    assert code == 2 and "cannot read" in err


def test_purge_hold_and_retention_from_the_command_line(
    store_url: str, store: Store, catalog: Catalog, tenant_id: str
) -> None:
    old = (utcnow() - timedelta(days=40)).isoformat()
    events = [pca_event(tenant_id, 1, occurred_at=old), pca_event(tenant_id, 2)]
    store.append(prepare(events, catalog))
    db = ("--db", store_url)
    code, out, _ = kansa("purge", "--tenant", tenant_id, "--dry-run", *db)
    assert code == 0 and f"keep   tenant {tenant_id}: nothing expired (login=730" in out
    code, out, _ = kansa("tenant", "update", tenant_id, "--retention", "operation=30", *db)
    assert code == 0 and "retention login=730, operation=30, provisioning=forever" in out
    code, _, err = kansa("tenant", "update", tenant_id, "--retention", "operation=soon", *db)
    assert code == 2 and "retention" in err
    code, out, _ = kansa("hold", "set", "--tenant", tenant_id, "--reason", "audit", *db)
    assert code == 0 and "legal hold placed (audit)" in out
    code, out, _ = kansa("purge", "--tenant", tenant_id, *db)
    assert code == 0 and f"held   tenant {tenant_id}: legal hold (audit)" in out
    code, out, _ = kansa("hold", "release", "--tenant", tenant_id, "--reason", "done", *db)
    assert code == 0 and "released" in out
    code, out, _ = kansa("purge", "--tenant", tenant_id, "--dry-run", *db)
    assert code == 0 and f"would  tenant {tenant_id}: purge 1 events (seq 1-1)" in out
    code, out, _ = kansa("purge", "--tenant", tenant_id, *db)
    assert code == 0 and "1 events (seq 1-1); each keeps its place in the chain" in out
    code, out, _ = kansa("verify", "--tenant", tenant_id, *db)
    assert code == 0 and "intact" in out and "1 pruned" in out
    actions = [link.pruned or link.columns["action"] for link in store.chain(tenant_id)]
    assert actions == [
        "retention",
        "user.create",
        "retention.set",
        "legal_hold.set",
        "legal_hold.release",
        "retention.purge",
    ]
    code, _, err = kansa("hold", "release", "--tenant", tenant_id, "--reason", "x", *db)
    assert code == 1 and "not under legal hold" in err
