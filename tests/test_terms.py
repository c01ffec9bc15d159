"""The terms of the free-text index (kansa.events.terms): words whole, other word characters
by pairs, the tenant's term; what a search term asks of them; and, for any text and any term,
that the index never loses an event the stated rule matches."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from kansa.events.terms import (
    WORD_MAX,
    Needle,
    index_text,
    needle,
    tenant_term,
    terms,
)


def test_ascii_words_are_kept_whole_and_split_at_anything_else() -> None:
    text = "kenta.suzuki7@example.jp\x1f203.0.113.12\x1fuser_name ab-cd"
    assert sorted(terms(text)) == sorted(
        ["kenta", "suzuki7", "example", "jp", "203", "0", "113", "12", "user", "name", "ab", "cd"]
    )


def test_japanese_is_stored_by_pairs_and_a_lone_character_as_itself() -> None:
    found = set(terms("ファイルを削除しました\x1f林 二郎"))
    assert {"削除", "除し", "ファ", "イル", "林", "二郎"} <= found
    assert "削" not in found and "ファイル" not in found


def test_mixed_scripts_and_accented_letters_break_ascii_words() -> None:
    found = set(terms("user変更ok\x1fmüller\x1f東京2"))
    assert {"user", "変更", "ok", "m", "ü", "ller", "東京", "2"} <= found


def test_punctuation_outside_ascii_is_no_part_of_a_term() -> None:
    found = set(terms("「権限」を、変更。"))
    assert found == {"権限", "を", "変更"}


def test_a_long_word_is_kept_by_its_start() -> None:
    assert terms("a" * 300) == ["a" * WORD_MAX]


def test_every_event_carries_its_tenants_term_and_no_word_can_be_it() -> None:
    text = index_text("テナント-1", "ichiro")
    assert text.split() == ["ichiro", tenant_term("テナント-1")]
    assert not tenant_term("x").isalnum()


def test_a_term_is_folded_as_the_stored_text_is_and_also_by_nfkc() -> None:
    assert [f.text for f in needle("Ichiro").forms] == ["ichiro"]
    assert [f.text for f in needle("ＩＣＨＩＲＯ").forms] == ["ｉｃｈｉｒｏ", "ichiro"]
    assert [f.text for f in needle("ｶﾅ").forms] == ["ｶﾅ", "カナ"]


def test_what_a_term_asks_of_the_index() -> None:
    email = needle("kenta.suzuki7@ex").forms[0]
    assert email.prefixes == ("kenta", "suzuki7") and email.words == ("ex", "kenta", "suzuki7")
    ip = needle("203.0.113").forms[0]
    assert ip.prefixes == ("113", "203") and ip.words == ("0", "113", "203")
    assert needle("権限変更").forms[0].pairs == ("変更", "権限", "限変")


def test_a_term_the_index_cannot_serve_is_scanned() -> None:
    for term in ("削", "ab", "-", "a.b", "第2回"):
        assert not needle(term).indexed, term
    for term in ("削除", "abc", "1.2.345", "ＩＤ番号"):
        assert needle(term).indexed, term


# -- the index never loses a match ---------------------------------------------------------

ALPHABET = "abcxyz019 .@-_\x1f削除変更権限ｶﾅカナＩＤüß「」"


def matches(found: Needle, text: str) -> bool:
    """The stated rule (docs/api.md): one form of the term is a substring of the text and
    each of its words starts a word of the text."""
    return any(
        form.text in text and all(re.search(f"(^|[^0-9a-z]){word}", text) for word in form.words)
        for form in found.forms
    )


def served(found: Needle, text: str) -> bool:
    """Whether an index holding ``text``'s terms returns its row for ``found``."""
    stored = set(terms(text))
    return any(
        all(any(t.startswith(p) for t in stored) for p in form.prefixes)
        and all(p in stored for p in form.pairs)
        for form in found.forms
    )


@settings(max_examples=400, deadline=None)
@given(st.text(ALPHABET, max_size=60), st.text(ALPHABET, min_size=1, max_size=8))
def test_the_index_holds_every_row_the_rule_matches(text: str, term: str) -> None:
    text = text.lower()
    found = needle(term)
    if found.indexed and matches(found, text):
        assert served(found, text)


@settings(max_examples=200, deadline=None)
@given(st.text(ALPHABET, max_size=40), st.text(ALPHABET, max_size=40))
def test_a_term_cut_from_a_text_is_found_in_it(before: str, after: str) -> None:
    """A term that is whole words and runs of a text is always found in it."""
    text = f"{before.lower()} ichiro削除 {after.lower()}"
    assert matches(needle("ichiro削除"), text) and served(needle("ichiro削除"), text)
