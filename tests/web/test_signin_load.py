"""Sign-in under load, through the real app on every engine: attempts in flight count
against the address's throttle (so parallel guesses cannot all be checked), and password
hashing has threads of its own (so a burst of sign-ins does not hold up the API)."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
from fastapi import FastAPI

from kansa.server.app import create_app
from kansa.server.runtime import Runtime
from kansa.store import Store
from tests.helpers import new_key
from tests.web.test_auth import console_events


def client_of(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def attempts(
    http: httpx.AsyncClient, tenant: str, login: str, password: str, count: int
) -> list[int]:
    """``count`` sign-ins sent at once, sharing one sign-in form; their statuses."""
    form = await http.get("/console/signin")
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert found is not None
    data = {"tenant": tenant, "login": login, "password": password, "csrf": found.group(1)}
    answers = await asyncio.gather(*(http.post("/console/signin", data=data) for _ in range(count)))
    return [a.status_code for a in answers]


def test_parallel_failures_are_checked_no_more_than_the_limit(
    runtime: Runtime, store: Store, kddi: str
) -> None:
    limit = runtime.settings.signin_ip_max_failures

    async def burst() -> list[int]:
        async with client_of(create_app(runtime=runtime), "198.51.100.40") as http:
            return await attempts(http, kddi, "admin", "not the password", 100)

    statuses = asyncio.run(burst())
    checked = [e for e in console_events(store, kddi) if e["action"] == "console.signin_failed"]
    assert len(checked) <= limit, f"{len(checked)} of 100 parallel guesses were checked"
    assert statuses.count(401) == len(checked) and statuses.count(429) == 100 - len(checked)


def test_a_burst_of_sign_ins_does_not_hold_up_an_api_search(
    runtime: Runtime, store: Store, kddi: str
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"signin_ip_max_failures": 1000})
    app = create_app(runtime=runtime)
    auth = {"Authorization": f"Bearer {new_key(store)}"}

    async def search(http: httpx.AsyncClient) -> float:
        started = time.perf_counter()
        answer = await http.get("/api/v1/events", params={"tenant": kddi}, headers=auth)
        assert answer.status_code == 200
        return time.perf_counter() - started

    async def measure() -> tuple[float, float]:
        async with client_of(app, "198.51.100.41") as http:
            quiet = min([await search(http) for _ in range(3)])
            signing_in = asyncio.ensure_future(attempts(http, kddi, "u-jiro", "wrong-guess!", 40))
            await asyncio.sleep(0.3)  # the burst is under way
            during = max([await search(http) for _ in range(3)])
            assert not signing_in.done(), "the burst ended before the searches"
            await signing_in
            return quiet, during

    quiet, during = asyncio.run(measure())
    print(f"search alone {quiet:.3f} s, during 40 sign-ins {during:.3f} s")  # noqa: T201
    assert during < 1.0, f"a search took {during:.2f} s during a burst of sign-ins"
