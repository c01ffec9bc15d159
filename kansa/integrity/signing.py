"""Signed statements about a chain: checkpoints and export manifests, signed with Ed25519.

No I/O: keys come in and go out as PEM bytes, statements as canonical JSON bytes. What is
signed is always the canonical JSON (sorted keys, no spaces, UTF-8) of the statement without
its ``signature``, and the statement names its own ``type``, so a signature over one kind of
statement can never pass for another::

    {"head_hash":"<hex>","key_id":"<16 hex>","seq":<n>,"signed_at":"<UTC time>",
     "tenant":"<id>","type":"kansa.checkpoint.v1"}

A key's id is the first 16 hex digits of the SHA-256 of its raw 32-byte public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kansa.errors import ConfigError
from kansa.timeutil import iso_utc

CHECKPOINT_TYPE = "kansa.checkpoint.v1"
ALGORITHM = "Ed25519"


def canonical(value: Mapping[str, Any]) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement: at ``signed_at`` the chain of ``tenant`` had ``head_hash`` at
    ``seq``."""

    tenant: str
    seq: int
    head_hash: str
    signed_at: str
    """UTC, as :func:`kansa.timeutil.iso_utc` writes it (the exact text that was signed)."""
    key_id: str
    signature: str
    """Base64 of the 64-byte Ed25519 signature over :meth:`payload`."""

    def statement(self) -> dict[str, Any]:
        return {
            "type": CHECKPOINT_TYPE,
            "tenant": self.tenant,
            "seq": self.seq,
            "head_hash": self.head_hash,
            "signed_at": self.signed_at,
            "key_id": self.key_id,
        }

    def payload(self) -> bytes:
        """The bytes the signature covers."""
        return canonical(self.statement())

    def as_dict(self) -> dict[str, Any]:
        return {**self.statement(), "signature": self.signature}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        """A checkpoint as :meth:`as_dict` wrote it; ValueError when it is not one."""
        if not isinstance(data, Mapping) or data.get("type") != CHECKPOINT_TYPE:
            raise ValueError(f"not a {CHECKPOINT_TYPE} statement")
        try:
            checkpoint = cls(
                tenant=data["tenant"],
                seq=data["seq"],
                head_hash=data["head_hash"],
                signed_at=data["signed_at"],
                key_id=data["key_id"],
                signature=data["signature"],
            )
        except KeyError as exc:
            raise ValueError(f"checkpoint lacks {exc.args[0]!r}") from None
        strings = (checkpoint.tenant, checkpoint.head_hash, checkpoint.signed_at)
        if not isinstance(checkpoint.seq, int) or not all(isinstance(s, str) for s in strings):
            raise ValueError("checkpoint fields have the wrong types")
        return checkpoint


class PublicKey:
    """The half of a signing key that anyone may hold: it checks signatures."""

    def __init__(self, key: Ed25519PublicKey) -> None:
        self._key = key
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]

    @classmethod
    def from_pem(cls, pem: bytes) -> PublicKey:
        """A public key from PEM; a private key's PEM gives its public half."""
        if b"PRIVATE KEY" in pem:
            return Signer.from_pem(pem).public_key
        try:
            key = serialization.load_pem_public_key(pem)
        except ValueError as exc:
            raise ConfigError(f"not a PEM public key: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ConfigError(f"not an {ALGORITHM} public key")
        return cls(key)

    def pem(self) -> str:
        return self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def verifies(self, payload: bytes, signature: str) -> bool:
        """Whether ``signature`` (base64) is this key's signature over ``payload``."""
        try:
            self._key.verify(base64.b64decode(signature, validate=True), payload)
        except (InvalidSignature, binascii.Error, ValueError, TypeError):
            return False
        return True

    def checks(self, checkpoint: Checkpoint) -> bool:
        """Whether ``checkpoint`` was signed by this key, unchanged."""
        return checkpoint.key_id == self.key_id and self.verifies(
            checkpoint.payload(), checkpoint.signature
        )


class Signer:
    """The private signing key."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public_key = PublicKey(key.public_key())
        self.key_id = self.public_key.key_id

    @classmethod
    def generate(cls) -> Signer:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> Signer:
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"not an unencrypted PEM private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"the signing key is not an {ALGORITHM} key")
        return cls(key)

    def pem(self) -> bytes:
        """The private key as unencrypted PKCS #8 PEM."""
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def derive(self, label: bytes) -> bytes:
        """A 32-byte secret for one purpose named by ``label``, derived from this key with
        HKDF-SHA256: the same key always gives the same secret, and the secret says nothing
        of the key or of a secret derived for another label."""
        raw = self._key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(raw)

    def sign(self, payload: bytes) -> str:
        return base64.b64encode(self._key.sign(payload)).decode("ascii")

    def checkpoint(self, tenant: str, seq: int, head_hash: str, now: datetime) -> Checkpoint:
        unsigned = Checkpoint(tenant, seq, head_hash, iso_utc(now), self.key_id, "")
        return Checkpoint(
            tenant, seq, head_hash, unsigned.signed_at, self.key_id, self.sign(unsigned.payload())
        )
