"""A pruned event's commitment gives back its hash from its link alone, on either backend, and
nothing else gives it."""

from __future__ import annotations

import pytest

from kansa.integrity import commitment
from kansa.integrity.chain import Head
from kansa.integrity.commitment import Commitment, LibCrypto, PurePython, commit, resume


@pytest.mark.parametrize("size", [0, 1, 40, 54, 55, 63, 64, 65, 119, 128, 1000, 4097])
def test_the_commitment_gives_back_the_hash(size: int) -> None:
    core = b'{"name":"' + b"x" * size + b'","v":1}'
    stored, _ = Head(41, "ab" * 32).step(core)
    kept = Commitment.from_bytes(commit(stored.body, stored.prev_hash, 42).to_bytes())
    assert len(kept.tail) < 64 and b"x" * 64 not in kept.to_bytes()
    assert resume(kept, stored.prev_hash, 42) == stored.hash
    assert resume(kept, "cd" * 32, 42) != stored.hash  # another link: another hash
    assert resume(kept, stored.prev_hash, 43) != stored.hash


def test_both_backends_agree() -> None:
    data = bytes(range(256)) * 5
    python = PurePython()
    assert python.state_after(data[:640]) == commitment._backend.state_after(data[:640])
    state = python.state_after(data[:640])
    assert python.finish(state, 640, data[640:]) == commitment._backend.finish(
        state, 640, data[640:]
    )
    if not isinstance(commitment._backend, LibCrypto):
        pytest.skip("libcrypto not loaded here: only the Python backend ran")


def test_a_body_that_does_not_end_with_its_link_is_refused() -> None:
    stored, _ = Head().step(b'{"v":1}')
    with pytest.raises(ValueError, match="link"):
        commit(stored.body, stored.prev_hash, 2)
    with pytest.raises(ValueError):
        Commitment.from_bytes(b"short")
