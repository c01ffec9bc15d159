"""One signing key per database, with its history, on every engine: ``kansa init`` registers
the key; another key is refused (exit 2, naming the key id expected) by init, checkpoint and
serve; ``kansa key rotate`` keeps old checkpoints verifiable; a checkpoint of a key the
database does not know fails verify."""

from __future__ import annotations

from pathlib import Path

import pytest

from kansa.catalog import Catalog
from kansa.errors import ConfigError
from kansa.events.prepare import prepare
from kansa.export.jsonl import jsonl_lines
from kansa.integrity.checkpoints import manifest_line
from kansa.integrity.files import verify_file
from kansa.integrity.keyfile import ensure_signing_key, key_path, load_signer
from kansa.integrity.signing import Signer
from kansa.settings import Settings
from kansa.store import open_store
from kansa.timeutil import utcnow
from tests.cli.test_cli import kansa
from tests.helpers import pca_event


@pytest.fixture
def own_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A key file of this test's own, named by KANSA_SIGNING_KEY_FILE."""
    path = tmp_path / "keys" / "kansa-signing.key"
    monkeypatch.setenv("KANSA_SIGNING_KEY_FILE", str(path))
    return path


def other_key(tmp_path: Path) -> Path:
    path = tmp_path / "other.key"
    ensure_signing_key(Settings(database_url="sqlite:///:memory:", signing_key_file=path))
    return path


def publish(url: str, catalog: Catalog, tenant: str, first: int, count: int) -> None:
    store = open_store(url)
    try:
        events = [pca_event(tenant, n) for n in range(first, first + count)]
        store.append(prepare(events, catalog))
    finally:
        store.close()


def test_init_registers_the_key_and_another_key_is_refused_naming_the_one_expected(
    fresh_url: str, own_key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = kansa("init", "--db", fresh_url)
    key_id = load_signer(Settings(database_url=fresh_url)).key_id
    assert code == 0 and f"the database's signing key is key id {key_id}" in out
    assert own_key.stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("KANSA_SIGNING_KEY_FILE", str(other_key(tmp_path)))
    for command in (("init",), ("checkpoint",), ("serve", "--port", "1")):
        code, _, err = kansa(*command, "--db", fresh_url)
        assert code == 2, (command, err)
        assert f"this database's signing key is key id {key_id}" in err, err


def test_a_rotated_key_signs_from_then_on_and_old_checkpoints_still_verify(
    fresh_url: str, own_key: Path, catalog: Catalog, tenant_id: str
) -> None:
    assert kansa("init", "--db", fresh_url)[0] == 0
    old = load_signer(Settings(database_url=fresh_url)).key_id
    publish(fresh_url, catalog, tenant_id, 1, 3)
    assert kansa("checkpoint", "--db", fresh_url)[0] == 0
    code, out, _ = kansa("key", "rotate", "--db", fresh_url)
    new = load_signer(Settings(database_url=fresh_url)).key_id
    assert code == 0 and new != old and f"key id {new}" in out
    retired = own_key.with_name(f"{own_key.name}.{old}.retired")
    assert retired.stat().st_mode & 0o777 == 0o600
    publish(fresh_url, catalog, tenant_id, 4, 2)
    code, out, _ = kansa("checkpoint", "--db", fresh_url)
    assert code == 0 and f"(key id {new})" in out
    store = open_store(fresh_url)
    try:
        assert [c.key_id for c in store.checkpoints(tenant_id)] == [old, new]
    finally:
        store.close()
    code, out, err = kansa("verify", "--db", fresh_url)
    assert code == 0, err
    assert "2 signed checkpoint(s) agree" in out and old in err and new in err
    code, _, err = kansa("checkpoint", "--db", fresh_url, "--tenant", tenant_id)
    assert code == 0  # the head is signed already, with the current key
    with pytest.MonkeyPatch.context() as patch:  # the replaced key is refused, and says so
        patch.setenv("KANSA_SIGNING_KEY_FILE", str(retired))
        code, _, err = kansa("checkpoint", "--db", fresh_url)
        assert code == 2 and f"replaced by key id {new}" in err
    exported_before_the_rotation(fresh_url, tenant_id, retired, own_key)


def exported_before_the_rotation(url: str, tenant: str, old_file: Path, new_file: Path) -> None:
    """An export ending at the old key's checkpoint (seq 3): the new key signs its manifest,
    the old key's checkpoint stays in it; offline, both public keys check it."""
    old, new = load_signer_file(old_file), load_signer_file(new_file)
    store = open_store(url)
    try:
        lines = [*jsonl_lines(store, tenant, 1, 3), manifest_line(store, new, tenant, 1, 3)]
    finally:
        store.close()
    both = verify_file(lines, [new.public_key, old.public_key])
    assert both.problem is None and both.manifest is not None
    assert (both.manifest.key_id, both.manifest.checkpoint.key_id) == (new.key_id, old.key_id)
    alone = verify_file(lines, new.public_key)
    assert alone.problem is not None and "checkpoint" in alone.problem.reason


def load_signer_file(path: Path) -> Signer:
    return Signer.from_pem(path.read_bytes())


def test_a_checkpoint_of_a_key_the_database_does_not_know_fails_verify(
    fresh_url: str, own_key: Path, catalog: Catalog, tenant_id: str
) -> None:
    assert kansa("init", "--db", fresh_url)[0] == 0
    publish(fresh_url, catalog, tenant_id, 1, 3)
    store = open_store(fresh_url)
    try:
        head = list(store.chain(tenant_id))[-1]
        foreign = Signer.generate()
        store.add_checkpoint(foreign.checkpoint(tenant_id, head.seq, head.hash, utcnow()))
    finally:
        store.close()
    code, _, err = kansa("verify", "--db", fresh_url)
    assert code == 1
    assert f"signed by key id {foreign.key_id}, a key this database does not know" in err


def test_a_database_that_is_no_file_has_no_default_key_place() -> None:
    for url in ("postgresql://kansa@db/kansa", "sqlite:///:memory:"):
        with pytest.raises(ConfigError, match="KANSA_SIGNING_KEY_FILE"):
            key_path(Settings(database_url=url, signing_key_file=None))
    beside = key_path(Settings(database_url="sqlite:////srv/kansa/kansa.db", signing_key_file=None))
    assert beside == Path("/srv/kansa/kansa-signing.key")
