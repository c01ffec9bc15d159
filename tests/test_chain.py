"""The hash chain finds every kind of tampering and names where."""

from __future__ import annotations

import dataclasses

from kansa.integrity.chain import (
    GENESIS,
    Chains,
    Head,
    StoredLink,
    digest,
    extend,
    link,
    verify,
)


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


def test_a_step_links_an_event_onto_the_head_and_moves_it() -> None:
    stored, head = Head().step(b'{"a":1}')
    assert stored.seq == 1 and stored.prev_hash == GENESIS
    assert stored.body == link(b'{"a":1}', GENESIS, 1) and stored.hash == digest(stored.body)
    assert head == Head(1, stored.hash)
    after, _ = head.step(b'{"a":2}')
    assert after.seq == 2 and after.prev_hash == stored.hash


def test_two_successive_steps_make_one_chain_that_verifies() -> None:
    first, head = extend(Head(), [b'{"n":1}', b'{"n":2}'])
    second, head = extend(head, [b'{"n":3}', b'{"n":4}'])
    walk = verify("t", first + second)
    assert walk.broken is None and walk.checked == 4
    assert (walk.head_seq, walk.head_hash) == (head.seq, head.hash) == (4, second[-1].hash)
    changed = dataclasses.replace(second[0], body=second[0].body.replace(b"3", b"5"))
    broken = verify("t", [*first, changed, second[1]]).broken
    assert broken is not None and broken.seq == 3 and "changed" in broken.reason


def test_chains_keep_one_head_per_tenant_and_name_those_that_moved() -> None:
    _, start = extend(Head(), [b'{"n":1}', b'{"n":2}'])
    chains = Chains({"a": start, "idle": Head()})
    first_a, first_b = chains.extend("a", b'{"n":3}'), chains.extend("b", b'{"n":1}')
    second_a = chains.extend("a", b'{"n":4}')
    assert (first_a.seq, first_a.prev_hash) == (3, start.hash)
    assert (first_b.seq, first_b.prev_hash) == (1, GENESIS)
    assert second_a.prev_hash == first_a.hash
    assert chains.moved == {"a": Head(4, second_a.hash), "b": Head(1, first_b.hash)}
    assert chains.heads["idle"] == Head()


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
