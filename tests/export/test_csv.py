"""The CSV writer alone: bytes checked with Python's own csv reader, an independent parser."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kansa.export.csv import FORMULA_STARTS, Cell, Tally, csv_chunks, is_formula
from kansa.visible import REORDERING, visible


def write(
    header: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    encoding: str = "utf-8",
    newline: str = "crlf",
    tally: Tally | None = None,
) -> bytes:
    return b"".join(csv_chunks(header, rows, encoding=encoding, newline=newline, tally=tally))


def parse(data: bytes, encoding: str = "utf-8-sig") -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding), newline="")))


def test_utf8_with_bom_crlf_header_and_every_string_quoted() -> None:
    data = write(["日時", "内容"], [["2026/11/21 10:00:00", 'a "quoted" word'], [None, 42]])
    assert data.startswith(b"\xef\xbb\xbf")
    text = data[3:].decode()
    assert text == ('"日時","内容"\r\n"2026/11/21 10:00:00","a ""quoted"" word"\r\n"",42\r\n')
    assert parse(data) == [["日時", "内容"], ["2026/11/21 10:00:00", 'a "quoted" word'], ["", "42"]]


def test_lf_on_request_and_line_breaks_stay_inside_their_quotes() -> None:
    data = write(["a", "b"], [["one\r\ntwo", "x\ny"]], newline="lf")
    assert data[3:] == b'"a","b"\n"one\r\ntwo","x\ny"\n'
    assert parse(data)[1] == ["one\r\ntwo", "x\ny"]


@pytest.mark.parametrize(
    "value", ["=1+1", "+81 3", "-2", "@SUM(A1)", "\tx", "\rx", "\nx", '=HYPERLINK("http://x")']
)
def test_formulas_are_neutralised(value: str) -> None:
    cells = parse(write(["v"], [[value]]))[1]
    assert cells == ["'" + value]


@pytest.mark.parametrize(
    "value",
    [
        "＝1+1",
        "＋81 3",
        "－2",
        "＠SUM(A1)",
        " =1+1",
        "\u00a0=1",
        "\u200b=1",
        "\u3000＝1",
        "\ufeff@x",
    ],
)
def test_full_width_and_disguised_formulas_are_neutralised(value: str) -> None:
    cells = parse(write(["v"], [[value]]))[1]
    assert cells == ["'" + value]


def test_a_right_to_left_override_is_written_out_not_obeyed() -> None:
    cells = parse(write(["v"], [["invoice\u202efdp.exe", "\u202e=1"]]))[1]
    assert cells == ["invoice<U+202E>fdp.exe", "<U+202E>=1"]
    assert parse(write(["\u2067h"], []))[0] == ["<U+2067>h"]


def test_numbers_are_not_neutralised_nor_quoted_and_booleans_are_words() -> None:
    data = write(["n", "f", "b"], [[-5, 1.5, True]])
    assert data.endswith(b'-5,1.5,"true"\r\n')


def test_cp932_maps_windows_twins_and_counts_what_it_cannot_hold() -> None:
    tally = Tally()
    data = write(["内容"], [["10〜20 ‖ −1 ¢£¬ — 😀 ?"]], encoding="cp932", tally=tally)
    assert not data.startswith(b"\xef\xbb\xbf")
    assert b"\x81\x60" in data  # 〜 as Windows writes it
    assert parse(data, "cp932")[1] == ["10～20 ∥ －1 ￠￡￢ ― ? ?"]
    assert tally.unmappable == 1 and tally.rows == 1 and tally.bytes == len(data)


def test_chunks_are_bounded_and_rows_are_counted_as_they_go() -> None:
    tally = Tally()
    produced = 0

    def rows() -> Iterator[list[Cell]]:
        nonlocal produced
        for n in range(10_000):
            produced += 1
            yield [f"row {n}", n]

    chunks = csv_chunks(["a", "b"], rows(), tally=tally, chunk_chars=4096)
    first = next(chunks)
    assert 4096 <= len(first) < 8192 and produced < 10_000
    rest = list(chunks)
    assert max(len(c) for c in rest) < 8192
    assert tally.rows == 10_000 and tally.bytes == len(first) + sum(map(len, rest))
    assert len(parse(first + b"".join(rest))) == 10_001


def test_an_unknown_encoding_or_newline_is_refused() -> None:
    with pytest.raises(ValueError, match="encoding"):
        write(["a"], [], encoding="latin-1")
    with pytest.raises(ValueError, match="newline"):
        write(["a"], [], newline="cr")


@given(st.lists(st.text(), min_size=1, max_size=5), st.sampled_from(["crlf", "lf"]))
def test_any_string_round_trips_through_the_csv_module(cells: list[str], newline: str) -> None:
    data = write(["h"] * len(cells), [cells], newline=newline)
    assert data.startswith(b"\xef\xbb\xbf")
    _, row = parse(data)
    for written, original in zip(row, cells, strict=True):
        assert not is_formula(written)
        shown = visible(original)
        assert shown == original or any(c in original for c in REORDERING)
        neutralised = original.startswith(FORMULA_STARTS) or is_formula(shown)
        assert (written[1:] if neutralised else written) == shown
        assert written.startswith("'") or not neutralised
