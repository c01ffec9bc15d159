"""Arrays written out in PostgreSQL's binary form (kansa.store.pgarrays): the server reads
back exactly the values packed, and a value of another type is refused before anything is
sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from kansa.store import pgarrays
from kansa.store.pgarrays import Unpackable, pack
from kansa.store.postgres import configure

TEXTS = [
    "tenant-a",
    "",
    None,
    "山田 太郎 が ログイン しました",
    "emoji 🙂 and \u202e reordering",
    'quote " backslash \\ comma , brace { }',
    "NULL",
    "x" * 5000,
]


@pytest.fixture(scope="module")
def conn(postgres_server: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    with psycopg.connect(postgres_server, autocommit=True) as opened:
        configure(opened)
        yield opened


def read_back(conn: psycopg.Connection[tuple[Any, ...]], cast: str, packed: bytes) -> Any:
    row = conn.execute(f"SELECT %b::{cast}[]", [packed]).fetchone()
    assert row is not None
    return row[0]


def test_texts_come_back_as_they_were_packed(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    assert read_back(conn, "text", pack("text", TEXTS)) == TEXTS


def test_int8_keeps_its_whole_range_and_nulls(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    values = [0, 1, -1, 2**63 - 1, -(2**63), None, 1_764_547_200_000_000]
    assert read_back(conn, "int8", pack("int8", values)) == values


def test_bytes_come_back_byte_for_byte(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    values = [b'{"a":"\xe5\xb1\xb1"}', b"", b"\x00\x01\xff", None]
    assert read_back(conn, "bytea", pack("bytea", values)) == values


def test_index_texts_arrive_as_the_tsvectors_the_server_makes_of_them(
    conn: psycopg.Connection[tuple[Any, ...]],
) -> None:
    texts = ["login yamada", "削除 変更 権限", ""]
    row = conn.execute(
        "SELECT (%b::tsvector[])::text[], ARRAY[%s::tsvector, %s::tsvector, %s::tsvector]::text[]",
        [pack("tsvector", texts), *texts],
    ).fetchone()
    assert row is not None
    assert row[0] == row[1]


def test_an_empty_array_is_empty(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    for kind in pgarrays.KINDS:
        assert read_back(conn, kind, pack(kind, [])) == []


def test_the_statement_is_told_each_arrays_type(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """Sent without a cast, the server still knows the parameter's type from its OID."""
    row = conn.execute(
        "SELECT pg_typeof(%b)::text, pg_typeof(%b)::text",
        [pack("int8", [1]), pack("tsvector", ["a"])],
    ).fetchone()
    assert row == ("bigint[]", "tsvector[]")


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("text", 1),
        ("text", b"bytes"),
        ("text", "\ud800"),  # a lone surrogate: no UTF-8 for it
        ("int8", "1"),
        ("int8", True),
        ("int8", 2**63),
        ("int8", -(2**63) - 1),
        ("bytea", "text"),
        ("tsvector", 3),
    ],
)
def test_a_value_not_of_its_columns_type_is_refused(kind: str, value: Any) -> None:
    with pytest.raises(Unpackable):
        pack(kind, ["fine" if kind in ("text", "tsvector") else None, value])
