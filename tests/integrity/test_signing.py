"""Signed checkpoints and keys: what is signed, and that any change to it is found."""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime

import pytest

from kansa.errors import ConfigError
from kansa.integrity.signing import Checkpoint, PublicKey, Signer

NOW = datetime(2026, 11, 22, 3, 0, 0, 123456, tzinfo=UTC)


def test_a_checkpoint_signs_the_canonical_statement_of_the_head() -> None:
    signer = Signer.generate()
    cp = signer.checkpoint("org-42", 7, "ab" * 32, NOW)
    assert cp.payload() == (
        b'{"head_hash":"' + b"ab" * 32 + b'","key_id":"' + signer.key_id.encode() + b'",'
        b'"seq":7,"signed_at":"2026-11-22T03:00:00.123456Z","tenant":"org-42",'
        b'"type":"kansa.checkpoint.v1"}'
    )
    assert len(base64.b64decode(cp.signature)) == 64
    assert signer.public_key.checks(cp)
    assert Checkpoint.from_dict(cp.as_dict()) == cp


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 8},
        {"head_hash": "cd" * 32},
        {"tenant": "org-43"},
        {"signed_at": "2026-11-22T03:00:01.123456Z"},
    ],
)
def test_any_change_to_a_checkpoint_breaks_its_signature(change: dict[str, object]) -> None:
    signer = Signer.generate()
    cp = signer.checkpoint("org-42", 7, "ab" * 32, NOW)
    assert not signer.public_key.checks(dataclasses.replace(cp, **change))  # type: ignore[arg-type]


def test_another_keys_signature_and_garbage_are_refused() -> None:
    ours, theirs = Signer.generate(), Signer.generate()
    forged = theirs.checkpoint("org-42", 7, "ab" * 32, NOW)
    assert not ours.public_key.checks(forged)
    assert not ours.public_key.checks(dataclasses.replace(forged, key_id=ours.key_id))
    assert not ours.public_key.verifies(b"x", "not base64!")
    assert ours.key_id != theirs.key_id and len(ours.key_id) == 16


def test_keys_round_trip_through_pem() -> None:
    signer = Signer.generate()
    again = Signer.from_pem(signer.pem())
    assert again.key_id == signer.key_id
    public = PublicKey.from_pem(signer.public_key.pem().encode())
    assert public.key_id == signer.key_id
    assert PublicKey.from_pem(signer.pem()).key_id == signer.key_id  # a private key's half
    with pytest.raises(ConfigError, match="not a PEM public key"):
        PublicKey.from_pem(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    with pytest.raises(ConfigError, match="private key"):
        Signer.from_pem(b"hello")


def test_a_statement_that_is_not_a_checkpoint_is_refused() -> None:
    with pytest.raises(ValueError, match="kansa.checkpoint.v1"):
        Checkpoint.from_dict({"type": "kansa.manifest.v1"})
    with pytest.raises(ValueError, match="lacks 'signature'"):
        Checkpoint.from_dict(
            {
                "type": "kansa.checkpoint.v1",
                "tenant": "t",
                "seq": 1,
                "head_hash": "h",
                "signed_at": "s",
                "key_id": "k",
            }
        )
