"""An exported JSON Lines file and its manifest, checked offline.

The file holds, one per line, the exact bytes kansa stored and hashed for each event of a
contiguous run of one tenant's chain (``{"event":…,"prev_hash":…,"seq":…}``), in sequence
order, and ends with one manifest line::

    {"manifest":{"checkpoint":{…},"count":3,"first_prev_hash":"…","first_seq":18,
     "key_id":"…","last_hash":"…","last_seq":20,"signature":"…","signed_at":"…",
     "tenant":"org-42","type":"kansa.manifest.v1"}}

A pruned event (its content removed by the retention purge or an erasure) is a line of its
own, ``{"pruned":{"commitment":"<hex>","reason":"retention","tenant":"org-42"},"prev_hash":…,
"seq":…}``: its hash is not the line's SHA-256 but the one its commitment gives with its
``prev_hash`` and ``seq`` (:mod:`kansa.integrity.commitment`), so the link is proved all
the same.

The manifest is signed (Ed25519, over its canonical JSON without ``signature``) and carries
the signed checkpoint of the chain at ``last_seq``. :func:`verify_file` needs nothing but the
lines and the public key: no network, no database. No I/O here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from kansa.integrity.commitment import Commitment, resume
from kansa.integrity.signing import Checkpoint, PublicKey, Signer, canonical
from kansa.timeutil import iso_utc

MANIFEST_TYPE = "kansa.manifest.v1"
MANIFEST_PREFIX = b'{"manifest":'


@dataclass(frozen=True, slots=True)
class Manifest:
    """What an export holds — tenant, seq range, count, the hashes at both ends — and the
    checkpoint at its last event, all signed."""

    tenant: str
    first_seq: int
    last_seq: int
    count: int
    first_prev_hash: str
    last_hash: str
    checkpoint: Checkpoint
    signed_at: str
    key_id: str
    signature: str = ""

    def statement(self) -> dict[str, Any]:
        return {
            "type": MANIFEST_TYPE,
            "tenant": self.tenant,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "count": self.count,
            "first_prev_hash": self.first_prev_hash,
            "last_hash": self.last_hash,
            "checkpoint": self.checkpoint.as_dict(),
            "signed_at": self.signed_at,
            "key_id": self.key_id,
        }

    def payload(self) -> bytes:
        return canonical(self.statement())

    def line(self) -> bytes:
        """The manifest line (no line break)."""
        return b'{"manifest":%b}' % canonical({**self.statement(), "signature": self.signature})

    @classmethod
    def from_line(cls, line: bytes) -> Manifest:
        """Read a manifest line; ValueError naming what is wrong."""
        try:
            data = orjson.loads(line)["manifest"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise ValueError('the manifest line is not JSON of the form {"manifest": …}') from None
        if not isinstance(data, Mapping) or data.get("type") != MANIFEST_TYPE:
            raise ValueError(f"the manifest is not a {MANIFEST_TYPE} statement")
        try:
            manifest = cls(
                tenant=data["tenant"],
                first_seq=data["first_seq"],
                last_seq=data["last_seq"],
                count=data["count"],
                first_prev_hash=data["first_prev_hash"],
                last_hash=data["last_hash"],
                checkpoint=Checkpoint.from_dict(data["checkpoint"]),
                signed_at=data["signed_at"],
                key_id=data["key_id"],
                signature=data["signature"],
            )
        except KeyError as exc:
            raise ValueError(f"the manifest lacks {exc.args[0]!r}") from None
        numbers = (manifest.first_seq, manifest.last_seq, manifest.count)
        if not all(isinstance(n, int) for n in numbers):
            raise ValueError("the manifest's first_seq, last_seq and count must be integers")
        return manifest


def sign_manifest(
    signer: Signer,
    checkpoint: Checkpoint,
    *,
    first_seq: int,
    first_prev_hash: str,
    now: datetime,
) -> Manifest:
    """The signed manifest of the run ``first_seq``…``checkpoint.seq`` of a tenant's chain."""
    unsigned = Manifest(
        tenant=checkpoint.tenant,
        first_seq=first_seq,
        last_seq=checkpoint.seq,
        count=checkpoint.seq - first_seq + 1,
        first_prev_hash=first_prev_hash,
        last_hash=checkpoint.head_hash,
        checkpoint=checkpoint,
        signed_at=iso_utc(now),
        key_id=signer.key_id,
    )
    return Manifest(**{**_fields(unsigned), "signature": signer.sign(unsigned.payload())})


def _fields(manifest: Manifest) -> dict[str, Any]:
    return {name: getattr(manifest, name) for name in Manifest.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class FileProblem:
    """The first thing wrong with a file: the line (1-based) and, where known, the seq."""

    line: int
    seq: int | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f" (seq {self.seq})" if self.seq is not None else "")
        return f"{where}: {self.reason}"


@dataclass(slots=True)
class FileReport:
    """The outcome of checking one file."""

    lines: int = 0
    """Event lines read."""
    manifest: Manifest | None = None
    problem: FileProblem | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


@dataclass(slots=True)
class _Previous:
    seq: int
    hash: str
    body: bytes


@dataclass(slots=True)
class _Walk:
    """The event lines read so far. A gap in seq is held back one line: if the next line
    holds the missing seq, the lines were reordered rather than removed."""

    previous: _Previous | None = None
    first: tuple[int, str] | None = None
    tenant: str | None = None
    count: int = 0
    gap: FileProblem | None = None

    def feed(self, number: int, line: bytes) -> FileProblem | None:
        event = _event_line(line, number)
        if isinstance(event, FileProblem):
            return self.gap or event
        seq, prev_hash, tenant, hashed = event
        if self.gap is not None:
            return self._moved(seq)
        here = _Previous(seq, hashed, line)
        if self.previous is not None and seq > self.previous.seq + 1:
            missing = f"{self.previous.seq + 1}" + (
                f"-{seq - 1}" if seq > self.previous.seq + 2 else ""
            )
            self.gap = FileProblem(
                number, self.previous.seq + 1, f"seq {missing} missing (line(s) removed)"
            )
            self.previous = here
            return None
        self.tenant = self.tenant or tenant
        problem = _link_problem(number, seq, prev_hash, line, self.previous)
        if problem is None and tenant != self.tenant:
            problem = FileProblem(
                number, seq, f"an event of tenant {tenant!r}, not {self.tenant!r}"
            )
        if problem is not None:
            return problem
        self.first = self.first or (seq, prev_hash)
        self.previous = here
        self.count += 1
        return None

    def _moved(self, seq: int) -> FileProblem:
        assert self.gap is not None and self.previous is not None
        if seq < self.previous.seq:
            return FileProblem(
                self.gap.line,
                self.previous.seq,
                f"seq {self.previous.seq} comes before seq {seq} (lines reordered)",
            )
        return self.gap


def verify_file(lines: Iterable[bytes], public_key: PublicKey | Sequence[PublicKey]) -> FileReport:
    """Check an exported file line by line, then against its manifest; stop at the first
    problem. Each item of ``lines`` is one line, with or without its line break. With
    several keys (a key and those a rotation replaced), the manifest and its checkpoint are
    each checked with the key of their own key id: a file whose last event was signed before
    a rotation carries the old key's checkpoint under the new key's manifest."""
    report = FileReport()
    walk = _Walk()
    number = 0
    for number, raw in enumerate(lines, start=1):
        line = raw[:-1] if raw.endswith(b"\n") else raw
        if report.manifest is not None:
            report.problem = walk.gap or FileProblem(number, None, "a line follows the manifest")
            return report
        if line.startswith(MANIFEST_PREFIX):
            try:
                report.manifest = Manifest.from_line(line)
            except ValueError as exc:
                report.problem = walk.gap or FileProblem(number, None, str(exc))
                return report
            continue
        report.problem = walk.feed(number, line)
        if report.problem is not None:
            return report
    report.lines = walk.count
    keys = [public_key] if isinstance(public_key, PublicKey) else list(public_key)
    report.problem = walk.gap or _manifest_problem(report, number, walk, keys)
    return report


def pruned_line(seq: int, prev_hash: str, tenant: str, reason: str, commitment: bytes) -> bytes:
    """The line of a pruned event."""
    kept = {"commitment": commitment.hex(), "reason": reason, "tenant": tenant}
    return canonical({"pruned": kept, "prev_hash": prev_hash, "seq": seq})


def _event_line(line: bytes, number: int) -> tuple[int, str, str | None, str] | FileProblem:
    """The seq, prev_hash, tenant and hash of an event line."""
    try:
        envelope = orjson.loads(line)
    except orjson.JSONDecodeError:
        return FileProblem(number, None, "not a JSON line")
    if isinstance(envelope, dict) and set(envelope) == {"pruned", "prev_hash", "seq"}:
        return _pruned_line(envelope, number)
    if not isinstance(envelope, dict) or set(envelope) != {"event", "prev_hash", "seq"}:
        return FileProblem(number, None, "not an event line (event, prev_hash, seq)")
    seq, prev_hash, event = envelope["seq"], envelope["prev_hash"], envelope["event"]
    if not isinstance(seq, int) or not isinstance(prev_hash, str) or not isinstance(event, dict):
        return FileProblem(number, None, "not an event line (event, prev_hash, seq)")
    owner = event.get("tenant")
    tenant = owner.get("id") if isinstance(owner, dict) else None
    return seq, prev_hash, tenant, hashlib.sha256(line).hexdigest()


def _pruned_line(
    envelope: Mapping[str, Any], number: int
) -> tuple[int, str, str | None, str] | FileProblem:
    seq, prev_hash, kept = envelope["seq"], envelope["prev_hash"], envelope["pruned"]
    wrong = FileProblem(number, None, "not a pruned event line (pruned, prev_hash, seq)")
    if not isinstance(seq, int) or not isinstance(prev_hash, str) or not isinstance(kept, dict):
        return wrong
    try:
        commitment = Commitment.from_bytes(bytes.fromhex(str(kept.get("commitment"))))
        hashed = resume(commitment, prev_hash, seq)
    except (ValueError, UnicodeEncodeError):
        return wrong
    tenant = kept.get("tenant")
    return seq, prev_hash, tenant if isinstance(tenant, str) else None, hashed


def _link_problem(
    number: int, seq: int, prev_hash: str, line: bytes, previous: _Previous | None
) -> FileProblem | None:
    if previous is None:
        return None
    if seq == previous.seq:
        what = "is the line before it again" if line == previous.body else "appears again"
        return FileProblem(number, seq, f"seq {seq} {what} (duplicated line)")
    if seq < previous.seq:
        return FileProblem(
            number, seq, f"seq {seq} comes after seq {previous.seq} (lines reordered)"
        )
    if prev_hash != previous.hash:
        return FileProblem(
            number - 1,
            previous.seq,
            f"line changed: its SHA-256 is not the prev_hash of the next line (seq {seq})",
        )
    return None


def _manifest_problem(
    report: FileReport, lines: int, walk: _Walk, keys: Sequence[PublicKey]
) -> FileProblem | None:
    manifest = report.manifest
    if manifest is None:
        return FileProblem(lines + 1, None, "no manifest line at the end (file cut off?)")
    by_id = {k.key_id: k for k in keys}
    key = by_id.get(manifest.key_id)
    if key is None:
        return FileProblem(
            lines,
            None,
            f"manifest signed by another key (key id {manifest.key_id}; "
            f"the given key is {', '.join(by_id)})",
        )
    if not key.verifies(manifest.payload(), manifest.signature):
        return FileProblem(lines, None, "manifest signature does not verify (manifest changed)")
    cp = manifest.checkpoint
    cp_key = by_id.get(cp.key_id)
    if cp_key is None or not cp_key.checks(cp):
        return FileProblem(lines, None, "the manifest's checkpoint signature does not verify")
    if (cp.tenant, cp.seq, cp.head_hash) != (
        manifest.tenant,
        manifest.last_seq,
        manifest.last_hash,
    ):
        return FileProblem(lines, None, "the checkpoint is not at the manifest's last event")
    return _range_problem(manifest, walk)


def _range_problem(manifest: Manifest, walk: _Walk) -> FileProblem | None:
    first, last, count = walk.first, walk.previous, walk.count
    if first is None or last is None:
        return FileProblem(1, manifest.first_seq, "no event lines (all removed)")
    if walk.tenant != manifest.tenant:
        return FileProblem(
            1, first[0], f"events of tenant {walk.tenant!r}; the manifest names {manifest.tenant!r}"
        )
    if first != (manifest.first_seq, manifest.first_prev_hash):
        return FileProblem(
            1,
            first[0],
            f"the file begins at seq {first[0]} but the manifest at seq {manifest.first_seq} "
            "(lines removed from the start, or the first line changed)",
        )
    if last.seq < manifest.last_seq:
        return FileProblem(
            count + 1,
            last.seq + 1,
            f"the file ends at seq {last.seq} but the manifest at seq {manifest.last_seq} "
            "(tail cut off)",
        )
    if last.seq > manifest.last_seq:
        return FileProblem(count, last.seq, f"seq {last.seq} is beyond the manifest (line added)")
    if last.hash != manifest.last_hash:
        return FileProblem(count, last.seq, "line changed: its SHA-256 is not the signed last hash")
    if count != manifest.count:
        return FileProblem(count, last.seq, f"{count} lines; the manifest says {manifest.count}")
    return None
