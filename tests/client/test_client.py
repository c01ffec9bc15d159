"""The publisher's client against a real kansa over real HTTP, on both engines: batches,
idempotent resends, the spool across a restart, 4xx isolated and never retried, 5xx, 429
and network errors retried, flush with a deadline."""

from __future__ import annotations

import inspect
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from kansa.client import Client, ClientClosed, Stats
from kansa.client.sender import SUSPECT_AFTER
from tests.client.gate import Gate
from tests.helpers import ROOT, pca_event, stored_ids, wait_for
from tests.net import free_port

FAST: dict[str, Any] = {"backoff_base": 0.05, "backoff_max": 0.2}


def test_publish_returns_at_once_and_a_batch_goes_out_when_full(
    gate: Gate, key: str, tenant_id: str, store_url: str, tmp_path: Path
) -> None:
    with Client(
        gate.url, key, spool_path=tmp_path / "s.db", batch_size=10, max_latency=60, **FAST
    ) as client:
        ids = [client.publish(pca_event(tenant_id, n)) for n in range(25)]
        assert ids == [f"evt-{n}" for n in range(25)]
        wait_for(lambda: client.stats.pending == 5, what="two full batches")
        time.sleep(0.3)  # the last five wait for the latency bound (a minute) or a flush
        assert gate.sizes() == [10, 10]
        assert client.flush(10)
        assert gate.sizes() == [10, 10, 5]
        stats = client.stats
    assert (stats.published, stats.sent, stats.duplicates, stats.pending) == (25, 25, 0, 0)
    assert stored_ids(store_url, tenant_id) == sorted(ids)


def test_a_partial_batch_goes_out_after_max_latency(
    gate: Gate, key: str, tenant_id: str, store_url: str, tmp_path: Path
) -> None:
    with Client(
        gate.url, key, spool_path=tmp_path / "s.db", batch_size=100, max_latency=0.3
    ) as client:
        started = time.monotonic()
        for n in range(3):
            client.publish(pca_event(tenant_id, n))
        wait_for(lambda: client.stats.pending == 0, 5, "the latency bound")
        waited = time.monotonic() - started
    assert 0.25 <= waited < 3, waited
    assert gate.sizes() == [3]
    assert len(stored_ids(store_url, tenant_id)) == 3


def test_an_event_without_an_id_gets_a_time_sortable_one_and_the_callers_dict_is_untouched(
    kansa_url: str, key: str, tenant_id: str, store_url: str, tmp_path: Path
) -> None:
    event = pca_event(tenant_id)
    del event["id"]
    with Client(kansa_url, key, spool_path=tmp_path / "s.db") as client:
        made = [client.publish(event) for _ in range(3)]
        assert client.flush(10)
    assert "id" not in event
    assert len(set(made)) == 3 and made == sorted(made) and all(len(i) == 26 for i in made)
    assert stored_ids(store_url, tenant_id) == sorted(made)


def test_a_resent_event_is_counted_as_a_duplicate_and_stored_once(
    kansa_url: str, key: str, tenant_id: str, store_url: str, tmp_path: Path
) -> None:
    with Client(kansa_url, key, spool_path=tmp_path / "a.db") as first:
        first.publish_many(pca_event(tenant_id, n) for n in range(5))
        assert first.flush(10)
    with Client(kansa_url, key, spool_path=tmp_path / "b.db") as again:
        again.publish_many(pca_event(tenant_id, n) for n in range(7))
        assert again.flush(10)
        stats = again.stats
    assert (stats.sent, stats.duplicates) == (2, 5)
    assert stored_ids(store_url, tenant_id) == sorted(f"evt-{n}" for n in range(7))


def test_a_new_client_on_the_same_spool_sends_what_the_last_one_could_not(
    kansa_url: str, key: str, tenant_id: str, store_url: str, tmp_path: Path
) -> None:
    spool = tmp_path / "spool.db"
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    offline = Client(nowhere, key, spool_path=spool, **FAST)
    offline.publish_many(pca_event(tenant_id, n) for n in range(10))
    assert not offline.close(timeout=0.5)
    stats = offline.stats
    assert stats.pending == 10 and stats.sent == 0 and stats.retries >= 1
    assert stored_ids(store_url, tenant_id) == []

    with Client(kansa_url, key, spool_path=spool) as online:
        assert online.stats.pending == 10
        assert online.flush(10)
        stats = online.stats
    assert (stats.sent, stats.resent, stats.published) == (10, 10, 0)
    assert stored_ids(store_url, tenant_id) == sorted(f"evt-{n}" for n in range(10))


def test_a_spool_is_held_by_one_client_at_a_time(kansa_url: str, key: str, tmp_path: Path) -> None:
    from kansa.client import SpoolBusy

    with Client(kansa_url, key, spool_path=tmp_path / "s.db"):
        with pytest.raises(SpoolBusy, match="spool_path"):
            Client(kansa_url, key, spool_path=tmp_path / "s.db")
    Client(kansa_url, key, spool_path=tmp_path / "s.db").close()  # released on close


def test_an_invalid_event_is_isolated_rejected_and_never_retried(
    gate: Gate,
    key: str,
    tenant_id: str,
    store_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    events = [pca_event(tenant_id, n) for n in range(5)]
    events[2]["action"] = "no.such.action"
    with caplog.at_level(logging.INFO, logger="kansa.client"):
        with Client(gate.url, key, spool_path=tmp_path / "s.db", batch_size=5, **FAST) as client:
            client.publish_many(events)
            assert client.flush(10)
            time.sleep(0.5)  # nothing more is sent for the rejected event
            stats = client.stats
            (rejected,) = client.rejected()
    # One batch refused as a whole (422), then each event alone: four stored, one refused.
    assert gate.sizes() == [5, 1, 1, 1, 1, 1]
    assert [s.status for s in gate.seen] == [422, 201, 201, 422, 201, 201]
    assert (stats.sent, stats.rejected, stats.pending, stats.rejected_total) == (4, 1, 0, 1)
    assert stored_ids(store_url, tenant_id) == sorted(f"evt-{n}" for n in (0, 1, 3, 4))
    assert rejected.id == "evt-2" and rejected.status == 422
    assert rejected.event["action"] == "no.such.action"
    assert any(p["path"].endswith("action") for p in rejected.problems), rejected.problems
    assert rejected.rejected_at.tzinfo is not None
    assert "evt-2" in caplog.text and "422" in caplog.text
    assert key not in caplog.text and key.split("_", 2)[2] not in caplog.text


def test_a_wrong_key_rejects_the_batch_once_without_splitting(
    gate: Gate, tenant_id: str, store_url: str, tmp_path: Path
) -> None:
    with Client(gate.url, "kansa_000000000000_wrong", spool_path=tmp_path / "s.db") as client:
        client.publish_many(pca_event(tenant_id, n) for n in range(4))
        assert client.flush(10)
        time.sleep(0.3)
        stats = client.stats
        statuses = {r.status for r in client.rejected()}
    assert [s.status for s in gate.seen] == [401]
    assert (stats.rejected, stats.sent, statuses) == (4, 0, {401})
    assert stored_ids(store_url, tenant_id) == []


def test_rejected_events_can_be_requeued(
    kansa_url: str, key: str, tenant_id: str, store_url: str, tmp_path: Path
) -> None:
    spool = tmp_path / "s.db"
    with Client(kansa_url, "kansa_000000000000_wrong", spool_path=spool) as wrong:
        wrong.publish(pca_event(tenant_id, 1))
        assert wrong.flush(10) and wrong.stats.rejected_total == 1
    with Client(kansa_url, key, spool_path=spool) as right:
        assert right.stats.rejected_total == 1 and right.requeue_rejected() == 1
        assert right.flush(10)
        assert (right.stats.sent, right.stats.rejected_total) == (1, 0)
    assert stored_ids(store_url, tenant_id) == ["evt-1"]


@pytest.mark.parametrize("failure", ["503", "reset"])
def test_server_errors_and_dropped_connections_are_retried(
    failure: str, gate: Gate, key: str, tenant_id: str, store_url: str, tmp_path: Path
) -> None:
    gate.script.extend([failure] * 3)
    with Client(gate.url, key, spool_path=tmp_path / "s.db", **FAST) as client:
        client.publish_many(pca_event(tenant_id, n) for n in range(3))
        assert client.flush(10)
        stats = client.stats
    assert [s.status for s in gate.seen] == [int(failure) if failure != "reset" else 0] * 3 + [201]
    assert (stats.retries, stats.sent, stats.resent) == (3, 3, 9)
    assert stored_ids(store_url, tenant_id) == ["evt-0", "evt-1", "evt-2"]


def test_an_event_the_server_keeps_failing_on_is_set_aside_and_the_rest_drain(
    gate: Gate, key: str, tenant_id: str, store_url: str, tmp_path: Path
) -> None:
    """A server error (500) for what one event holds: the batch is tried SUSPECT_AFTER
    times, then split; the event that alone still fails is rejected, the others stored."""
    gate.poison = b"poison-marker"
    events = [pca_event(tenant_id, n) for n in range(4)]
    events[1]["params"]["note"] = "poison-marker"
    with Client(gate.url, key, spool_path=tmp_path / "s.db", batch_size=4, **FAST) as client:
        client.publish_many(events)
        assert client.flush(20)
        stats = client.stats
        (rejected,) = client.rejected()
    statuses = [s.status for s in gate.seen]
    assert statuses == [500] * SUSPECT_AFTER + [201, 500, 201, 201]
    assert (stats.sent, stats.rejected, stats.pending) == (3, 1, 0)
    assert rejected.id == "evt-1" and rejected.status == 500
    assert stored_ids(store_url, tenant_id) == ["evt-0", "evt-2", "evt-3"]


@pytest.mark.parametrize("failure", ["503", "reset"])
def test_away_is_never_taken_for_a_bad_event(
    failure: str, gate: Gate, key: str, tenant_id: str, store_url: str, tmp_path: Path
) -> None:
    """503 and dropped connections say the server is away: retried however often, never
    split nor rejected."""
    gate.script.extend([failure] * (SUSPECT_AFTER + 2))
    with Client(gate.url, key, spool_path=tmp_path / "s.db", **FAST) as client:
        client.publish(pca_event(tenant_id, 1))
        assert client.flush(20)
        assert client.stats.rejected == 0
    assert stored_ids(store_url, tenant_id) == ["evt-1"]


def test_a_429_is_retried_after_the_servers_retry_after(
    gate: Gate, key: str, tenant_id: str, store_url: str, tmp_path: Path
) -> None:
    gate.script.append("429")
    with Client(gate.url, key, spool_path=tmp_path / "s.db", **FAST) as client:
        client.publish(pca_event(tenant_id, 1))
        assert client.flush(10)
    first, second = gate.seen
    assert (first.status, second.status) == (429, 201)
    assert second.at - first.at >= 0.95  # Retry-After: 1, above backoff_max
    assert stored_ids(store_url, tenant_id) == ["evt-1"]


def test_flush_gives_up_at_its_timeout_and_keeps_the_events(
    key: str, tenant_id: str, tmp_path: Path
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    client = Client(nowhere, key, spool_path=tmp_path / "s.db", **FAST)
    client.publish_many(pca_event(tenant_id, n) for n in range(3))
    started = time.monotonic()
    assert client.flush(0.3) is False
    assert 0.28 <= time.monotonic() - started < 1.5
    assert client.stats.pending == 3
    assert client.close(timeout=0.1) is False
    with pytest.raises(ClientClosed):
        client.publish(pca_event(tenant_id, 9))


def test_many_threads_publish_through_one_client(
    kansa_url: str, key: str, tenant_id: str, store_url: str, tmp_path: Path
) -> None:
    with Client(kansa_url, key, spool_path=tmp_path / "s.db", batch_size=200) as client:

        def publish(thread: int) -> None:
            for n in range(150):
                client.publish(pca_event(tenant_id, thread * 1000 + n))

        threads = [threading.Thread(target=publish, args=(t,)) for t in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert client.flush(20)
        stats = client.stats
    assert (stats.published, stats.sent, stats.duplicates) == (900, 900, 0)
    ids = stored_ids(store_url, tenant_id)
    assert len(ids) == len(set(ids)) == 900


DOC = (ROOT / "docs" / "client.md").read_text(encoding="utf-8")


def test_the_example_at_the_top_of_the_docs_publishes(
    kansa_url: str, key: str, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = DOC.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(example.strip().splitlines()) <= 5
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the default spool path
    before = stored_ids(store_url, "org-42")
    exec(example.replace("https://kansa.example.jp", kansa_url), {"api_key": key})
    after = stored_ids(store_url, "org-42")
    assert len(after) == len(before) + 1
    assert list((tmp_path / "kansa").glob("spool-*.sqlite3"))


def test_every_option_and_stat_is_documented() -> None:
    options = [p for p in inspect.signature(Client).parameters if p not in ("url", "api_key")]
    missing = [name for name in [*options, *Stats.__dataclass_fields__] if f"`{name}`" not in DOC]
    assert missing == []
