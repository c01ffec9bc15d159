"""The row walk ``kansa verify`` takes first only ever vouches for what the column-by-column
walk finds intact too: the times the database writes are ``iso_utc``'s, the search text it
recomputes is ``search_text``'s, a column changed beside the bytes (or given another type) is
still named, and tenants walked by processes come back as one process walks them."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kansa import demo, retention
from kansa.catalog import Catalog
from kansa.events.prepare import SEARCHED, prepare, search_text, walked_search_text
from kansa.integrity.chain import GENESIS, StoredLink, digest, link, verify
from kansa.integrity.checkpoints import sign_checkpoint
from kansa.integrity.rowwalk import Layout, walk_rows
from kansa.integrity.signing import Signer
from kansa.integrity.verify import DERIVED, ROW_LAYOUT, _Purges, verify_store
from kansa.store import Store, open_store
from kansa.store.rows import _iso_sql
from kansa.timeutil import from_micros, iso_utc
from tests.helpers import pca_event
from tests.raw import execute
from tests.test_retention import publish

texts = st.text(st.characters(blacklist_categories=["Cs"]), max_size=8)  # any but surrogates
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*SEARCHED, "x"]), json_values))
def test_the_search_text_of_any_decoded_event_is_search_texts(event: dict[str, Any]) -> None:
    decoded = orjson.loads(orjson.dumps(event))  # as verify holds it: decoded JSON
    assert search_text(decoded) == walked_search_text(decoded)


def test_the_search_text_of_the_demo_events_is_search_texts(catalog: Catalog) -> None:
    for event in prepare(list(demo.generate(catalog, 400, seed=3)), catalog):
        decoded = orjson.loads(event.core)
        assert search_text(decoded) == walked_search_text(decoded) == event.search_text


def test_the_database_writes_a_time_as_iso_utc_does(store_url: str) -> None:
    sqlite = store_url.startswith("sqlite")
    rng = random.Random(7)
    micros = [0, 1, 999_999, 1_000_000, 951_782_400_000_000, 253_402_300_799_999_999]
    micros += [rng.randrange(0, 253_402_300_800_000_000) for _ in range(300)]
    cast = "?" if sqlite else "CAST(? AS bigint)"
    for value in micros:
        ((written,),) = execute(
            store_url, f"SELECT {_iso_sql('x', sqlite)} FROM (SELECT {cast} AS x) AS t", value
        )
        assert written == iso_utc(from_micros(value)), value


def _walks(store: Store, tenant: str, key: Any = None) -> tuple[Any, Any]:
    """The row walk and the column-by-column walk of ``tenant``'s whole chain."""
    found = store.get_tenant(tenant)
    assert found is not None
    start = found.chain_start_seq
    anchors = {c.seq: c.head_hash for c in store.checkpoints(tenant)} if key else {}
    packed = walk_rows(
        tenant,
        store.chain_rows(tenant, start - 1),
        ROW_LAYOUT,
        start_seq=start,
        start_hash=found.chain_start_hash,
        anchors=anchors,
    )
    purges = _Purges()
    links = purges.watch(store.chain(tenant, start - 1))
    column = verify(
        tenant,
        links,
        start_seq=start,
        start_hash=found.chain_start_hash,
        derived=DERIVED,
        anchors=anchors,
    )
    if packed is not None:
        assert packed.purge_claim == purges.claim
    return packed, column


def test_the_row_walk_vouches_as_the_column_walk_does_pruned_events_and_checkpoints(
    store: Store, catalog: Catalog, tenant_id: str
) -> None:
    signer = Signer.generate()
    publish(store, catalog, tenant_id, 800, 790, 780, 3)
    for seq in (2, 3):
        sign_checkpoint(store, signer, tenant_id, seq=seq)
    retention.purge(store, catalog, tenant_id=tenant_id, key=signer.public_key)
    packed, column = _walks(store, tenant_id, signer.public_key)
    assert column.broken is None and (column.pruned, column.anchors) == (3, 2)
    assert packed is not None and packed.walk == column
    assert packed.purge_claim == (1, GENESIS)  # a purge that pruned in place


@pytest.mark.parametrize(
    ("change", "found"),
    [
        ("search_text = search_text || 'x'", "column 'search_text' differs"),
        ("search_text = upper(search_text)", "column 'search_text' differs"),
        ("occurred_at = occurred_at + 1", "column 'occurred_at' differs"),
        ("received_at = -1", "column 'received_at' differs"),
        ("message_ja = message_ja || ' '", "column 'message.ja' differs"),
        ("target_id = NULL", "column 'targets.0.id' differs"),
    ],
)
def test_a_column_changed_beside_the_bytes_is_named_by_verify(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str, change: str, found: str
) -> None:
    store.append(prepare([pca_event(tenant_id, n) for n in range(1, 4)], catalog))
    execute(
        store_url,
        f"UPDATE events SET {change} WHERE tenant_id = ? AND seq = 2",
        tenant_id,
        bypass_triggers=True,
    )
    packed, column = _walks(store, tenant_id)
    assert packed is None, "the row walk vouched for a changed column"
    assert column.broken is not None and found in column.broken.reason
    (walk,) = verify_store(store, tenant_id)
    assert walk.broken == column.broken and column.broken.seq == 2


@pytest.mark.parametrize(
    "change",
    [
        "actor_id = CAST(actor_id AS BLOB)",  # JSON cannot hold a BLOB: nothing packed
        "actor_id = 12.5",
        "actor_id = 7",
    ],
)
def test_a_sqlite_column_of_another_type_is_named_by_verify(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str, change: str
) -> None:
    if not store_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's columns keep their types")
    store.append(prepare([pca_event(tenant_id, n) for n in range(1, 4)], catalog))
    execute(
        store_url,
        f"UPDATE events SET {change} WHERE tenant_id = ? AND seq = 2",
        tenant_id,
        bypass_triggers=True,
    )
    (walk,) = verify_store(store, tenant_id)
    assert walk.broken is not None and walk.broken.seq == 2
    assert "column 'actor.id' differs from the hashed event" in walk.broken.reason


def test_a_time_the_database_could_not_write_is_never_vouched_for() -> None:
    """A time column out of range reads as NULL: an event whose time is null must not take
    it for its own (the column-by-column walk compares the stored number itself)."""
    body = link(orjson.dumps({"occurred_at": None}), GENESIS, 1)
    layout = Layout(paths=("occurred_at",), derived={}, times=(0,), content=())
    row = (1, body, digest(body), GENESIS, None, None, None)
    found = walk_rows("t", [row], layout, start_seq=1, start_hash=GENESIS, anchors={})
    assert found is None
    stored = StoredLink(1, body, digest(body), GENESIS, {"occurred_at": "1969-12-31T23:59:59Z"})
    assert verify("t", [stored]).broken is not None


def test_tenants_walked_by_processes_come_back_as_one_process_walks_them(
    fresh_url: str, catalog: Catalog
) -> None:
    store = open_store(fresh_url)
    try:
        for tenant in ("a", "b", "c"):
            store.append(prepare([pca_event(tenant, n) for n in range(1, 4)], catalog))
        execute(
            fresh_url,
            "UPDATE events SET actor_name = 'someone else' WHERE tenant_id = 'b' AND seq = 2",
            bypass_triggers=True,
        )
        signer = Signer.generate()
        sign_checkpoint(store, signer, "a")
        one = list(verify_store(store, key=signer.public_key, workers=1))
        apart = list(verify_store(store, key=signer.public_key, workers=2))
    finally:
        store.close()
    assert [w.tenant for w in apart] == ["a", "b", "c"]
    assert apart == one
    assert apart[0].anchors == 1  # the key reached the worker
    assert apart[1].broken is not None and apart[1].broken.seq == 2
