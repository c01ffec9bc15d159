"""Delivery to Splunk's HTTP Event Collector, against an HTTP receiver in the test that answers
as HEC does, with indexer acknowledgement (Splunk itself cannot run here): every event arrives
in order in HEC's envelopes, a batch counts as delivered only once HEC says it is indexed, and
the receiver's copy, rebuilt into batch documents, verifies with ``kansa verify``."""

from __future__ import annotations

from pathlib import Path

import pytest

from kansa.catalog import Catalog
from kansa.errors import InvalidInput
from kansa.integrity.signing import Signer
from kansa.store import Store
from kansa.streaming import manage
from kansa.streaming.batches import rebuild
from kansa.streaming.destinations import parse_spec
from kansa.streaming.sealing import Sealer
from kansa.streaming.senders import hec, probed
from kansa.streaming.worker import Deliverer
from tests.helpers import wait_for
from tests.streaming.conftest import Publish, verified
from tests.streaming.receivers import HecReceiver, http_receiver

TOKEN = "0c5d2c3e-kansa-test-hec-token"


def _add(store: Store, signer: Signer, receiver: HecReceiver) -> str:
    spec = parse_spec(
        {
            "name": "splunk",
            "kind": "hec",
            "start": "beginning",
            "config": {"url": receiver.url, "ack": True, "index": "audit", "batch_size": 9},
            "secret": TOKEN,
        }
    )
    made = manage.add(store, signer, spec, "acme", secret_given=True).destination
    assert probed(made, Sealer(signer)) is None
    return made.id


def test_every_event_is_indexed_in_order_and_the_copy_verifies(
    fresh_store: Store,
    fresh_url: str,
    catalog: Catalog,
    signer: Signer,
    publish: Publish,
    tmp_path: Path,
) -> None:
    publish("acme", 20)
    receiver = HecReceiver(TOKEN)
    with http_receiver(receiver.handle) as port:
        receiver.port = port
        destination = _add(fresh_store, signer, receiver)
        deliverer = Deliverer(fresh_store, catalog, signer)
        deliverer.start()
        try:
            publish("acme", 10)  # published while delivery runs
            wait_for(
                lambda: fresh_store.cursors(destination)[0].delivered_seq == 30,
                timeout=30,
                what="30 events indexed",
            )
        finally:
            deliverer.stop()
    assert all(receiver.polls[n] >= 2 for n in range(1, len(receiver.requests) + 1))
    folder = tmp_path / "splunk"
    folder.mkdir()
    seqs = []
    for number, envelopes in enumerate(receiver.requests):
        proof, *events = envelopes
        assert proof["sourcetype"] == "kansa:event:batch" and proof["index"] == "audit"
        assert all(e["fields"]["kansa_batch"] == proof["event"]["id"] for e in events)
        seqs += [e["event"]["seq"] for e in events]
        document = rebuild(proof["event"], [e["event"] for e in events])
        (folder / f"{number}.jsonl").write_bytes(document)
    assert seqs == list(range(1, 31))
    assert "tenant acme: seq 1-30" in verified(folder, fresh_url)


def test_a_batch_never_indexed_is_not_delivered(
    fresh_store: Store,
    catalog: Catalog,
    signer: Signer,
    publish: Publish,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hec, "ACK_SECONDS", 1.0)
    monkeypatch.setattr(hec, "ACK_POLL", 0.1)
    publish("acme", 3)
    receiver = HecReceiver(TOKEN, never_index=True)
    with http_receiver(receiver.handle) as port:
        receiver.port = port
        destination = _add(fresh_store, signer, receiver)
        deliverer = Deliverer(fresh_store, catalog, signer)
        try:
            assert deliverer.run_once().failures == 1
        finally:
            deliverer.stop()
    (cursor,) = fresh_store.cursors(destination)
    assert cursor.delivered_seq == 0 and "did not confirm" in (cursor.last_error or "")
    assert receiver.requests, "the batch was sent"


def test_a_hec_destination_needs_its_token() -> None:
    with pytest.raises(InvalidInput, match="required for hec"):
        parse_spec({"name": "s", "kind": "hec", "config": {"url": "https://splunk:8088"}})
