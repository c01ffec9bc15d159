"""Delivery as OTLP/HTTP logs, against an HTTP receiver in the test that decodes each request
with opentelemetry-proto: one log record per event, ``event.name`` its action, in seq order,
and the bodies in order are the batch document, which verifies with ``kansa verify``."""

from __future__ import annotations

from pathlib import Path

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
from tests.streaming.receivers import OtlpReceiver, http_receiver


def test_each_event_is_a_log_record_named_by_its_action_and_the_copy_verifies(
    fresh_store: Store,
    fresh_url: str,
    catalog: Catalog,
    signer: Signer,
    publish: Publish,
    tmp_path: Path,
) -> None:
    publish("acme", 15)
    receiver = OtlpReceiver()
    with http_receiver(receiver.handle) as port:
        receiver.port = port
        spec = parse_spec(
            {
                "name": "collector",
                "kind": "otlp",
                "start": "beginning",
                "config": {"url": receiver.url, "batch_size": 7},
            }
        )
        made = manage.add(fresh_store, signer, spec, "acme", secret_given=True).destination
        assert probed(made, Sealer(signer)) is None
        deliverer = Deliverer(fresh_store, catalog, signer)
        deliverer.start()
        try:
            publish("acme", 6)  # published while delivery runs
            wait_for(
                lambda: fresh_store.cursors(made.id)[0].delivered_seq == 21, timeout=30, what="21"
            )
        finally:
            deliverer.stop()
    batches = [r for r in receiver.requests if r.resource_logs]  # the probe sent an empty one
    folder = tmp_path / "otlp"
    folder.mkdir()
    seqs = []
    for number, request in enumerate(batches):
        (resource,) = request.resource_logs
        records = resource.scope_logs[0].log_records
        names = [r.event_name for r in records]
        assert names[0] == "kansa.batch" and names[-1] == "kansa.manifest"
        for record in records[1:-1]:
            attributes = {a.key: a.value for a in record.attributes}
            assert attributes["event.name"].string_value == record.event_name == "user.create"
            assert record.severity_text == "INFO" and record.time_unix_nano > 0
            seqs.append(attributes["kansa.seq"].int_value)
        body = "".join(r.body.string_value + "\n" for r in records)
        (folder / f"{number}.jsonl").write_text(body, encoding="utf-8")
    assert seqs == list(range(1, 22))
    assert "tenant acme: seq 1-21" in verified(folder, fresh_url)
