"""Delivery to NATS JetStream, against the server at 127.0.0.1:4222 (a stream of its own per
test, on a subject prefix of its own): every event arrives in order, a batch sent again under
its id is dropped by JetStream (``Nats-Msg-Id``), and the stream's copy verifies."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.errors import NoServersError

from kansa.catalog import Catalog
from kansa.integrity.signing import Signer
from kansa.store import Store
from kansa.streaming import manage
from kansa.streaming.destinations import parse_spec
from kansa.streaming.sealing import Sealer
from kansa.streaming.senders import probed
from kansa.streaming.worker import Deliverer
from tests.helpers import wait_for
from tests.streaming.conftest import Publish, verified

NATS_URL = "nats://127.0.0.1:4222"


async def _add_stream(name: str, prefix: str) -> None:
    client = await nats.connect(NATS_URL, connect_timeout=2)
    try:
        await client.jetstream().add_stream(name=name, subjects=[f"{prefix}.>"])
    finally:
        await client.close()


async def _delete_stream(name: str) -> None:
    client = await nats.connect(NATS_URL, connect_timeout=2)
    try:
        await client.jetstream().delete_stream(name)
    finally:
        await client.close()


async def _messages(name: str) -> list[tuple[str, bytes]]:
    """Every message the stream holds: its Nats-Msg-Id and its data, in stream order."""
    client = await nats.connect(NATS_URL, connect_timeout=2)
    try:
        manager = client.jetstream()
        info = await manager.stream_info(name)
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            message = await manager.get_msg(name, seq)
            found.append(((message.headers or {}).get("Nats-Msg-Id", ""), message.data or b""))
        return found
    finally:
        await client.close()


@pytest.fixture
def stream() -> Iterator[tuple[str, str]]:
    """A JetStream stream of its own, and the subject prefix it takes."""
    tag = uuid.uuid4().hex[:10]
    name, prefix = f"KANSA_TEST_{tag}", f"kansa-test-{tag}"
    try:
        asyncio.run(_add_stream(name, prefix))
    except (NoServersError, OSError) as exc:
        pytest.fail(f"no NATS server with JetStream at {NATS_URL}: {exc}")
    yield name, prefix
    asyncio.run(_delete_stream(name))


def test_every_event_arrives_once_per_id_in_order_and_verifies(
    fresh_store: Store,
    fresh_url: str,
    catalog: Catalog,
    signer: Signer,
    publish: Publish,
    stream: tuple[str, str],
    tmp_path: Path,
) -> None:
    name, prefix = stream
    publish("acme", 25)
    spec = parse_spec(
        {
            "name": "bus",
            "kind": "nats",
            "start": "beginning",
            "config": {"url": NATS_URL, "subject_prefix": prefix, "batch_size": 8},
        }
    )
    made = manage.add(fresh_store, signer, spec, "acme", secret_given=True).destination
    assert probed(made, Sealer(signer)) is None
    deliverer = Deliverer(fresh_store, catalog, signer)
    deliverer.start()
    try:
        publish("acme", 15)  # published while delivery runs
        wait_for(lambda: fresh_store.cursors(made.id)[0].delivered_seq == 40, timeout=30, what="40")
    finally:
        deliverer.stop()
    delivered = asyncio.run(_messages(name))
    manage.rewind(fresh_store, made.id, None, "acme", 0)  # everything again, same ids
    while deliverer.run_once().batches:
        pass
    deliverer.stop()
    again = asyncio.run(_messages(name))
    # Sent again: five batches of 8. The first three (1-8, 9-16, 17-24: the 25 events there
    # before delivery began) have their ids of the first time, and JetStream kept none of them
    # twice; later ones may be cut otherwise than the first time and come under new ids.
    assert again[: len(delivered)] == delivered
    assert len(again) - len(delivered) <= 2, "JetStream dropped batches sent again by their id"
    assert len({msg_id for msg_id, _ in again}) == len(again)
    ids = [msg_id for msg_id, _ in delivered]
    assert len(ids) == len(set(ids)) and ids[0] == f"{made.id}:acme:1-8"
    seqs = [
        int(line.split(b'"seq":')[1].rstrip(b"}"))
        for _, data in delivered
        for line in data.splitlines()
        if line.startswith(b'{"event"')
    ]
    assert seqs == list(range(1, 41))
    folder = tmp_path / "stream"
    folder.mkdir()
    for number, (_, data) in enumerate(delivered):
        (folder / f"{number}.jsonl").write_bytes(data)
    assert "tenant acme: seq 1-40" in verified(folder, fresh_url)


def test_a_subject_no_stream_takes_fails_and_the_cursor_waits(
    fresh_store: Store, catalog: Catalog, signer: Signer, publish: Publish
) -> None:
    publish("acme", 3)
    prefix = f"kansa-nostream-{uuid.uuid4().hex[:8]}"
    spec = parse_spec(
        {
            "name": "bus",
            "kind": "nats",
            "start": "beginning",
            "config": {"url": NATS_URL, "subject_prefix": prefix},
        }
    )
    made = manage.add(fresh_store, signer, spec, "acme", secret_given=True).destination
    assert "no JetStream stream" in (probed(made, Sealer(signer)) or "")
    done = Deliverer(fresh_store, catalog, signer)
    try:
        assert done.run_once().failures == 1
    finally:
        done.stop()
    (cursor,) = fresh_store.cursors(made.id)
    assert cursor.delivered_seq == 0 and cursor.failures == 1
    assert "JetStream did not take the batch" in (cursor.last_error or "")
