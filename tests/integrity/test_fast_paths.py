"""The quicker paths of the row walk only ever vouch for what the column-by-column walk finds
intact too: the search text joined in one go is ``search_text``'s, the columns read by the
reader written out for the layout are those read path by path, the key rows held against
the events in Python agree exactly where ``key_problem`` finds nothing, the structs msgspec
reads a body into hold what orjson reads or nothing — and a row that takes these paths,
changed in a column, its bytes or its link, is still named by verify as the column walk
names it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kansa import demo
from kansa.catalog import Catalog
from kansa.events.prepare import SEARCHED, _joined_text, prepare, walked_search_text
from kansa.integrity import rowwalk, shaped
from kansa.integrity.chain import GENESIS, link, verify, walk_path
from kansa.integrity.slices import ROW_LAYOUT, Slice, walk_slice
from kansa.integrity.verify import DERIVED, verify_store
from kansa.store import Store
from tests.helpers import pca_event
from tests.integrity.test_rowwalk import json_values, texts
from tests.raw import execute

strings = st.none() | texts
flat = (
    strings
    | st.dictionaries(texts, strings, max_size=4)
    | st.lists(strings | st.dictionaries(texts, strings, max_size=4), max_size=3)
)
"""Values of the shape the joined text takes: strings and nulls, alone, in objects (keys in
any order) and in lists of them."""


@settings(max_examples=400, deadline=None)
@given(st.fixed_dictionaries({name: flat | json_values for name in SEARCHED}))
def test_the_search_text_joined_in_one_go_is_search_texts(event: dict[str, Any]) -> None:
    decoded = orjson.loads(orjson.dumps(event))  # as verify holds it: decoded JSON
    joined = _joined_text(decoded)
    assert joined is None or joined == walked_search_text(decoded)


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries({name: flat for name in SEARCHED}))
def test_the_joined_text_takes_strings_and_nulls_in_sorted_objects(event: dict[str, Any]) -> None:
    decoded = orjson.loads(orjson.dumps(event, option=orjson.OPT_SORT_KEYS))
    assert _joined_text(decoded) == walked_search_text(decoded)


def _strict(event: dict[str, Any]) -> tuple[Any, ...]:
    raise AssertionError(f"the written-out reader gave up on {event!r}")


_PARSED = rowwalk._parsed(ROW_LAYOUT.paths, ROW_LAYOUT.derived)
_STRAIGHT_ONLY = rowwalk._straight(_PARSED, _strict)
_LOOPED = rowwalk._looped(_PARSED)
_STRAIGHT = rowwalk._straight(_PARSED, _LOOPED)
_structs = rowwalk.struct_reader(ROW_LAYOUT)
assert _structs is not None
_STRUCTS = _structs


def _read_by_path(event: dict[str, Any]) -> tuple[Any, ...]:
    """The columns as the column walk reads them (chain._check: walk_path, or derived)."""
    return tuple(
        DERIVED[path](event) if path in DERIVED else walk_path(event, tuple(path.split(".")))
        for path in ROW_LAYOUT.paths
    )


def test_the_demo_events_take_the_quick_paths_and_read_as_the_column_walk_reads(
    catalog: Catalog,
) -> None:
    for prepared in prepare(list(demo.generate(catalog, 300, seed=5)), catalog):
        event = orjson.loads(prepared.core)
        assert _joined_text(event) == prepared.search_text
        assert _STRAIGHT_ONLY(event) == _LOOPED(event) == _read_by_path(event)
        envelope = shaped.decode(link(prepared.core, GENESIS, 7))
        assert envelope is not None and (envelope.seq, envelope.prev_hash) == (7, GENESIS)
        assert _STRUCTS(envelope.event) == _read_by_path(event)


group = st.none() | st.dictionaries(st.sampled_from(["id", "login", "name", "x"]), strings)
shaped_events = st.fixed_dictionaries(
    {},
    optional={
        **{path: strings | st.integers(0, 9) for path in _PARSED.firsts},
        "tenant": group | texts,
        "actor": group | st.lists(group, max_size=2) | st.integers(0, 9),
        "targets": st.lists(group | texts, max_size=2) | group | texts,
        "message": st.none() | st.dictionaries(st.sampled_from(["ja", "en"]), strings),
        "params": st.none() | st.dictionaries(st.sampled_from(["service", "os"]), json_values),
    },
)
"""Events shaped around the layout's paths, each key there or not, of the type kansa
writes or of another."""


@settings(max_examples=400, deadline=None)
@given(shaped_events)
def test_the_written_out_reader_reads_any_event_as_the_paths_read_it(
    event: dict[str, Any],
) -> None:
    decoded = orjson.loads(orjson.dumps(event))
    assert _STRAIGHT(decoded) == _LOOPED(decoded) == _read_by_path(decoded)


def test_a_layout_without_deeper_or_derived_paths_is_read_alike() -> None:
    for paths in (("occurred_at",), ("id", "app"), ("actor.id",), ("targets.0.id", "x.y")):
        parsed = rowwalk._parsed(paths, {})
        looped = rowwalk._looped(parsed)
        straight = rowwalk._straight(parsed, looped)
        for event in ({}, {"occurred_at": "t", "id": 1, "actor": {"id": "a"}, "x": None}):
            assert straight(event) == looped(event)


def test_the_structs_fields_are_in_sorted_order() -> None:
    """An object's values are taken in its fields' order, as search_text takes a dict's."""
    for struct in (shaped.Tenant, shaped.Actor, shaped.Target, shaped.Message, shaped.Event):
        fields = list(struct.__struct_fields__)
        assert fields == sorted(fields)
    assert list(shaped.ErrorInfo.__struct_fields__) == ["code", "message"]


def _both(body: bytes) -> tuple[Any, Any]:
    """What the dict path reads from ``body`` (seq, prev_hash, columns) or the error, and
    what the struct path reads (None where it refuses the body)."""
    try:
        envelope = orjson.loads(body)
        event = envelope.get("event") or {}
        read: Any = (envelope.get("seq"), envelope.get("prev_hash"), _LOOPED(event))
    except (orjson.JSONDecodeError, AttributeError) as error:
        read = type(error)
    structs = shaped.decode(body)
    if structs is None:
        return read, None
    return read, (structs.seq, structs.prev_hash, _STRUCTS(structs.event))


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**65), 2**65)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
event_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["id", "login", "name", "ja", "en", "x"]) | texts, inner, max_size=3
        )
    ),
    max_leaves=10,
)
events = st.dictionaries(
    st.sampled_from([*shaped.Event.__struct_fields__, "x"]), event_values, max_size=12
)


@settings(max_examples=600, deadline=None)
@given(events, st.integers(0, 2**65) | st.floats(0, 9) | texts, texts | st.none())
def test_the_structs_read_what_orjson_reads_or_nothing(
    event: dict[str, Any], seq: Any, prev_hash: Any
) -> None:
    try:
        body = orjson.dumps({"event": event, "prev_hash": prev_hash, "seq": seq})
    except orjson.JSONEncodeError:  # an int past 64 bits
        return
    read, structs = _both(body)
    assert structs is None or structs == read


def _object(struct: type[Any]) -> st.SearchStrategy[dict[str, Any] | None]:
    """An object of ``struct``'s fields (any of them there or not), or null."""
    fields = {name: strings for name in struct.__struct_fields__}
    return st.none() | st.fixed_dictionaries({}, optional=fields)


params = st.none() | st.dictionaries(
    texts, strings | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.lists(strings)
)
searched_values = {
    **{name: strings for name in ("ip", "user_agent", "trace_id", "correlation_id", "app")},
    "message": _object(shaped.Message),
    "actor": _object(shaped.Actor),
    "error": _object(shaped.ErrorInfo),
    "targets": st.none() | st.lists(_object(shaped.Target).filter(bool), max_size=3),
    "params": params,
    "details": params,
}
of_the_shape = st.fixed_dictionaries({}, optional=searched_values)
"""The searched values of an event of the shape the structs read, in any key order."""


def test_the_search_text_of_the_structs_is_tried_on_every_searched_key() -> None:
    """A key searched since must be drawn below, and :func:`shaped.event_text` take it."""
    assert set(searched_values) == set(SEARCHED)


@settings(max_examples=300, deadline=None)
@given(of_the_shape)
def test_the_structs_take_the_search_text_of_what_they_read(event: dict[str, Any]) -> None:
    body = link(orjson.dumps(event), GENESIS, 1)
    structs = shaped.decode(body)
    assert structs is not None
    assert shaped.event_text(structs.event) == walked_search_text(orjson.loads(body)["event"])


@settings(max_examples=300, deadline=None)
@given(
    of_the_shape,
    st.fixed_dictionaries(
        {},
        optional={
            **{name: strings for name in _PARSED.firsts},
            "tenant": _object(shaped.Tenant),
            "anonymous": st.booleans(),
            "v": st.integers(0, 9),
        },
    ),
)
def test_the_structs_read_an_event_of_their_shape_as_orjson_reads_it(
    searched: dict[str, Any], scalars: dict[str, Any]
) -> None:
    read, structs = _both(link(orjson.dumps({**searched, **scalars}), GENESIS, 3))
    assert structs is not None and structs == read


@pytest.mark.parametrize(
    "body",
    [
        b'{"event":{"id":"a","id":"b"},"prev_hash":"h","seq":1}',  # the last of a key given twice
        b'{"event":{"actor":{"id":"a"},"actor":null},"prev_hash":"h","seq":1}',
        b'{"event":{"params":{"k":"1","k":"2"}},"prev_hash":"h","seq":1,"seq":2}',
        b'{"event":{"id":"\\u0041\\/"},"prev_hash":"h","seq":1}',
        b'{"event":{"id":"\\ud83d\\ude00"},"prev_hash":"h","seq":1} \n',
        b'{"event":{"id":"\\ud800"},"prev_hash":"h","seq":1}',  # a lone surrogate
        b'{"event":{"id":"\xff"},"prev_hash":"h","seq":1}',  # not UTF-8
        b'{"event":{"id":"\xed\xa0\x80"},"prev_hash":"h","seq":1}',  # a surrogate in UTF-8
        b'{"event":{"id":"a\tb"},"prev_hash":"h","seq":1}',  # a control character
        b'{"event":{"id":"\\x41"},"prev_hash":"h","seq":1}',  # a bad escape
        b'{"event":{"v":01},"prev_hash":"h","seq":1}',
        b'{"event":{"v":1.0},"prev_hash":"h","seq":1}',
        b'{"event":{"v":18446744073709551616},"prev_hash":"h","seq":1}',
        b'{"event":{"params":{"n":9223372036854775808}},"prev_hash":"h","seq":1}',
        b'{"event":{"v":NaN},"prev_hash":"h","seq":1}',
        b'{"event":{},"prev_hash":"h","seq":1,}',
        b'{"event":{},"prev_hash":"h","seq":1} x',
        b'\xef\xbb\xbf{"event":{},"prev_hash":"h","seq":1}',  # a byte order mark
        b'{"event":null,"prev_hash":"h","seq":1}',
        b'{"event":{"details":{"a":{"b":"c"}}},"prev_hash":"h","seq":1}',
        b'{"event":{"\\u0069d":"a"},"prev_hash":"h","seq":1}',  # a key escaped
        b'{"event":{"id":"a","\\u0069d":"b"},"prev_hash":"h","seq":1}',
    ],
)
def test_the_structs_read_odd_bytes_as_orjson_reads_them_or_not_at_all(body: bytes) -> None:
    read, structs = _both(body)
    assert structs is None or structs == read


def _publish_quick(store: Store, catalog: Catalog, tenant: str, count: int = 5) -> None:
    """Events every quick path takes (details without a list in it)."""
    events = [pca_event(tenant, n, details=None) for n in range(1, count + 1)]
    store.append(prepare(events, catalog))
    for row in store.chain_rows(tenant):
        event = orjson.loads(row[1])["event"]
        assert _joined_text(event) is not None
        assert _STRAIGHT_ONLY(event) == row[6:]
        envelope = shaped.decode(row[1])
        assert envelope is not None and _STRUCTS(envelope.event) == row[6:]


@pytest.mark.parametrize(
    ("change", "found"),
    [
        ("actor_name = 'someone else'", "column 'actor.name' differs"),
        ("search_text = search_text || 'x'", "column 'search_text' differs"),
        ("message_en = upper(message_en)", "column 'message.en' differs"),
        ("target_id = 'acc-9999'", "column 'targets.0.id' differs"),
        ("body = CAST(replace(CAST(body AS TEXT), 'jiro', 'jirO') AS BLOB)", "bytes do not"),
        ("prev_hash = hash", "previous-hash link"),
        ("seq = 33", "event(s) missing: seq 3"),
    ],
)
def test_a_row_the_quick_paths_read_changed_is_named_as_the_column_walk_names_it(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str, change: str, found: str
) -> None:
    _publish_quick(store, catalog, tenant_id)
    if "body" in change and not store_url.startswith("sqlite"):
        change = "body = convert_to(replace(convert_from(body, 'UTF8'), 'jiro', 'jirO'), 'UTF8')"
    execute(
        store_url,
        f"UPDATE events SET {change} WHERE tenant_id = ? AND seq = 3",
        tenant_id,
        bypass_triggers=True,
    )
    expected = verify(tenant_id, store.chain(tenant_id, 0), derived=DERIVED).broken
    assert expected is not None and expected.seq == 3 and found in expected.reason
    found_slice = walk_slice(store, Slice(tenant_id, 0, 5, "0" * 64, {}))
    assert found_slice.walked is None, "the row walk vouched for a changed row"
    (walk,) = verify_store(store, tenant_id, workers=1)
    assert walk.broken == expected


KEY_CHANGES = [
    "UPDATE event_keys SET id = 'evt-x' WHERE tenant_id = ? AND seq = 3",
    "UPDATE event_keys SET occurred_at = occurred_at + 1 WHERE tenant_id = ? AND seq = 3",
    "UPDATE event_keys SET occurred_at = -1 WHERE tenant_id = ? AND seq = 3",
    "UPDATE event_keys SET client_id = 'other' WHERE tenant_id = ? AND seq = 3",
    "UPDATE event_keys SET seq = 4 WHERE tenant_id = ? AND seq = 3",
    "DELETE FROM event_keys WHERE tenant_id = ? AND seq = 3",
    "INSERT INTO event_keys SELECT tenant_id, 'extra', id, seq, hash, occurred_at"
    " FROM event_keys WHERE tenant_id = ? AND seq = 3",
    "UPDATE events SET client_id = NULL WHERE tenant_id = ? AND seq = 3",
    "UPDATE events SET occurred_at = -5 WHERE tenant_id = ? AND seq = 3",
]


@pytest.mark.parametrize("change", [None, *KEY_CHANGES])
def test_key_rows_held_in_python_agree_exactly_where_key_problem_finds_nothing(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str, change: str | None
) -> None:
    if store_url.startswith("sqlite"):
        pytest.skip("SQLite keeps the client id on the event row itself")
    _publish_quick(store, catalog, tenant_id)
    if change is not None:
        execute(store_url, change, tenant_id, bypass_triggers=True)
    problem = store.key_problem(tenant_id, 2, 5)
    sliced = walk_slice(store, Slice(tenant_id, 1, 5, None, {}))
    if sliced.walked is not None:
        assert sliced.keys_agree == (problem is None)
    else:
        assert not sliced.keys_agree
    assert (change is None) == (problem is None)


def test_events_without_a_client_id_have_no_key_row_to_agree_with(
    store: Store, store_url: str, catalog: Catalog, tenant_id: str
) -> None:
    if store_url.startswith("sqlite"):
        pytest.skip("SQLite keeps the client id on the event row itself")
    events = [pca_event(tenant_id, n, details=None) for n in range(1, 6)]
    del events[3]["id"]  # seq 4: published without a client id, so without a key row
    store.append(prepare(events, catalog))
    keyed = execute(store_url, "SELECT seq FROM event_keys WHERE tenant_id = ?", tenant_id)
    assert sorted(row[0] for row in keyed) == [1, 2, 3, 5]
    assert store.key_problem(tenant_id, 1, 5) is None
    sliced = walk_slice(store, Slice(tenant_id, 0, 5, "0" * 64, {}))
    assert sliced.walked is not None and sliced.keys_agree
    execute(
        store_url,
        "DELETE FROM event_keys WHERE tenant_id = ? AND seq = 5",
        tenant_id,
        bypass_triggers=True,
    )
    assert not walk_slice(store, Slice(tenant_id, 0, 5, "0" * 64, {})).keys_agree
