"""An exported JSON Lines file with its manifest, checked offline: intact, and each way of
tampering with it found and named — on files exported from every engine."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest

from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.export.jsonl import jsonl_lines
from kansa.integrity.checkpoints import manifest_line
from kansa.integrity.files import sign_manifest, verify_file
from kansa.integrity.signing import Signer
from kansa.store import Store
from kansa.timeutil import utcnow
from tests.helpers import pca_event

Lines = list[bytes]


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate()


def exported(store: Store, catalog: Catalog, tenant: str, signer: Signer) -> Lines:
    """Seq 2-5 of a six-event chain, as the export writes it, and its manifest line."""
    events = [pca_event(tenant, n, params={"login": f"u{n}"}) for n in range(1, 7)]
    store.append(prepare(events, catalog))
    lines = list(jsonl_lines(store, tenant, 2, 5))
    return [*lines, manifest_line(store, signer, tenant, 2, 5) + b"\n"]


def test_an_exported_file_verifies_offline(
    store: Store, catalog: Catalog, tenant_id: str, signer: Signer
) -> None:
    lines = exported(store, catalog, tenant_id, signer)
    report = verify_file(lines, signer.public_key)
    assert report.problem is None and report.intact
    assert report.lines == 4 and report.manifest is not None
    manifest = report.manifest
    assert (manifest.tenant, manifest.first_seq, manifest.last_seq, manifest.count) == (
        tenant_id,
        2,
        5,
        4,
    )
    links = list(store.chain(tenant_id))
    assert manifest.first_prev_hash == links[0].hash and manifest.last_hash == links[4].hash
    assert store.checkpoints(tenant_id)[-1] == manifest.checkpoint  # kept and listed too


def _changed(line: bytes) -> bytes:
    return line.replace(b'"u', b'"U', 1)


def _manifest(lines: Lines, **changes: object) -> Lines:
    data = orjson.loads(lines[-1])
    data["manifest"].update(changes)
    return [*lines[:-1], orjson.dumps(data, option=orjson.OPT_SORT_KEYS) + b"\n"]


def _resigned(lines: Lines) -> Lines:
    """The whole file signed again — manifest and checkpoint — by someone else's key."""
    data = orjson.loads(lines[-1])["manifest"]
    other = Signer.generate()
    cp = other.checkpoint(data["tenant"], data["last_seq"], data["last_hash"], utcnow())
    manifest = sign_manifest(
        other,
        cp,
        first_seq=data["first_seq"],
        first_prev_hash=data["first_prev_hash"],
        now=utcnow(),
    )
    return [*lines[:-1], manifest.line() + b"\n"]


TAMPERING: list[tuple[str, Callable[[Lines], Lines], int, int | None, str]] = [
    ("a line changed", lambda f: [f[0], _changed(f[1]), *f[2:]], 2, 3, "line changed"),
    ("the last line changed", lambda f: [*f[:3], _changed(f[3]), f[4]], 4, 5, "signed last hash"),
    ("a line removed", lambda f: [f[0], *f[2:]], 2, 3, "seq 3 missing (line(s) removed)"),
    ("a line duplicated", lambda f: [f[0], f[1], f[1], *f[2:]], 3, 3, "duplicated line"),
    ("two lines reordered", lambda f: [f[0], f[2], f[1], *f[3:]], 2, 4, "lines reordered"),
    ("the tail cut", lambda f: [*f[:3], f[4]], 4, 5, "tail cut off"),
    ("the tail cut with the manifest", lambda f: f[:3], 4, None, "no manifest line"),
    ("the head cut", lambda f: f[1:], 1, 3, "lines removed from the start"),
    ("a line added after the manifest", lambda f: [*f, f[0]], 6, None, "follows the manifest"),
    (
        "the manifest changed",
        lambda f: _manifest(f, first_seq=3, count=3),
        5,
        None,
        "manifest signature does not verify",
    ),
    ("the manifest signed by another key", _resigned, 5, None, "signed by another key"),
]


@pytest.mark.parametrize(
    ("how", "tamper", "line", "seq", "reason"), TAMPERING, ids=[t[0] for t in TAMPERING]
)
def test_tampering_with_a_file_is_found_and_named(
    store: Store,
    catalog: Catalog,
    tenant_id: str,
    signer: Signer,
    how: str,
    tamper: Callable[[Lines], Lines],
    line: int,
    seq: int | None,
    reason: str,
) -> None:
    report = verify_file(tamper(exported(store, catalog, tenant_id, signer)), signer.public_key)
    assert report.problem is not None, how
    assert (report.problem.line, report.problem.seq) == (line, seq), report.problem
    assert reason in report.problem.reason, report.problem


def test_a_file_checked_with_another_key_is_refused(
    store: Store, catalog: Catalog, tenant_id: str, signer: Signer
) -> None:
    other = Signer.generate().public_key
    report = verify_file(exported(store, catalog, tenant_id, signer), other)
    assert report.problem is not None and "signed by another key" in report.problem.reason
    assert other.key_id in report.problem.reason and signer.key_id in report.problem.reason


def test_a_forged_checkpoint_in_the_manifest_is_found(
    store: Store, catalog: Catalog, tenant_id: str, signer: Signer
) -> None:
    lines = exported(store, catalog, tenant_id, signer)
    cp = orjson.loads(lines[-1])["manifest"]["checkpoint"]
    forged = _manifest(lines, checkpoint={**cp, "head_hash": "0" * 64})
    report = verify_file(forged, signer.public_key)
    assert report.problem is not None
    assert "manifest signature does not verify" in report.problem.reason
