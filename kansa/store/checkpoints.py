"""SQL and row shapes the engines share for checkpoints, retention and purges."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from kansa.integrity.signing import Checkpoint
from kansa.store.schema import CHECKPOINT_ROW
from kansa.timeutil import from_micros, iso_utc, parse_iso, to_micros

CHECKPOINT_COLUMNS = ", ".join(CHECKPOINT_ROW)


def checkpoint_row(checkpoint: Checkpoint) -> tuple[Any, ...]:
    return (
        checkpoint.tenant,
        checkpoint.seq,
        checkpoint.head_hash,
        to_micros(parse_iso(checkpoint.signed_at)),
        checkpoint.key_id,
        checkpoint.signature,
    )


def checkpoint_of(row: Sequence[Any]) -> Checkpoint:
    return Checkpoint(
        tenant=row[0],
        seq=int(row[1]),
        head_hash=row[2],
        signed_at=iso_utc(from_micros(row[3])),
        key_id=row[4],
        signature=row[5],
    )


def add_checkpoint_statements(
    checkpoint: Checkpoint, mark: str
) -> list[tuple[str, tuple[Any, ...]]]:
    """The statements that keep ``checkpoint`` (one already at that seq stays) and move the
    tenant's newest-checkpoint mark forward; the last one reads back what is kept."""
    row = checkpoint_row(checkpoint)
    values = ", ".join([mark] * len(row))
    return [
        (
            f"INSERT INTO checkpoints ({CHECKPOINT_COLUMNS}) VALUES ({values})"
            " ON CONFLICT (tenant_id, seq) DO NOTHING",
            row,
        ),
        (
            f"UPDATE tenants SET checkpoint_seq = {mark}, checkpoint_at = {mark}"
            f" WHERE id = {mark} AND checkpoint_seq < {mark}",
            (checkpoint.seq, row[3], checkpoint.tenant, checkpoint.seq),
        ),
        (
            f"SELECT {CHECKPOINT_COLUMNS} FROM checkpoints"
            f" WHERE tenant_id = {mark} AND seq = {mark}",
            (checkpoint.tenant, checkpoint.seq),
        ),
    ]


def checkpoints_query(
    tenant_id: str, mark: str, before: int | None, limit: int | None, newest_first: bool
) -> tuple[str, list[Any]]:
    text = f"SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE tenant_id = {mark}"
    params: list[Any] = [tenant_id]
    if before is not None:
        text += f" AND seq < {mark}"
        params.append(before)
    text += " ORDER BY seq DESC" if newest_first else " ORDER BY seq"
    if limit is not None:
        text += f" LIMIT {mark}"
        params.append(limit)
    return text, params


def retention_text(days: Mapping[str, int]) -> str | None:
    return orjson.dumps(dict(sorted(days.items()))).decode() if days else None


def retention_of(text: str | None) -> dict[str, int]:
    return {str(k): int(v) for k, v in orjson.loads(text).items()} if text else {}
