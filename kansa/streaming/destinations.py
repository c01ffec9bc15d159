"""A destination: where a tenant's log (or, for the operator's, every tenant's) is pushed,
which of its events, and how. Read from what a client sent (:func:`parse_spec`, every problem
named by its path), kept by the store, shown back without its secret. No I/O here."""

from __future__ import annotations

import re
import secrets
from base64 import b64encode
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast, get_args
from urllib.parse import urlsplit

from kansa.errors import InvalidInput, Problem
from kansa.timeutil import iso_utc
from kansa.words import HISTORIES, LEVELS

Kind = Literal["webhook", "nats", "s3", "hec", "otlp", "syslog"]
KINDS: tuple[Kind, ...] = get_args(Kind)
Start = Literal["now", "beginning"]
STARTS: tuple[Start, ...] = get_args(Start)
RESULTS = ("success", "failure")

MAX_BATCH = 5000
DEFAULT_BATCH = 500
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SUBJECT_TOKEN = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
S3_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]{0,200}$")

CONFIG_KEYS: dict[Kind, dict[str, bool]] = {
    # kind -> config key -> required
    "webhook": {"url": True, "timeout": False, "batch_size": False},
    "nats": {"url": True, "subject_prefix": False, "batch_size": False},
    "s3": {
        "endpoint_url": False,
        "bucket": True,
        "prefix": False,
        "region": False,
        "access_key_id": False,
        "batch_size": False,
    },
    "hec": {
        "url": True,
        "index": False,
        "sourcetype": False,
        "ack": False,
        "timeout": False,
        "batch_size": False,
    },
    "otlp": {"url": True, "timeout": False, "batch_size": False},
    "syslog": {
        "host": True,
        "port": False,
        "ca_pem": False,
        "facility": False,
        "hostname": False,
        "batch_size": False,
    },
}
"""The settings of each kind that are not secret (shown back as given)."""
SECRET_OF: dict[Kind, str] = {
    "webhook": "the Standard Webhooks signing secret (whsec_…); made for you when not given",
    "nats": "a token for the NATS server (optional)",
    "s3": "the secret access key that goes with config.access_key_id",
    "hec": "the HEC token (required)",
    "otlp": "a bearer token for the collector (optional)",
    "syslog": "none: the receiver is trusted by config.ca_pem (or the system's CAs)",
}


@dataclass(frozen=True, slots=True)
class Filter:
    """Which events a destination receives; an empty tuple lets every value through."""

    histories: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    action_prefixes: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    results: tuple[str, ...] = ()

    @property
    def everything(self) -> bool:
        return not any(self.as_dict().values())

    def matches(self, columns: Mapping[str, Any]) -> bool:
        """Whether an event with these stored columns passes."""
        action = str(columns.get("action") or "")
        return (
            _allows(self.histories, columns.get("history"))
            and _allows(self.categories, columns.get("category"))
            and _allows(self.levels, columns.get("level"))
            and _allows(self.results, columns.get("result"))
            and (not self.action_prefixes or action.startswith(self.action_prefixes))
        )

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "histories": list(self.histories),
            "categories": list(self.categories),
            "action_prefixes": list(self.action_prefixes),
            "levels": list(self.levels),
            "results": list(self.results),
        }


def _allows(allowed: tuple[str, ...], value: Any) -> bool:
    return not allowed or value in allowed


@dataclass(frozen=True, slots=True)
class Spec:
    """A destination as a client asks for it (the secret in the clear, not yet sealed)."""

    name: str
    kind: Kind
    config: Mapping[str, Any]
    secret: str | None
    filter: Filter = field(default_factory=Filter)
    start: Start = "now"


@dataclass(frozen=True, slots=True)
class Destination:
    """A destination as kept: its secret sealed (see :mod:`kansa.streaming.sealing`)."""

    id: str
    tenant: str | None
    """None: the operator's, for every tenant."""
    name: str
    kind: Kind
    config: Mapping[str, Any]
    sealed: bytes | None
    filter: Filter
    start: Start
    paused: bool
    created_at: datetime

    @property
    def batch_size(self) -> int:
        return int(self.config.get("batch_size", DEFAULT_BATCH))

    def as_dict(self) -> dict[str, Any]:
        """What the API and the CLI show: never the secret, only whether there is one."""
        return {
            "id": self.id,
            "tenant": self.tenant,
            "name": self.name,
            "kind": self.kind,
            "config": dict(self.config),
            "secret": "set" if self.sealed else None,
            "filter": self.filter.as_dict(),
            "start": self.start,
            "paused": self.paused,
            "created_at": iso_utc(self.created_at),
        }


def new_id() -> str:
    return f"dst_{secrets.token_hex(8)}"


def webhook_secret() -> str:
    """A fresh Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + b64encode(secrets.token_bytes(32)).decode("ascii")


def parse_spec(data: Any) -> Spec:
    """The destination ``data`` (a JSON object) asks for; InvalidInput naming every problem
    by its path and the values allowed."""
    problems: list[Problem] = []
    if not isinstance(data, Mapping):
        raise InvalidInput([Problem("", "must be a JSON object")])
    unknown = set(data) - {"name", "kind", "config", "secret", "filter", "start"}
    problems += [Problem(key, "unknown field") for key in sorted(unknown)]
    name = data.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        problems.append(Problem("name", "must be 1-64 letters, digits, '.', '_' or '-'"))
    kind = data.get("kind")
    if kind not in KINDS:
        problems.append(Problem("kind", f"must be one of: {', '.join(KINDS)}"))
    start = data.get("start", "now")
    if start not in STARTS:
        problems.append(Problem("start", f"must be one of: {', '.join(STARTS)}"))
    secret = data.get("secret")
    if secret is not None and (not isinstance(secret, str) or not 1 <= len(secret) <= 500):
        problems.append(Problem("secret", "must be a string of 1-500 characters"))
    config = data.get("config", {})
    if not isinstance(config, Mapping):
        problems.append(Problem("config", "must be a JSON object"))
    elif kind in KINDS:
        problems += config_problems(kind, config)
    if kind == "hec" and secret is None:
        problems.append(Problem("secret", "required for hec: the HEC token"))
    if kind == "webhook" and isinstance(secret, str) and not _is_webhook_secret(secret):
        problems.append(Problem("secret", "must be whsec_ and base64 (Standard Webhooks)"))
    found = _filter(data.get("filter", {}), problems)
    if problems:
        raise InvalidInput(problems)
    if kind == "webhook" and secret is None:
        secret = webhook_secret()
    return Spec(str(name), cast(Kind, kind), dict(config), secret, found, cast(Start, start))


def config_problems(kind: Kind, config: Mapping[str, Any]) -> list[Problem]:
    keys = CONFIG_KEYS[kind]
    problems = [
        Problem(f"config.{key}", f"unknown for {kind}: allowed are {', '.join(keys)}")
        for key in sorted(set(config) - set(keys))
    ]
    problems += [
        Problem(f"config.{key}", f"required for {kind}")
        for key, required in keys.items()
        if required and key not in config
    ]
    for key, value in config.items():
        if key in keys:
            problem = _value_problem(kind, key, value)
            if problem:
                problems.append(Problem(f"config.{key}", problem))
    return problems


def _value_problem(kind: Kind, key: str, value: Any) -> str | None:
    if key == "batch_size":
        ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_BATCH
        return None if ok else f"must be an integer from 1 to {MAX_BATCH}"
    if key in ("port", "facility"):
        top = 65535 if key == "port" else 23
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= top
        return None if ok else f"must be an integer from 0 to {top}"
    if key == "ack":
        return None if isinstance(value, bool) else "must be true or false"
    if key == "timeout":
        ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 120
        return None if ok else "must be a number of seconds above 0, at most 120"
    if key == "ca_pem":
        ok = (
            isinstance(value, str)
            and len(value) <= 20000
            and "-----BEGIN CERTIFICATE-----" in value
        )
        return None if ok else "must be PEM certificates (-----BEGIN CERTIFICATE-----)"
    if not isinstance(value, str) or len(value) > 2000:
        return "must be a string of at most 2000 characters"
    if key in ("url", "endpoint_url"):
        schemes = ("nats", "tls") if kind == "nats" else ("http", "https")
        return _url_problem(value, schemes)
    if key == "subject_prefix":
        return None if SUBJECT_TOKEN.match(value) else "must be NATS subject tokens (a.b.c)"
    if key == "prefix":
        return None if S3_PREFIX.match(value) else "must be a key prefix of safe characters"
    return None if value else "must not be empty"


def _url_problem(value: str, schemes: tuple[str, ...]) -> str | None:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - a port out of range raises here
    except ValueError:
        return "is not a URL"
    if parts.scheme not in schemes or not parts.hostname:
        return f"must be a URL with scheme {' or '.join(schemes)} and a host"
    if parts.password:
        return "must not hold a password: give it as the secret"
    return None


def _is_webhook_secret(secret: str) -> bool:
    from base64 import b64decode
    from binascii import Error

    if not secret.startswith("whsec_"):
        return False
    try:
        return len(b64decode(secret[6:], validate=True)) >= 16
    except (Error, ValueError):
        return False


FILTER_VALUES: dict[str, tuple[str, ...] | None] = {
    "histories": HISTORIES,
    "categories": None,
    "action_prefixes": None,
    "levels": LEVELS,
    "results": RESULTS,
}


def _filter(data: Any, problems: list[Problem]) -> Filter:
    if not isinstance(data, Mapping):
        problems.append(Problem("filter", "must be a JSON object"))
        return Filter()
    values: dict[str, tuple[str, ...]] = {}
    for key in sorted(set(data) - set(FILTER_VALUES)):
        problems.append(
            Problem(f"filter.{key}", f"unknown: allowed are {', '.join(FILTER_VALUES)}")
        )
    for key, allowed in FILTER_VALUES.items():
        given = data.get(key, [])
        path = f"filter.{key}"
        if not isinstance(given, list) or not all(
            isinstance(v, str) and 0 < len(v) <= 200 for v in given
        ):
            problems.append(Problem(path, "must be a list of strings"))
            continue
        wrong = [v for v in given if allowed is not None and v not in allowed]
        if wrong:
            problems.append(Problem(path, f"must be among: {', '.join(allowed or ())}"))
        values[key] = tuple(given)
    return Filter(**values)


def filter_of(data: Mapping[str, Any]) -> Filter:
    """A stored filter read back (it was checked when it was made)."""
    return Filter(**{key: tuple(data.get(key, ())) for key in FILTER_VALUES})
