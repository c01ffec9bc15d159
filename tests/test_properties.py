"""Properties that must hold for any input, checked with hypothesis: the query language never
fails except with a 400 naming ``q`` and reads back what was written; a CSV file read with
Python's csv module gives back every row, neutralised; canonical bytes do not depend on key
order, and an event's hash changes when any of its fields does. (One-row CSV round trips
are in tests/export/test_csv.py.)"""

from __future__ import annotations

import csv
import io
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kansa.errors import InvalidQuery
from kansa.events.prepare import canonical
from kansa.events.query import Q_FIELDS, parse_q
from kansa.export.csv import BOM, FORMULA_STARTS, csv_chunks
from kansa.integrity.chain import GENESIS, digest, link

LISTS = {"actions", "results", "levels", "categories", "histories", "apps", "groups"}
WORD = st.text(
    st.characters(blacklist_categories=["Cs", "Zs", "Zl", "Zp", "Cc"], blacklist_characters='"'),
    min_size=1,
    max_size=12,
).filter(lambda w: ":" not in w)


@settings(max_examples=300)
@given(st.text(max_size=60))
def test_any_text_is_a_query_or_a_400_naming_q(text: str) -> None:
    try:
        filters = parse_q(text)
    except InvalidQuery as exc:
        assert [p.path for p in exc.problems] == ["q"]
        return
    for term in filters.text:
        assert term.strip() and '"' not in term


@given(
    st.lists(st.tuples(st.sampled_from(sorted(Q_FIELDS)), WORD), max_size=4),
    st.lists(WORD, max_size=3),
    st.booleans(),
)
def test_written_terms_read_back(
    terms: list[tuple[str, str]], words: list[str], quote: bool
) -> None:
    singles: dict[str, str] = {}
    kept: list[tuple[str, str]] = []
    for name, value in terms:  # one value per single-valued field, as the language wants
        target = Q_FIELDS[name]
        if target not in LISTS and singles.setdefault(target, value) != value:
            continue
        kept.append((name, value))
    written = [f'{n}:"{v}"' if quote else f"{n}:{v}" for n, v in kept]
    written += [f'"{w}"' if quote else w for w in words]
    filters = parse_q("  ".join(written))
    for name, value in kept:
        got = getattr(filters, Q_FIELDS[name])
        assert value in got if Q_FIELDS[name] in LISTS else got == value
    assert list(filters.text) == words


CELLS = st.one_of(st.text(max_size=20), st.integers(-(10**12), 10**12), st.none())


@given(
    st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=4).flatmap(
        lambda header: st.tuples(
            st.just(header),
            st.lists(st.lists(CELLS, min_size=len(header), max_size=len(header)), max_size=20),
        )
    ),
    st.sampled_from(["crlf", "lf"]),
    st.integers(64, 4096),
)
def test_every_row_round_trips_through_the_csv_module(
    table: tuple[list[str], list[list[Any]]], newline: str, chunk_chars: int
) -> None:
    header, rows = table
    data = b"".join(csv_chunks(header, rows, newline=newline, chunk_chars=chunk_chars))
    assert data.startswith(BOM)
    read = list(csv.reader(io.StringIO(data[len(BOM) :].decode("utf-8"), newline="")))
    assert len(read) == len(rows) + 1
    for written, original in zip(read, [header, *rows], strict=True):
        for cell, value in zip(written, original, strict=True):
            if value is None:
                assert cell == ""
            elif isinstance(value, int):
                assert cell == str(value)  # numbers are never neutralised
            else:
                assert not cell.startswith(FORMULA_STARTS)
                assert cell == ("'" + value if value.startswith(FORMULA_STARTS) else value)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
EVENTS = st.dictionaries(st.text(min_size=1, max_size=8), JSON, min_size=1, max_size=6)


def shuffled(value: Any, rnd: st.DataObject) -> Any:
    if isinstance(value, dict):
        keys = rnd.draw(st.permutations(list(value)))
        return {k: shuffled(value[k], rnd) for k in keys}
    if isinstance(value, list):
        return [shuffled(v, rnd) for v in value]
    return value


@given(EVENTS, st.data())
def test_canonical_bytes_do_not_depend_on_key_order(
    event: dict[str, Any], data: st.DataObject
) -> None:
    assert canonical(shuffled(event, data)) == canonical(event)


def hashed(event: dict[str, Any], seq: int = 1) -> str:
    return digest(link(canonical(event), GENESIS, seq))


@given(EVENTS, st.data(), JSON)
def test_the_hash_changes_when_any_field_changes(
    event: dict[str, Any], data: st.DataObject, value: Any
) -> None:
    key = data.draw(st.sampled_from(sorted(event)))
    assume(canonical({"v": value}) != canonical({"v": event[key]}))
    before = hashed(event)
    assert hashed({**event, key: value}) != before  # a value changed
    assert hashed({k: v for k, v in event.items() if k != key}) != before  # a field removed
    assert hashed({**event, key + "_": value}) != before or key + "_" in event  # one added
    assert hashed(event, 2) != before  # the seq is hashed too
