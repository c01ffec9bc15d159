"""One delivery: a stretch of one tenant's chain and the proof that goes with it. No I/O here.

A batch covers seq ``first_seq``…``last_seq`` of a tenant (every seq after the cursor, up to
the batch's size) and carries the events of that stretch its destination's filter lets
through. Delivered as a document it reads, in JSON Lines::

    {"batch":{"type":"kansa.batch.v1","id":…,"tenant":…,"first_seq":…,"last_seq":…,
              "previous_last_seq":…,"count":…,"filtered":false,"checkpoint":{…}}}
    <each event exactly as kansa stored and hashed it: {"event":…,"prev_hash":…,"seq":…}>
    {"manifest":{…}}        (the signed manifest of an export; unfiltered batches only)

so that, after the first line, an unfiltered batch *is* an export file (``kansa verify`` checks
it alone), and a run of batches links up: each batch's first event names the hash of the
previous batch's last (``previous_last_seq``). The checkpoint is the signed one at
``last_seq``. The id — destination, tenant and stretch — is the same on every retry, so a
receiver drops a batch it has already taken by its id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from kansa.integrity.chain import StoredLink
from kansa.integrity.signing import Checkpoint, canonical

BATCH_TYPE = "kansa.batch.v1"
BATCH_PREFIX = b'{"batch":'


def delivery_id(destination: str, tenant: str, first_seq: int, last_seq: int) -> str:
    """The id of the delivery of seq ``first_seq``…``last_seq``: stable across retries."""
    return f"{destination}:{tenant}:{first_seq}-{last_seq}"


@dataclass(frozen=True, slots=True)
class Batch:
    destination: str
    tenant: str
    first_seq: int
    last_seq: int
    previous_last_seq: int
    links: Sequence[StoredLink]
    """The events of the stretch the filter lets through, in seq order."""
    filtered: bool
    checkpoint: Checkpoint
    manifest: bytes | None
    """The signed manifest line (unfiltered batches only)."""

    @property
    def id(self) -> str:
        return delivery_id(self.destination, self.tenant, self.first_seq, self.last_seq)

    def proof(self) -> dict[str, Any]:
        """The proof fields every delivery carries, whatever its kind."""
        return {
            "type": BATCH_TYPE,
            "id": self.id,
            "tenant": self.tenant,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "previous_last_seq": self.previous_last_seq,
            "count": len(self.links),
            "filtered": self.filtered,
            "checkpoint": self.checkpoint.as_dict(),
        }

    def header(self) -> bytes:
        return b'{"batch":%b}' % canonical(self.proof())

    def document(self) -> bytes:
        """The batch as JSON Lines: header, events, manifest; each line ends with ``\\n``."""
        lines = [self.header(), *(link.body for link in self.links)]
        if self.manifest is not None:
            lines.append(self.manifest)
        return b"".join(line + b"\n" for line in lines)

    def proof_record(self) -> dict[str, Any]:
        """The proof fields and the signed manifest (or None) as one JSON object: what the
        kinds that send events one by one send first (see :func:`rebuild`)."""
        manifest = orjson.loads(self.manifest)["manifest"] if self.manifest else None
        return {**self.proof(), "manifest": manifest}

    def records(self) -> list[dict[str, Any]]:
        """One record per event for the kinds that send events one by one: the stored event
        with its seq, hash and prev_hash, and the batch's id."""
        return [
            {
                **orjson.loads(link.body),
                "hash": link.hash,
                "batch": self.id,
            }
            for link in self.links
        ]


def rebuild(proof_record: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> bytes:
    """The batch document again from what a kind that sends events one by one delivered: its
    :meth:`Batch.proof_record` and each event's ``event``, ``prev_hash`` and ``seq``. kansa's
    stored lines are canonical JSON, so writing them canonically again gives the very bytes
    that were hashed (as long as the receiver kept every value as it came)."""
    proof = {k: v for k, v in proof_record.items() if k != "manifest"}
    lines = [canonical({"batch": proof})]
    lines += [canonical({k: e[k] for k in ("event", "prev_hash", "seq")}) for e in events]
    if proof_record.get("manifest") is not None:
        lines.append(canonical({"manifest": proof_record["manifest"]}))
    return b"".join(line + b"\n" for line in lines)
