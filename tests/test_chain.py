"""The hash chain finds every kind of tampering and names where."""

from __future__ import annotations

import dataclasses

from kansa.integrity.chain import GENESIS, StoredLink, digest, link, verify


def chain_of(count: int) -> list[StoredLink]:
    links, prev = [], GENESIS
    for seq in range(1, count + 1):
        body = link(b'{"action":"login","n":%d}' % seq, prev, seq)
        hashed = digest(body)
        links.append(StoredLink(seq, body, hashed, prev, {"action": "login"}))
        prev = hashed
    return links


def test_an_intact_chain_verifies() -> None:
    walk = verify("t", chain_of(5))
    assert walk.broken is None and walk.checked == 5 and walk.head_seq == 5


def test_link_bytes_are_canonical_json() -> None:
    assert link(b'{"a":1}', GENESIS, 7) == (
        b'{"event":{"a":1},"prev_hash":"' + GENESIS.encode() + b'","seq":7}'
    )


def test_a_changed_event_is_found() -> None:
    links = chain_of(5)
    links[2] = dataclasses.replace(links[2], body=links[2].body.replace(b"login", b"logout"))
    broken = verify("t", links).broken
    assert broken is not None and broken.seq == 3 and "changed" in broken.reason


def test_a_deleted_event_is_found() -> None:
    links = chain_of(5)
    del links[1]
    broken = verify("t", links).broken
    assert broken is not None and broken.seq == 2 and "missing" in broken.reason


def test_a_reordered_event_is_found() -> None:
    links = chain_of(5)
    links[1], links[2] = links[2], links[1]
    broken = verify("t", links).broken
    assert broken is not None and broken.seq == 2


def test_an_inserted_event_with_a_forged_seq_is_found() -> None:
    links = chain_of(3)
    forged_body = link(b'{"action":"login","n":99}', links[0].hash, 2)
    forged = StoredLink(2, forged_body, digest(forged_body), links[0].hash, {"action": "login"})
    # Renumbering the rest would still break at the event after the forgery.
    links.insert(1, forged)
    broken = verify("t", links).broken
    assert broken is not None and broken.seq == 3


def test_a_column_changed_beside_the_bytes_is_found() -> None:
    links = chain_of(3)
    links[1] = dataclasses.replace(links[1], columns={"action": "logout"})
    broken = verify("t", links).broken
    assert broken is not None and broken.seq == 2 and "'action'" in broken.reason
