"""One signing key per database, with its history: the public half of every key that signed
the database's checkpoints is registered in the database (``signing_keys``), the newest one
current. ``kansa init`` registers the first key (an older database registers the key that
first signs for it); a server or command holding any other key is refused, naming the key id
the database expects; ``kansa key rotate`` registers a new current key and keeps the old
ones, so ``kansa verify`` checks every checkpoint with the key that signed it."""

from __future__ import annotations

from datetime import datetime

from kansa.errors import ConfigError, Conflict
from kansa.integrity.signing import PublicKey, Signer
from kansa.records import SigningKey
from kansa.store import Store
from kansa.timeutil import iso_utc, utcnow


def current(keys: list[SigningKey]) -> SigningKey | None:
    """The key not retired (the newest registered)."""
    return next((k for k in reversed(keys) if k.retired_at is None), None)


def check_signer(store: Store, signer: Signer, source: str = "the signing key") -> SigningKey:
    """``signer`` if it is the database's current key — registered now if the database has
    none yet; ConfigError naming the key id the database expects otherwise."""
    keys = store.signing_keys()
    if not keys:
        try:
            keys = store.register_signing_key(signer.key_id, signer.public_key.pem(), at=utcnow())
        except Conflict:  # another process registered it at the same moment
            keys = store.signing_keys()
    now_current = current(keys)
    assert now_current is not None, "a registered key is current until a rotation replaces it"
    if now_current.key_id == signer.key_id:
        return now_current
    replaced = next((k for k in keys if k.key_id == signer.key_id), None)
    if replaced is not None and replaced.retired_at is not None:
        raise ConfigError(
            f"{source} is key id {signer.key_id}, replaced by key id {now_current.key_id} at "
            f"{iso_utc(replaced.retired_at)} ('kansa key rotate'): this database expects key "
            f"id {now_current.key_id}"
        )
    raise ConfigError(
        f"{source} is key id {signer.key_id}, but this database's signing key is key id "
        f"{now_current.key_id}: give kansa that key (KANSA_SIGNING_KEY_FILE or "
        "KANSA_SIGNING_KEY); one database has one signing key"
    )


def public_keys(store: Store) -> list[PublicKey]:
    """Every registered key's public half, oldest first: the keys verify trusts."""
    return [PublicKey.from_pem(k.public_key.encode()) for k in store.signing_keys()]


def rotate(store: Store, new: Signer, now: datetime) -> list[SigningKey]:
    """Make ``new`` the current key, the one it replaces kept (retired) for verification."""
    return store.register_signing_key(new.key_id, new.public_key.pem(), at=now, replace=True)
