"""A chain walked in slices of its seqs (by one process or several) is checked link by link
as one walk checks it: every column changed behind kansa's back, in a slice or at a seam
between two, is named as the column-by-column walk names it; a slice the row walk cannot
vouch for sends the tenant to that walk; the seams are checked; idempotency key rows checked
slice by slice are named as over the whole chain."""

from __future__ import annotations

import pytest

from kansa import retention
from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.integrity import slices
from kansa.integrity.chain import GENESIS, Walk, verify
from kansa.integrity.checkpoints import sign_checkpoint
from kansa.integrity.rowwalk import Walked
from kansa.integrity.signing import Signer
from kansa.integrity.slices import Slice, Sliced, joined, walk_slice
from kansa.integrity.verify import DERIVED, _workers, verify_store
from kansa.store import Store, open_store
from kansa.store.rows import VERIFY_COLUMNS
from tests.helpers import pca_event
from tests.raw import execute
from tests.test_retention import publish

EVENTS = 7
SMALL = 3
"""Seven events in slices of three: seqs 1-3, 4-6 and 7; seq 3 is read by two slices."""


@pytest.fixture
def small_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slices, "SLICE", SMALL)
    monkeypatch.setattr("kansa.integrity.verify.SLICE", SMALL)


def _publish(store: Store, catalog: Catalog, tenant: str, count: int = EVENTS) -> None:
    events = [pca_event(tenant, n, correlation_id=f"c-{n}") for n in range(1, count + 1)]
    store.append(prepare(events, catalog))


def _column_walk(store: Store, tenant: str) -> Walk:
    """The column-by-column walk of ``tenant``'s whole chain: what verify reports."""
    return verify(tenant, store.chain(tenant, 0), derived=DERIVED)


def _sliced(store: Store, tenant: str) -> list[Sliced]:
    found = store.get_tenant(tenant)
    assert found is not None
    parts = slices.slices(tenant, 1, found.chain_start_hash, found.last_seq, {})
    assert [(p.after, p.upto) for p in parts] == [(0, 3), (3, 6), (6, 7)]
    return [walk_slice(store, part) for part in parts]


def _change(column: str) -> str:
    if column in ("occurred_at", "received_at"):
        return f"{column} = {column} + 1"
    return f"{column} = COALESCE({column}, '') || 'x'"


COLUMNS = [column for column, _ in VERIFY_COLUMNS if column != "tenant_id"]  # that moves it


@pytest.mark.usefixtures("small_slices")
@pytest.mark.parametrize("column", COLUMNS)
@pytest.mark.parametrize("seq", [3, 5])
def test_every_column_changed_in_a_slice_or_at_a_seam_is_named_as_the_column_walk_names_it(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str, column: str, seq: int
) -> None:
    _publish(store, catalog, tenant_id)
    assert all(s.walked is not None and s.keys_agree for s in _sliced(store, tenant_id))
    execute(
        store_url,
        f"UPDATE events SET {_change(column)} WHERE tenant_id = ? AND seq = ?",
        tenant_id,
        seq,
        bypass_triggers=True,
    )
    walked = _sliced(store, tenant_id)
    flagged = [n for n, s in enumerate(walked) if s.walked is None]
    assert flagged == [0 if seq == 3 else 1], "a slice vouched for a changed column"
    assert joined(walked) is None
    expected = _column_walk(store, tenant_id).broken
    assert expected is not None and expected.seq == seq
    assert "differs from the hashed event" in expected.reason
    (walk,) = verify_store(store, tenant_id, workers=1)
    assert walk.broken == expected


@pytest.mark.usefixtures("small_slices")
@pytest.mark.parametrize(
    ("change", "found"),
    [
        ("DELETE FROM events WHERE tenant_id = ? AND seq = 4", "event(s) missing: seq 4"),
        ("DELETE FROM events WHERE tenant_id = ? AND seq = 3", "event(s) missing: seq 3"),
        ("UPDATE events SET hash = 'ff' || hash WHERE tenant_id = ? AND seq = 3", "bytes do"),
        ("UPDATE events SET prev_hash = 'ff' WHERE tenant_id = ? AND seq = 4", "previous-hash"),
    ],
)
def test_a_seam_that_does_not_join_is_named_as_one_walk_names_it(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str, change: str, found: str
) -> None:
    _publish(store, catalog, tenant_id)
    execute(store_url, change, tenant_id, bypass_triggers=True)
    assert joined(_sliced(store, tenant_id)) is None
    expected = _column_walk(store, tenant_id).broken
    assert expected is not None and found in expected.reason
    (walk,) = verify_store(store, tenant_id, workers=1)
    assert walk.broken == expected


def _walked(after: int, start: str, head: int, head_hash: str) -> Sliced:
    walk = Walk("t", checked=head - after, head_seq=head, head_hash=head_hash)
    return Sliced(Slice("t", after, head, None, {}), start, Walked(walk, None), True)


def test_slices_join_only_where_each_begins_where_the_one_before_ended() -> None:
    first = _walked(0, "g", 3, "h3")
    assert joined([first, _walked(3, "h3", 6, "h6")]) == Walked(
        Walk("t", checked=6, head_seq=6, head_hash="h6"), None
    )
    assert joined([first, _walked(3, "other", 6, "h6")]) is None  # another hash at seq 3
    assert joined([first, _walked(4, "h3", 6, "h6")]) is None  # seq 4 read by none
    assert joined([_walked(0, "g", 2, "h2"), _walked(3, "h3", 6, "h6")]) is None  # cut short
    assert joined([first, Sliced(Slice("t", 3, 6, None, {}), "h3", None)]) is None


@pytest.mark.usefixtures("small_slices")
@pytest.mark.parametrize(
    ("attack", "found"),
    [
        ("DELETE FROM event_keys WHERE tenant_id = ? AND seq = 5", "the event at seq 5 has no"),
        (
            "UPDATE event_keys SET hash = 'ff' || hash WHERE tenant_id = ? AND seq = 5",
            "the idempotency key row of the event at seq 5 disagrees",
        ),
        (  # the key row of seq 5 moved into the first slice: named at seq 5, as over one walk
            "UPDATE event_keys SET seq = 2 WHERE tenant_id = ? AND seq = 5",
            "the idempotency key row of the event at seq 5 disagrees",
        ),
    ],
)
def test_key_rows_checked_slice_by_slice_are_named_as_over_the_whole_chain(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str, attack: str, found: str
) -> None:
    if store_url.startswith("sqlite"):
        pytest.skip("SQLite keeps the client id on the event row itself")
    _publish(store, catalog, tenant_id)
    execute(store_url, attack, tenant_id, bypass_triggers=True)
    walked = _sliced(store, tenant_id)
    assert joined(walked) is not None  # the events themselves are intact
    assert not all(s.keys_agree for s in walked)
    (walk,) = verify_store(store, tenant_id, workers=1)
    assert walk.broken is not None and found in walk.broken.reason


def test_a_large_tenant_is_shared_between_processes_and_walked_as_one_process_walks_it(
    fresh_url: str, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slices, "SLICE", 2)
    monkeypatch.setattr("kansa.integrity.verify.SLICE", 2)
    store = open_store(fresh_url)
    try:
        _publish(store, catalog, "big", 9)
        _publish(store, catalog, "small", 1)
        big = store.get_tenant("big")
        assert big is not None
        whole = [big]
        assert _workers(whole, 2) == 2 and _workers(whole, None) == 1  # below PARALLEL_FROM
        intact = list(verify_store(store, workers=2))
        assert intact == list(verify_store(store, workers=1))
        assert [(w.tenant, w.checked, w.broken) for w in intact] == [
            ("big", 9, None),
            ("small", 1, None),
        ]
        execute(
            fresh_url,
            "UPDATE events SET actor_name = 'someone else' WHERE tenant_id = 'big' AND seq = 6",
            bypass_triggers=True,
        )
        apart = list(verify_store(store, workers=2))
        assert apart == list(verify_store(store, workers=1))
        assert apart[0].broken is not None and apart[0].broken.seq == 6
        assert "column 'actor.name' differs" in apart[0].broken.reason
    finally:
        store.close()


@pytest.mark.usefixtures("small_slices")
def test_checkpoints_pruned_events_and_a_purge_across_slices_are_walked_as_one_walk(
    store: Store, catalog: Catalog, tenant_id: str
) -> None:
    signer = Signer.generate()
    publish(store, catalog, tenant_id, 800, 790, 780, 3, 2, 1, 1)
    for seq in (2, 5, 7):
        sign_checkpoint(store, signer, tenant_id, seq=seq)
    retention.purge(store, catalog, tenant_id=tenant_id, key=signer.public_key)
    found = store.get_tenant(tenant_id)
    assert found is not None and found.last_seq == 8  # the purge's own event
    anchors = {c.seq: c.head_hash for c in store.checkpoints(tenant_id)}
    parts = slices.slices(tenant_id, 1, found.chain_start_hash, 8, anchors)
    assert [sorted(p.anchors) for p in parts] == [[2], [5], [7]]
    (walk,) = verify_store(store, tenant_id, signer.public_key, workers=1)
    column = verify(tenant_id, store.chain(tenant_id, 0), derived=DERIVED, anchors=anchors)
    assert walk == column
    assert (walk.broken, walk.checked, walk.anchors, walk.pruned) == (None, 8, 3, 3)
    walked = joined([walk_slice(store, part) for part in parts])
    assert walked is not None and walked.walk == column
    assert walked.purge_claim == (1, GENESIS)  # a purge that pruned in place
