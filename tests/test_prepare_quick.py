"""The quick look at an event (msgspec structs) against EventIn, the contract's authority: for
generated events, valid and slightly not, both refuse with the same problems, or both accept
and the prepared events are the same (kansa's own id and the time received aside)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from kansa.catalog import Catalog, default_catalog_paths, load_catalog
from kansa.errors import Problem
from kansa.events.limits import MAX_AHEAD
from kansa.events.prepare import PreparedEvent, _check, _plans_of, _prepare, _validated, search_text
from kansa.events.quick import Valid, look
from tests.helpers import pca_event

CATALOG = load_catalog(default_catalog_paths())
NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
TYPES = sorted(
    (CATALOG.products[t.product].apps[0], t.action, t.results, t)
    for t in CATALOG.event_types()
    if CATALOG.products[t.product].apps
)[::7]
LONG = 2**63


def nested(depth: int) -> list[Any]:
    """Lists in lists, ``depth`` deep."""
    value: list[Any] = []
    for _ in range(depth - 1):
        value = [value]
    return value


TIMES = [
    "2026-11-21T10:00:00+09:00",
    "2026-11-21T01:00:00Z",
    "2026-11-21T01:00:00.5Z",
    "2026-11-21T01:00:00.1234567Z",
    "2026-11-21T01:00:00.123456-05:30",
    "2026-11-21 01:00:00Z",
    "2026-11-21t01:00:00z",
    "2026-11-21T01:00:00+23:59",
    "2026-11-21T01:00:00+24:00",
    "2026-11-21T01:00:00-00:00",
    "2026-11-21T01:00:00+09:60",
    "2026-11-21T01:00:00-00:99",
    "2026-11-21T01:00Z",
    "2026-11-21T24:00:00Z",
    "2026-12-31T23:59:60Z",
    "2026-02-30T01:00:00Z",
    "0000-01-01T00:00:00Z",
    "1999-12-31T23:59:59Z",
    "2026-11-23T00:00:00Z",
    "20261121T010000Z",
    "2026-11-21T10:00:00",
    "2026-11-21",
    "2026-11-21T01:00:00Z\n",
    "２０２６-11-21T01:00:00Z",
    1_763_686_800,
    1_763_686_800.5,
    "",
]
ODD: list[Any] = [None, "", 0, 1, 1.5, True, [], {}, "x" * 201, "é" * 200, "a\x00b", LONG, [LONG]]
FIELDS: dict[str, list[Any]] = {
    "id": ["evt-1", "é" * 200, *ODD],
    "tenant": [
        "bench-pca",
        "a" * 128,
        "a" * 129,
        "a\n",
        {"id": "a\n"},
        "-a",
        "a b",
        "t@x:y.z_",
        {"id": "t1"},
        {"id": "t1", "name": "名" * 500},
        {"id": "t1", "name": "名" * 501},
        {"id": "t1", "extra": 1},
        {"name": "x"},
        *ODD,
    ],
    "app": ["PCA Hub", "unknown app", *ODD],
    "action": ["user.create", "user.creat", *ODD],
    "occurred_at": [*TIMES, *ODD],
    "result": ["success", "failure", "x" * 50, "x" * 51, *ODD],
    "level": ["info", "warning", "important", "error", "bogus", *ODD],
    "actor": [
        {"id": "a"},
        {"id": "a", "name": "x" * 500, "login": "", "email": "e", "type": "x" * 50},
        {"id": "a", "type": "x" * 51},
        {"id": ""},
        {"id": 1},
        {"id": "a", "bad": 1},
        "a",
        *ODD,
    ],
    "anonymous": [True, False, 0, 1, "true", "false", None],
    "ip": ["::1", "0:0::1", "2001:DB8::1", "1.2.3", "1.2.3.4 ", "１.２.３.４", "x" * 65, *ODD],
    "user_agent": ["x" * 2000, "x" * 2001, *ODD],
    "targets": [
        [],
        [{"type": "user", "id": "b"}, {"name": "c"}],
        [{}] * 100,
        [{}] * 101,
        [{"id": ""}],
        [{"bogus": 1}],
        [{"type": "x" * 51}],
        "x",
        *ODD,
    ],
    "params": [
        {"login": "jiro", "service": "svc"},
        {"login": 5},
        {"login": None},
        {"login": True, "x": 1.5, "y": None, "z": ["a", "b"]},
        {"login": "jiro", "x": ["a", 1]},
        {"login": "jiro", "x": {"a": 1}},
        {"login": "jiro", "x": "y" * 2000},
        {"login": "jiro", "x": "y" * 2001},
        {"login": "jiro", "x": ["y"] * 100},
        {"login": "jiro", "x": ["y"] * 101},
        {"login": "jiro", "k" * 100: 1},
        {"login": "jiro", "k" * 101: 1},
        {"login": "jiro", **{f"k{n}": n for n in range(99)}},
        {"login": "jiro", **{f"k{n}": n for n in range(100)}},
        {"login": "jiro", **{f"k{n}": "v" * 1990 for n in range(8)}},
        {"login": "jiro", **{f"k{n}": "v" * 1990 for n in range(9)}},
        {"login": "jiro", "": "empty key"},
        {"login": "jiro", "module": "bogus"},
        {"login": "jiro", "x": 2**62, "y": -(2**63)},
        *ODD,
    ],
    "details": [
        {"a": [1, {"b": None, "c": 2.5, "d": True}], "e": "f"},
        {"a": nested(32)},
        {"a": nested(33)},
        {"a": "{[" * 40},
        {"a": "x" * 65_000},
        {"a": "x" * 66_000},
        {"a": 2**63 - 1, "b": -(2**63)},
        {"a": 2**64 - 1},
        {"a": -(2**63) - 1},
        {"a": 2**64},
        [1],
        *ODD,
    ],
    "trace_id": ["x" * 200, *ODD],
    "correlation_id": ["x" * 200, *ODD],
    "error": [
        {"code": "E1", "message": "m"},
        {"code": "x" * 201},
        {"message": "x" * 2001},
        {"x": 1},
        "e",
        *ODD,
    ],
    "bogus": [1, None],
}
MISSING = object()


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event of some type, a few of its fields then changed, left out or added."""
    app, action, results, event_type = draw(st.sampled_from(TYPES))
    result = draw(st.sampled_from(results))
    params: dict[str, Any] = {name: "x" for name in event_type.required_params(result)}
    if event_type.modules:
        params["module"] = draw(st.sampled_from(event_type.modules))
    event = pca_event("t", app=app, action=action, result=result, params=params)
    event["actor"]["name"] = draw(st.text(max_size=3) | st.just("名" * 500))
    for name in draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=3, unique=True)):
        value = draw(st.sampled_from([MISSING, *FIELDS[name]]))
        if value is MISSING:
            event.pop(name, None)
        else:
            event[name] = value
    return event


def checked(item: Any, quickly: bool) -> tuple[Valid | None, list[Problem]]:
    out: list[Problem] = []
    return _validated(item, "events[0]", out, quickly=quickly), out


def prepared(valid: Valid, catalog: Catalog) -> PreparedEvent | list[Problem]:
    out: list[Problem] = []
    found = _check(valid, catalog, _plans_of(catalog), None, "events[0]", out, NOW + MAX_AHEAD)
    if found is None:
        return out
    return _prepare(valid, *found, None, NOW, "2026-11-21T03:00:00.000000Z")


def same(event: PreparedEvent | list[Problem]) -> Any:
    if isinstance(event, list):
        return event
    assert event.search_text == search_text(orjson.loads(event.core))  # as verify checks it
    core = event.core.replace(event.id.encode(), b"ID")
    return replace(event, id="ID", core=core), event.occurred_at.utcoffset()


def agree(item: Any) -> None:
    """Both ways refuse ``item`` with the same problems, or read and prepare it alike."""
    quick, quick_problems = checked(item, quickly=True)
    slow, slow_problems = checked(item, quickly=False)
    assert quick_problems == slow_problems
    assert (quick is None) == (slow is None)
    if quick is None or slow is None:
        return
    assert quick.tenant == slow.tenant
    read = msgspec.structs.replace(quick.event, tenant=quick.tenant, occurred_at=None)
    assert read == slow.event
    assert quick.occurred_at == slow.occurred_at
    if quick.occurred_at is not None and slow.occurred_at is not None:
        assert quick.occurred_at.utcoffset() == slow.occurred_at.utcoffset()
    assert same(prepared(quick, CATALOG)) == same(prepared(slow, CATALOG))


def test_every_listed_change_is_read_alike() -> None:
    for name, values in FIELDS.items():
        for value in [MISSING, *values]:
            event = pca_event("t")
            if value is MISSING:
                event.pop(name, None)
            else:
                event[name] = value
            agree(event)


@settings(max_examples=300, deadline=None)
@given(events())
def test_the_quick_look_agrees_with_the_contract(item: dict[str, Any]) -> None:
    agree(item)


def test_an_integer_beyond_64_bits_is_refused_before_either_look() -> None:
    for number in (2**63, 2**64 - 1, -(2**63) - 1):
        item = pca_event("t", params={"login": "jiro", "n": number}, details={"n": number})
        for quickly in (True, False):
            valid, problems = checked(item, quickly)
            assert valid is None and [p.path for p in problems] == [
                "events[0].details.n",
                "events[0].params.n",
            ]


def test_an_ordinary_event_takes_the_quick_look() -> None:
    event = pca_event("t", occurred_at="2026-11-21T10:00:00.25+09:00", tenant="t")
    valid = look(event, orjson.dumps(event))
    assert valid is not None and valid.tenant.id == "t"
    assert valid.occurred_at == datetime(2026, 11, 21, 1, 0, 0, 250_000, tzinfo=UTC)


def two(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}")


@settings(max_examples=300)
@given(
    st.tuples(
        st.integers(0, 9999).map(lambda n: f"{n:04d}"),
        two(0, 13),
        two(0, 32),
        st.sampled_from("T t"),
        two(0, 25),
        two(0, 61),
        two(0, 61),
        st.text("0123456789", max_size=8).map(lambda f: f".{f}" if f else ""),
        st.sampled_from(["Z", "z", "+", "-", ""]),
        two(0, 25),
        two(0, 99),
    )
)
def test_a_time_is_read_as_the_contract_reads_it(parts: tuple[str, ...]) -> None:
    year, month, day, t, hour, minute, second, fraction, sign, off_h, off_m = parts
    offset = f"{sign}{off_h}:{off_m}" if sign in "+-" and sign else sign
    text = f"{year}-{month}-{day}{t}{hour}:{minute}:{second}{fraction}{offset}"
    item = pca_event("t", occurred_at=text)
    quick, slow = checked(item, quickly=True), checked(item, quickly=False)
    assert quick[1] == slow[1]
    if quick[0] is not None and slow[0] is not None:
        assert quick[0].occurred_at == slow[0].occurred_at
        assert quick[0].occurred_at is not None and slow[0].occurred_at is not None
        assert quick[0].occurred_at.utcoffset() == slow[0].occurred_at.utcoffset()
    else:
        assert quick[0] is None and slow[0] is None
