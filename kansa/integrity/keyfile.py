"""Where the signing key lives: the ``KANSA_SIGNING_KEY`` setting (PEM text), or a PEM file
(``KANSA_SIGNING_KEY_FILE``; by default ``kansa-signing.key`` beside a SQLite database —
never in the working directory by accident: a PostgreSQL database needs the setting) that
``kansa init`` makes, readable by its owner only.

The secret that signs viewer tokens and console sessions is derived from it (HKDF, see
:func:`token_secret`) unless ``KANSA_SECRET_KEY`` is set: no row of the database holds it,
so whoever can read the database file cannot mint a token."""

from __future__ import annotations

import os
from pathlib import Path

from kansa import private_files
from kansa.dburl import path_of
from kansa.errors import ConfigError
from kansa.integrity.signing import PublicKey, Signer
from kansa.settings import Settings

DEFAULT_NAME = "kansa-signing.key"


def key_path(settings: Settings) -> Path:
    """The key file these settings name, or the one beside their SQLite database; a database
    that is no file (PostgreSQL, SQLite in memory) has nowhere to keep it beside: ConfigError
    asking for the setting."""
    if settings.signing_key_file is not None:
        return settings.signing_key_file
    url = settings.database_url
    if url.startswith("sqlite://"):
        path = path_of(url)
        if path != ":memory:":
            return Path(path).parent / DEFAULT_NAME
    raise ConfigError(
        "the signing key has no default place beside this database: set "
        "KANSA_SIGNING_KEY_FILE (a path, made by 'kansa init') or KANSA_SIGNING_KEY"
    )


def load_signer(settings: Settings) -> Signer:
    """The signing key, from the setting or the file; ConfigError when there is none or the
    file may be read by others."""
    if settings.signing_key is not None:
        return Signer.from_pem(settings.signing_key.get_secret_value().encode())
    path = key_path(settings)
    if not path.exists():
        raise ConfigError(
            f"no signing key at {path}: run 'kansa init' to make one, or set "
            "KANSA_SIGNING_KEY_FILE or KANSA_SIGNING_KEY"
        )
    private_files.check(path, "signing key")
    return Signer.from_pem(path.read_bytes())


TOKEN_SECRET_LABEL = b"kansa viewer tokens and console sessions v1"
"""The HKDF info of the secret derived from the signing key for tokens and sessions."""


def token_secret(settings: Settings) -> bytes:
    """The secret that signs viewer tokens and console sessions: ``KANSA_SECRET_KEY`` when
    set, else derived from the signing key (ConfigError when there is none)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    return load_signer(settings).derive(TOKEN_SECRET_LABEL)


def ensure_signing_key(settings: Settings) -> tuple[Signer, str]:
    """The signing key, made (mode 0600) if the settings name a file that does not exist yet;
    and one line saying which key it is and where it came from."""
    if settings.signing_key is not None:
        signer = load_signer(settings)
        return signer, f"signing key from KANSA_SIGNING_KEY (key id {signer.key_id})"
    path = key_path(settings)
    if path.exists():
        signer = load_signer(settings)
        return signer, f"signing key {path} (key id {signer.key_id})"
    signer = Signer.generate()
    write_key(path, signer)
    return signer, f"signing key created at {path} (key id {signer.key_id}); keep a copy safe"


def read_public_key(path: Path) -> PublicKey:
    """A public key (or a private key's public half) from a PEM file."""
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read key {path}: {exc.strerror}") from None
    return PublicKey.from_pem(pem)


def write_key(path: Path, signer: Signer) -> None:
    """Write ``signer`` as a new PEM file of mode 0600 (never over an existing file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(signer.pem())
