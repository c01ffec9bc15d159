"""kansa's API against its own OpenAPI description, with requests schemathesis makes up: on
every engine, no request is a server error, and every answer — status, content type, body,
headers — is one the description promises. Authenticated with a publish+read key bound to a
tenant that holds a few events, so reads get past the door."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import checks

from kansa.server.app import create_app
from kansa.server.runtime import Runtime
from kansa.settings import Settings
from kansa.store import Store
from tests.helpers import new_key, pca_event

EXAMPLES = 15
"""Cases per operation and engine: the whole run stays within seconds."""
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture
def fuzz_auth(client: TestClient, store: Store, tenant_id: str) -> dict[str, str]:
    store.create_tenant(tenant_id, name="ファズ", layout="pca-id", tz="Asia/Tokyo", lang="ja")
    key = new_key(store, tenant=tenant_id)
    auth = {"Authorization": f"Bearer {key}"}
    batch = {"events": [pca_event(tenant_id, n) for n in range(1, 4)]}
    assert client.post("/api/v1/events", json=batch, headers=auth).status_code == 201
    return auth


def description() -> dict[str, Any]:
    """The OpenAPI description the app serves (it does not depend on the database)."""
    runtime = Runtime.from_settings(Settings(database_url="sqlite:///:memory:"))
    try:
        return create_app(runtime=runtime).openapi()
    finally:
        runtime.store.close()


schema = schemathesis.openapi.from_dict(description())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_its_description(
    case: schemathesis.Case, client: TestClient, fuzz_auth: dict[str, str]
) -> None:
    kwargs = case.as_transport_kwargs(headers=fuzz_auth)
    kwargs.pop("cookies", None)
    if isinstance(kwargs.get("data"), bytes | str):
        kwargs["content"] = kwargs.pop("data")  # raw bytes, as httpx wants them said
    response = client.request(**kwargs)
    case.validate_response(response, checks=CHECKS)
