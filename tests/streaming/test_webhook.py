"""Delivery to a webhook, against a real HTTP receiver that checks every signature with the
``standardwebhooks`` package: every event arrives, in order, once per delivery id, and the
receiver's copy verifies with ``kansa verify``; a receiver that keeps failing degrades the
destination (recorded in the tenant's own log) and its return recovers it, nothing skipped."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from kansa.catalog import Catalog
from kansa.cli import app
from kansa.integrity.signing import Signer
from kansa.store import Store
from kansa.streaming import manage
from kansa.streaming.destinations import parse_spec, webhook_secret
from kansa.streaming.worker import Deliverer
from kansa.timeutil import utcnow
from tests.helpers import wait_for
from tests.streaming.conftest import Publish, verified
from tests.streaming.receivers import WebhookReceiver, webhook_receiver


def add_webhook(
    store: Store, signer: Signer, receiver: WebhookReceiver, tenant: str | None, **more: object
) -> str:
    spec = parse_spec(
        {
            "name": "siem",
            "kind": "webhook",
            "config": {"url": receiver.url, "batch_size": 7, **more},
            "secret": receiver.secret,
            "start": "beginning",
        }
    )
    return manage.add(store, signer, spec, tenant, secret_given=True).destination.id


def test_every_event_arrives_in_order_once_per_id_and_verifies(
    fresh_store: Store,
    fresh_url: str,
    catalog: Catalog,
    signer: Signer,
    publish: Publish,
    tmp_path: Path,
) -> None:
    publish("acme", 30)
    with webhook_receiver(webhook_secret()) as receiver:
        add_webhook(fresh_store, signer, receiver, "acme")
        deliverer = Deliverer(fresh_store, catalog, signer)
        deliverer.start()
        try:
            for _ in range(5):  # published while delivery runs
                publish("acme", 6)
            wait_for(lambda: len(receiver.seqs("acme")) == 60, timeout=30, what="60 events")
        finally:
            deliverer.stop()
    assert receiver.seqs("acme") == list(range(1, 61))
    assert len(receiver.ids()) == len(set(receiver.ids()))
    assert receiver.bad_signatures == 0
    proofs = [r.proof for r in receiver.received]
    assert [p["previous_last_seq"] for p in proofs] == [0, *(p["last_seq"] for p in proofs[:-1])]
    folder = receiver.save(tmp_path / "received")
    assert "tenant acme: seq 1-60" in verified(folder, fresh_url)


def test_a_changed_or_missing_batch_fails_verify(
    fresh_store: Store,
    fresh_url: str,
    catalog: Catalog,
    signer: Signer,
    publish: Publish,
    tmp_path: Path,
) -> None:
    publish("acme", 21)
    with webhook_receiver(webhook_secret()) as receiver:
        add_webhook(fresh_store, signer, receiver, "acme")
        deliverer = Deliverer(fresh_store, catalog, signer)
        while deliverer.run_once().batches:
            pass
    folder = receiver.save(tmp_path / "received")
    files = sorted(folder.iterdir())
    assert len(files) == 3
    middle = files[1].read_bytes()
    files[1].unlink()
    gap = CliRunner().invoke(app, ["verify", str(folder), "--db", fresh_url])
    assert gap.exit_code == 1 and "seq 8-14 missing" in gap.output
    files[1].write_bytes(middle.replace(b"jiro", b"saburo", 1))
    changed = CliRunner().invoke(app, ["verify", str(folder), "--db", fresh_url])
    assert changed.exit_code == 1 and "line changed" in changed.output, changed.output


def test_a_failing_receiver_degrades_then_recovers_and_nothing_is_skipped(
    fresh_store: Store, catalog: Catalog, signer: Signer, publish: Publish
) -> None:
    publish("acme", 10)
    moment = [utcnow()]
    with webhook_receiver(webhook_secret()) as receiver:
        destination = add_webhook(fresh_store, signer, receiver, "acme")
        deliverer = Deliverer(
            fresh_store, catalog, signer, clock=lambda: moment[0], draw=lambda: 0.0
        )
        receiver.fail = True
        for _ in range(6):
            deliverer.run_once()
            moment[0] += timedelta(minutes=10)  # past every back-off
        (cursor,) = fresh_store.cursors(destination)
        assert cursor.delivered_seq == 0 and cursor.degraded and cursor.failures == 6
        assert "503" in (cursor.last_error or "")
        receiver.fail = False
        while deliverer.run_once().batches:
            moment[0] += timedelta(minutes=10)
    own = [x.columns["action"] for x in fresh_store.chain("acme") if x.columns["app"] == "kansa"]
    assert sorted(own) == ["stream.degraded", "stream.recovered"]
    head = fresh_store.get_tenant("acme")
    assert head is not None
    assert receiver.seqs("acme") == list(range(1, head.last_seq + 1))
    (cursor,) = fresh_store.cursors(destination)
    assert not cursor.degraded and cursor.delivered_seq == head.last_seq


def test_a_lost_answer_sends_the_same_stretch_under_the_same_id(
    fresh_store: Store, catalog: Catalog, signer: Signer, publish: Publish
) -> None:
    publish("acme", 5)
    moment = [utcnow()]
    with webhook_receiver(webhook_secret()) as receiver:
        add_webhook(fresh_store, signer, receiver, "acme")
        deliverer = Deliverer(fresh_store, catalog, signer, clock=lambda: moment[0])
        receiver.lose_answers = True  # taken, but the answer never reaches kansa
        deliverer.run_once()
        publish("acme", 5)  # the retry must not grow the stretch
        receiver.lose_answers = False
        moment[0] += timedelta(minutes=10)
        deliverer.run_once()
    first, again = receiver.received[:2]
    assert first.id == again.id == f"{again.proof['id']}"
    assert first.seqs() == again.seqs() == [1, 2, 3, 4, 5]


def test_two_workers_never_deliver_one_stretch_twice(
    fresh_store: Store, catalog: Catalog, signer: Signer, publish: Publish
) -> None:
    tenants = [f"org-{n}" for n in range(6)]
    for tenant in tenants:
        publish(tenant, 40)
    with webhook_receiver(webhook_secret()) as receiver:
        add_webhook(fresh_store, signer, receiver, None)  # the operator's: every tenant
        workers = [Deliverer(fresh_store, catalog, signer) for _ in range(2)]

        def drain(worker: Deliverer) -> None:
            while worker.run_once().batches:
                pass

        threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for worker in workers:  # whatever one left for the other's lease
            drain(worker)
    assert len(receiver.ids()) == len(set(receiver.ids()))
    for tenant in tenants:
        assert receiver.seqs(tenant) == list(range(1, 41))


def test_a_filter_delivers_only_what_it_lets_through_and_says_so(
    fresh_store: Store,
    fresh_url: str,
    catalog: Catalog,
    signer: Signer,
    publish: Publish,
    tmp_path: Path,
) -> None:
    publish("acme", 10)  # user.create, level info
    with webhook_receiver(webhook_secret()) as receiver:
        spec = parse_spec(
            {
                "name": "important-only",
                "kind": "webhook",
                "start": "beginning",
                "config": {"url": receiver.url, "batch_size": 4},
                "secret": receiver.secret,
                "filter": {"action_prefixes": ["user."], "results": ["failure"]},
            }
        )
        made = manage.add(fresh_store, signer, spec, "acme", secret_given=True).destination
        deliverer = Deliverer(fresh_store, catalog, signer)
        while deliverer.run_once().batches:
            pass
        assert receiver.received == [], "nothing matched: nothing is sent"
        assert fresh_store.cursors(made.id)[0].delivered_seq == 10, "yet the cursor moved on"
        manage.pause(fresh_store, made.id, None, True)
    with webhook_receiver(webhook_secret()) as receiver:
        spec = parse_spec(
            {
                "name": "creations",
                "kind": "webhook",
                "start": "beginning",
                "config": {"url": receiver.url, "batch_size": 4},
                "secret": receiver.secret,
                "filter": {"action_prefixes": ["user.cre"], "levels": ["info"]},
            }
        )
        manage.add(fresh_store, signer, spec, "acme", secret_given=True)
        while deliverer.run_once().batches:
            pass
    filtered = receiver.received
    assert all(r.proof["filtered"] for r in filtered)
    assert [s for r in filtered for s in r.seqs()] == list(range(1, 11))
    assert all(b"manifest" not in r.body for r in filtered)
    folder = tmp_path / "filtered"
    folder.mkdir()
    for number, received in enumerate(filtered):
        (folder / f"{number}.jsonl").write_bytes(received.body)
    assert "filtered: gaps cannot be told from events left out" in verified(folder, fresh_url)
