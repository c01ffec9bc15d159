"""Checking what a receiver got: a set of delivered batches (webhook bodies, S3 objects, NATS
messages, kept as files) proved gap-free, in order and untampered with nothing but the public
key. No I/O here: the caller reads the files.

Each unfiltered batch is checked on its own as an export file is (its events chain, its signed
manifest and checkpoint at ``last_seq``); then each tenant's batches, duplicates (the same id)
set aside, must cover one run of seq with no gap, every batch's first event linking to the
hash of the event before it. A filtered batch carries only the events its filter let through:
its checkpoint is checked, but a gap cannot be told from an event filtered out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from kansa.integrity.files import verify_file
from kansa.integrity.signing import Checkpoint, PublicKey
from kansa.streaming.batches import BATCH_PREFIX, BATCH_TYPE


@dataclass(slots=True)
class Delivered:
    """One batch as read back: its proof fields, its event lines, its hash at each end."""

    name: str
    id: str
    tenant: str
    first_seq: int
    last_seq: int
    previous_last_seq: int
    filtered: bool
    first_prev_hash: str | None
    last_hash: str | None
    lines: int


@dataclass(slots=True)
class TenantProof:
    tenant: str
    first_seq: int
    last_seq: int
    batches: int
    events: int
    duplicates: int = 0
    filtered: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "batches": self.batches,
            "events": self.events,
            "duplicates": self.duplicates,
            "filtered": self.filtered,
        }


@dataclass(slots=True)
class FolderReport:
    tenants: list[TenantProof] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems and bool(self.tenants)


def is_batch(first_line: bytes) -> bool:
    return first_line.startswith(BATCH_PREFIX)


def read_batch(name: str, lines: list[bytes], key: PublicKey) -> Delivered | str:
    """One delivered batch checked on its own: the batch, or what is wrong with it."""
    if not lines or not is_batch(lines[0]):
        return f'{name}: not a kansa batch (its first line is not {{"batch": …}})'
    try:
        proof = orjson.loads(lines[0])["batch"]
        if proof.get("type") != BATCH_TYPE:
            return f"{name}: not a {BATCH_TYPE} batch"
        checkpoint = Checkpoint.from_dict(proof["checkpoint"])
        first, last = int(proof["first_seq"]), int(proof["last_seq"])
        previous, filtered = int(proof["previous_last_seq"]), bool(proof["filtered"])
        batch_id, tenant = str(proof["id"]), str(proof["tenant"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        return f"{name}: the batch line is not readable ({type(exc).__name__}: {exc})"
    if not key.checks(checkpoint):
        return f"{name}: the checkpoint's signature does not verify with key {key.key_id}"
    if (checkpoint.tenant, checkpoint.seq) != (tenant, last) or previous != first - 1:
        return f"{name}: the proof fields disagree with each other or with the checkpoint"
    if filtered:
        return Delivered(name, batch_id, tenant, first, last, previous, True, None, None, 0)
    report = verify_file(lines[1:], key)
    if not report.intact or report.manifest is None:
        return f"{name}: {report.problem}"
    manifest = report.manifest
    if (manifest.tenant, manifest.first_seq, manifest.last_seq) != (tenant, first, last):
        return f"{name}: the manifest covers another stretch than the batch line says"
    return Delivered(
        name,
        batch_id,
        tenant,
        first,
        last,
        previous,
        False,
        manifest.first_prev_hash,
        manifest.last_hash,
        report.lines,
    )


def prove(batches: Iterable[Delivered]) -> FolderReport:
    """Each tenant's batches, in order, must leave no gap and link up."""
    report = FolderReport()
    by_tenant: dict[str, dict[str, Delivered]] = {}
    duplicates: dict[str, int] = {}
    for batch in batches:
        seen = by_tenant.setdefault(batch.tenant, {})
        if batch.id in seen:
            duplicates[batch.tenant] = duplicates.get(batch.tenant, 0) + 1
            if (seen[batch.id].last_hash, seen[batch.id].lines) != (batch.last_hash, batch.lines):
                report.problems.append(f"{batch.name}: differs from {seen[batch.id].name}")
            continue
        seen[batch.id] = batch
    for tenant in sorted(by_tenant):
        ordered = sorted(by_tenant[tenant].values(), key=lambda b: (b.first_seq, b.last_seq))
        report.problems += _run_problems(ordered)
        report.tenants.append(
            TenantProof(
                tenant,
                ordered[0].first_seq,
                ordered[-1].last_seq,
                len(ordered),
                sum(b.lines for b in ordered),
                duplicates.get(tenant, 0),
                any(b.filtered for b in ordered),
            )
        )
    return report


def _run_problems(ordered: list[Delivered]) -> list[str]:
    """Walk the batches by first seq: each must begin at or before the seq after the end so
    far (a batch sent again after a rewind overlaps; each was proved on its own), and one that
    begins right after it must link to its hash."""
    problems: list[str] = []
    end, end_hash, end_name = ordered[0].last_seq, ordered[0].last_hash, ordered[0].name
    for batch in ordered[1:]:
        if batch.first_seq > end + 1:
            problems.append(
                f"tenant {batch.tenant}: seq {end + 1}-{batch.first_seq - 1} missing "
                f"(between {end_name} and {batch.name})"
            )
        elif batch.first_seq == end + 1 and None not in (batch.first_prev_hash, end_hash):
            if batch.first_prev_hash != end_hash:
                problems.append(
                    f"tenant {batch.tenant}: {batch.name} does not link to {end_name} (the "
                    f"prev_hash of seq {batch.first_seq} is not the hash of seq {end})"
                )
        if batch.last_seq > end:
            end, end_hash, end_name = batch.last_seq, batch.last_hash, batch.name
    return problems
