"""A destination's secret (a webhook signing secret, an S3 secret key, a NATS token), kept
encrypted: AES-256-GCM under a key derived (HKDF-SHA256) from kansa's signing key, so a copy
of the database alone reveals none of them. No I/O here."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kansa.errors import ConfigError
from kansa.integrity.signing import Signer

INFO = b"kansa destination secrets v1"
NONCE = 12


class Sealer:
    """Seals and opens secrets with the key derived from one signing key."""

    def __init__(self, signer: Signer) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(signer.pem())
        self._aead = AESGCM(key)

    def seal(self, secret: str, context: str) -> bytes:
        """``secret`` encrypted, bound to ``context`` (the destination's id)."""
        nonce = os.urandom(NONCE)
        return nonce + self._aead.encrypt(nonce, secret.encode(), context.encode())

    def open(self, sealed: bytes, context: str) -> str:
        """The secret back; ConfigError when another key sealed it (or it was changed)."""
        try:
            return self._aead.decrypt(sealed[:NONCE], sealed[NONCE:], context.encode()).decode()
        except (InvalidTag, ValueError):
            raise ConfigError(
                f"the secret of destination {context} cannot be opened: was the signing key "
                "changed? Set the secret again."
            ) from None
