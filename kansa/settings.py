"""kansa's settings: one typed object, read from ``KANSA_*`` environment variables, ``.env``
and the TOML file ``KANSA_CONFIG`` names (in that order of precedence), passed to whatever
needs it. :func:`load_settings` refuses a name that is no setting. Every setting is listed in
docs/operations.md."""

from __future__ import annotations

import os
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from kansa import private_files
from kansa.config import ConfigFile, describe, unknown_variables
from kansa.errors import ConfigError, SettingError

PLACEHOLDERS = ("changeme", "secret", "password", "placeholder")
"""Words no random secret holds: a secret_key with one in it (any case, any separators:
``Change-Me-...``) was typed by a person, and is refused."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KANSA_", env_file=".env", extra="forbid")

    config: Path | None = Field(
        default=None,
        description="A TOML file of settings (keys without the prefix); the environment "
        "overrides it.",
    )

    database_url: str = Field(
        default="sqlite:///./kansa.db",
        description="Where events are kept: sqlite:///path/to/file.db or postgresql://...",
    )
    database_url_file: Path | None = Field(
        default=None,
        description="A file (mode 0600 or 0400) holding the database URL, instead of "
        "KANSA_DATABASE_URL: the password stays out of the environment and of ps.",
    )
    read_database_url: str | None = Field(
        default=None,
        description="PostgreSQL only: where searches, the console and exports read, e.g. "
        "the synchronous standby (remote_apply) before the primary: postgresql://standby,"
        "primary/db?target_session_attrs=prefer-standby. Unset: the database URL.",
    )
    catalogs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Extra catalog files (comma-separated), loaded beside the shipped ones.",
    )
    layouts: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Extra layout files (comma-separated), loaded beside the shipped ones.",
    )
    screens: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Extra console screen files (comma-separated), loaded beside the shipped ones.",
    )
    max_body_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1024, description="Largest request body accepted (413 above)."
    )
    max_batch: int = Field(
        default=1000, ge=1, le=100_000, description="Most events in one publish request."
    )
    commit_max_events: int = Field(
        default=5000,
        ge=1,
        description="Most events the writer commits in one transaction when requests queue up.",
    )
    writer_process: bool = Field(
        default=True,
        description="Commit events in a process of its own, off the event loop's interpreter "
        "lock (false: in a thread of the serving process). An in-memory SQLite database is "
        "always written in a thread.",
    )
    writer_socket: str | None = Field(
        default=None,
        description="Set by `kansa serve --workers N` for its workers: the Unix socket of the "
        "one writer process they share, which commits every worker's events. Not for setting "
        "by hand.",
    )
    rate_limit_per_second: float = Field(
        default=5000,
        ge=0,
        description="Requests per second one API key or token may make, per process "
        "(token bucket); 0 turns the limit off.",
    )
    rate_limit_burst: int = Field(
        default=10_000,
        ge=1,
        description="Requests one key may make at once above its rate before it is refused.",
    )
    trusted_proxies: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(
        default_factory=list,
        description="Proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For is believed.",
    )
    create_tenants: bool = Field(
        default=True,
        description="A publish for a tenant not created beforehand creates it; false: such "
        "a publish is refused (422 naming tenant.id).",
    )
    key_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long a checked API key is trusted before it is read again.",
    )

    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs viewer tokens and console sessions (32+ characters). Unset: "
        "derived from the signing key (HKDF), so no row of the database holds it.",
    )
    signin_max_failures: int = Field(
        default=5, ge=1, description="Wrong passwords in a row that lock an account."
    )
    signin_lock_minutes: int = Field(
        default=15, ge=1, description="How long a locked account stays locked."
    )
    signin_ip_max_failures: int = Field(
        default=20,
        ge=1,
        description="Failed sign-ins from one client address, any login, before that "
        "address is refused for a while.",
    )
    signin_ip_window_minutes: int = Field(
        default=15,
        ge=1,
        description="The window those failures are counted in, and how long the refusal lasts.",
    )
    session_minutes: int = Field(
        default=30,
        ge=1,
        le=24 * 60,
        description="How long a console session lasts without use (renewed while in use).",
    )

    signing_key: SecretStr | None = Field(
        default=None,
        description="The Ed25519 key that signs checkpoints and export manifests, as PEM text. "
        "Unset: the key file.",
    )
    signing_key_file: Path | None = Field(
        default=None,
        description="The signing key's PEM file (made by kansa init, mode 0600). Unset: "
        "kansa-signing.key beside a SQLite database; required for PostgreSQL.",
    )
    checkpoint_every_events: int = Field(
        default=1000, ge=1, description="kansa serve signs a tenant's head after this many events."
    )
    checkpoint_every_minutes: float = Field(
        default=10,
        gt=0,
        description="...or when its last checkpoint is this old and events came since.",
    )
    purge_at: str | None = Field(
        default="03:00",
        description="Time of day (UTC, HH:MM) when kansa serve purges expired events; "
        "'off' for never.",
    )

    # -- running it: logs, metrics, readiness, jobs (kansa serve) --------------------------
    log_format: Literal["json", "text"] = Field(
        default="json",
        description="How kansa serve writes its log lines: one JSON object a line, or text.",
    )
    metrics_address: str | None = Field(
        default=None,
        description="HOST:PORT where kansa serve serves Prometheus metrics (/metrics), apart "
        "from the API. Unset: no metrics are served.",
    )
    metrics_max_tenants: int = Field(
        default=1000,
        ge=0,
        description="Most tenants given series of their own in the metrics (chain head, "
        "checkpoint age); the rest are counted only.",
    )
    ready_min_free_mb: int = Field(
        default=100,
        ge=0,
        description="/readyz fails when the SQLite database's directory has less free space.",
    )
    jobs: bool = Field(
        default=True,
        description="Whether this process signs checkpoints and purges in the background "
        "(kansa serve --workers runs them in its own process and turns this off in the workers).",
    )

    deliver: bool = Field(
        default=True,
        description="Whether this process delivers to streaming destinations in the background "
        "(kansa serve; every process may: they share the work). kansa deliver runs it alone.",
    )
    delivery_lease_seconds: float = Field(
        default=30.0,
        ge=1.0,
        le=3600.0,
        description="How long a delivering process holds a destination's cursor for a tenant; "
        "after a crash, another process takes the cursor over once this has passed. Keep it "
        "above the slowest receiver's answer.",
    )

    @field_validator("metrics_address")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        host, _, port = value.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be HOST:PORT, such as 127.0.0.1:9464")
        return value.strip()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        before = (init_settings, env_settings, dotenv_settings)
        return (*before, ConfigFile(settings_cls, before), file_secret_settings)

    @field_validator("purge_at")
    @classmethod
    def _time_of_day(cls, value: str | None) -> str | None:
        if value is None or value.strip().lower() in ("", "off", "never"):
            return None
        hours, _, minutes = value.strip().partition(":")
        if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
            raise ValueError("must be a time of day HH:MM (UTC) or 'off'")
        if int(hours) > 23 or int(minutes) > 59:
            raise ValueError("must be a time of day HH:MM (UTC) or 'off'")
        return f"{int(hours):02d}:{minutes}"

    @field_validator("secret_key")
    @classmethod
    def _strong(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        text = value.get_secret_value()
        if len(text) < 32 or len(set(text)) < 8:
            raise ValueError("must be at least 32 random characters")
        letters = "".join(c for c in text.lower() if c.isalnum())
        if any(word in letters for word in PLACEHOLDERS):
            raise ValueError("must be random characters, not a placeholder such as 'changeme'")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        if isinstance(value, str):
            value = [p.strip() for p in value.split(",") if p.strip()]
        if isinstance(value, list | tuple):
            try:
                return [ip_network(str(p).strip(), strict=False) for p in value]
            except ValueError as exc:
                raise ValueError(f"must be IP addresses or CIDRs, comma-separated: {exc}") from None
        return value

    @field_validator("database_url_file")
    @classmethod
    def _url_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            read_url_file(value)
        return value

    @model_validator(mode="after")
    def _url_from_file(self) -> Settings:
        if self.database_url_file is not None:
            if "database_url" in self.model_fields_set:
                raise ValueError("set KANSA_DATABASE_URL or KANSA_DATABASE_URL_FILE, not both")
            self.database_url = read_url_file(self.database_url_file)
        return self

    @field_validator("catalogs", "layouts", "screens", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [Path(p.strip()) for p in value.split(",") if p.strip()]
        return value


SECRET = ("secret_key", "signing_key", "database_url", "read_database_url")
"""Settings whose value an error message never repeats."""


def read_url_file(path: Path) -> str:
    """The database URL the file at ``path`` holds (its first line); ValueError when it
    cannot be read, is empty, or others may read it."""
    try:
        private_files.check(path, "database URL file")
        text = path.read_text(encoding="utf-8").strip()
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not text:
        raise ValueError(f"{path} holds no database URL")
    return text.splitlines()[0].strip()


def load_settings(**values: Any) -> Settings:
    """The settings, with ``values`` over the environment over the file: a ``KANSA_*``
    variable that is no setting, or a value of the wrong type or out of range, is a
    :class:`SettingError` of one line."""
    fields = Settings.model_fields
    unknown = unknown_variables(os.environ, fields)
    if unknown:
        raise SettingError(unknown[0] + (f" (and {len(unknown) - 1} more)" if unknown[1:] else ""))
    try:
        return Settings(**values)
    except ValidationError as exc:
        config = values.get("config") or os.environ.get("KANSA_CONFIG")
        raise SettingError(
            describe(exc, fields, SECRET, Path(config) if config else None)
        ) from None
