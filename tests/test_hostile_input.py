"""Input a client can send never makes kansa answer 5xx: every route of the API and of the
console, every parameter it reads, each given values that broke it once — out-of-range
dates, NUL, over-long numbers and lists, non-ASCII bytes in credentials — on every engine.
The one 5xx allowed is 503 with Retry-After (the database away), which none of these is."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from kansa.access import tokens
from kansa.catalog import Catalog
from kansa.server.app import create_app
from kansa.server.runtime import Runtime
from kansa.store import Store
from kansa.timeutil import utcnow
from tests.helpers import new_key
from tests.web.seed import seed

HOSTILE = [
    "\x00",
    "a\x00b",
    "9999-12-31",
    "0001-01-01",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "99999999999999999999999999",
    "-99999999999999999999999999",
    "%",
    "_",
    "日本語",
    "a" * 3000,
    "",
]
"""Values every parameter is given, one at a time."""

API_PARAMS = {
    "/api/v1/events": [
        "tenant", "from", "to", "history", "category", "action", "group", "result", "level",
        "actor", "ip", "target", "service", "app", "trace", "job", "q", "sort", "order",
        "limit", "cursor", "lang",
    ],
    "/api/v1/exports/events": [
        "tenant", "from", "to", "format", "encoding", "newline", "lang", "action", "q", "ip",
    ],
    "/api/v1/checkpoints": ["tenant", "after", "limit"],
    "/api/v1/catalog": ["product", "lang"],
}  # fmt: skip
CONSOLE_PARAMS = {
    "/console/log": [
        "tab", "from", "to", "actor", "target", "service", "action", "group", "category",
        "module", "text", "history", "result", "level", "sort", "order", "cursor", "lang", "m",
    ],
    "/console/own": ["tab", "from", "to", "actor", "result", "sort", "order", "cursor", "lang"],
    "/console/download": ["tab", "from", "to", "fragment", "lang"],
    "/console/columns": ["tab", "back", "fragment", "lang"],
    "/console/signin": ["m", "lang"],
}  # fmt: skip


@pytest.fixture
def site(runtime: Runtime, store: Store, catalog: Catalog) -> Iterator[tuple[TestClient, str]]:
    tenants = seed(store, catalog, uuid.uuid4().hex[:8])
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as client:
        yield client, tenants["cybozu"]


def no_server_error(reply: object, what: str) -> None:
    status = reply.status_code  # type: ignore[attr-defined]
    if status == 503:
        assert reply.headers.get("retry-after"), what  # type: ignore[attr-defined]
        return
    assert status < 500, f"{what}: {status} {reply.text[:300]}"  # type: ignore[attr-defined]


def test_no_api_parameter_value_is_a_server_error(
    site: tuple[TestClient, str], store: Store
) -> None:
    client, tenant = site
    auth = {"Authorization": f"Bearer {new_key(store)}"}
    for path, names in API_PARAMS.items():
        for name in names:
            for value in HOSTILE:
                params = {"tenant": tenant, name: value}
                no_server_error(client.get(path, params=params, headers=auth), f"{path} {name}")
    many = {"tenant": tenant, "q": " ".join(f"w{n}" for n in range(1000))}
    no_server_error(client.get("/api/v1/events", params=many, headers=auth), "q 1000 words")
    prefixes = ",".join(f"a{n}.*" for n in range(1500))
    wide = {"tenant": tenant, "action": prefixes}
    no_server_error(client.get("/api/v1/events", params=wide, headers=auth), "1500 prefixes")


def test_no_console_parameter_value_is_a_server_error(
    site: tuple[TestClient, str], runtime: Runtime
) -> None:
    client, tenant = site
    minted = tokens.mint(
        runtime.secret_key(), tenant=tenant, actor_id="admin", name="a", role="admin",
        ttl=600, now=utcnow(),
    )  # fmt: skip
    assert client.get(f"/console/enter?token={minted.token}").status_code == 200
    for path, names in CONSOLE_PARAMS.items():
        for name in names:
            for value in HOSTILE:
                no_server_error(client.get(path, params={name: value}), f"{path} {name}")
    # the console's own form: a module with an action that is not in it
    asked = {"tab": "operation", "module": "スケジュール", "action": "no.such.action"}
    no_server_error(client.get("/console/log", params=asked), "module and a foreign action")
    signin = {"tenant": tenant, "login": "a\x00", "password": "x", "csrf": "x"}
    no_server_error(client.post("/console/signin", data=signin), "NUL in a form")


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("token", "caf\xe9"),
        ("cookie", "kansa_session=\xff\xfe"),
        ("cookie", "kansa_signin=\xe9t\xe9"),
        ("csrf", "\xe9"),
    ],
)
def test_non_ascii_bytes_in_credentials_are_refused_not_a_server_error(
    site: tuple[TestClient, str], where: str, value: str
) -> None:
    client, _ = site
    raw = value.encode("latin-1")
    if where == "token":
        reply = client.get("/console/enter", params={"token": value})
    elif where == "cookie":
        reply = client.get("/console/log", headers={b"cookie": raw})
    else:
        client.get("/console/signin")
        reply = client.post("/console/signin", data={"csrf": value, "login": "x"})
    no_server_error(reply, f"{where} {value!r}")
    api = client.get("/api/v1/events", headers={b"authorization": b"Bearer " + raw})
    no_server_error(api, f"authorization {value!r}")
