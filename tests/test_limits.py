"""The limits at the edge, through a real ``kansa serve`` on each engine: the rate limit per
key, the body size (declared and chunked), X-Forwarded-For only from trusted proxies, and the
sign-in throttle per client address. The mechanisms alone (clocks faked) come first."""

from __future__ import annotations

import uuid
from ipaddress import ip_network
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route

from kansa.access import tokens
from kansa.access.keys import split_token
from kansa.events.query import Filters, Query
from kansa.events.stored import StoredEvent
from kansa.http.limits import RateLimiter, Throttle, rate_limit
from kansa.http.readers import client_address
from kansa.integrity.keyfile import token_secret
from kansa.server.app import create_app
from kansa.settings import Settings
from kansa.store import open_store
from kansa.timeutil import utcnow
from tests.helpers import new_key, password_hash, pca_event
from tests.served import BODY_LIMIT, Served, edge, raw_request

PASSWORD = "correct horse battery staple"
__all__ = ["edge"]  # the module's kansa serve (tests/served.py)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2, burst=3, clock=clock)
    assert [limiter.take(b"k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take(b"k") == pytest.approx(0.5)
    assert limiter.take(b"other") == 0.0  # keys do not share a bucket
    clock.now += 0.5
    assert limiter.take(b"k") == 0.0 and limiter.take(b"k") > 0
    clock.now += 100
    assert [limiter.take(b"k") for _ in range(4)][-1] > 0  # refills to the burst, no more


def test_full_buckets_are_forgotten_so_random_keys_cannot_fill_memory() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=1000, burst=10, clock=clock)
    for n in range(30_000):
        limiter.take(n.to_bytes(4, "big"))
        clock.now += 0.01
    assert len(limiter) <= 10_001


def test_the_throttle_counts_failures_in_a_sliding_window() -> None:
    clock = Clock()
    throttle = Throttle(max_failures=2, window=60, clock=clock)
    throttle.fail("a")
    clock.now += 30
    throttle.fail("a")
    assert throttle.wait("a") == pytest.approx(30) and throttle.wait("b") == 0
    clock.now += 30
    assert throttle.wait("a") == 0  # the first failure left the window


def test_the_throttle_counts_attempts_in_flight() -> None:
    clock = Clock()
    throttle = Throttle(max_failures=2, window=60, clock=clock)
    assert throttle.begin("a") == 0 and throttle.begin("a") == 0
    assert throttle.begin("a") > 0  # two unfinished attempts already fill the limit
    throttle.end("a", failed=False)
    assert throttle.begin("a") == 0  # a success frees its place
    throttle.end("a", failed=True)
    throttle.end("a", failed=True)
    assert throttle.begin("a") == pytest.approx(60)  # two failures: wait for the oldest
    assert throttle.begin("b") == 0


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("198.51.100.7", ["203.0.113.1"], "198.51.100.7"),  # untrusted peer: header ignored
        ("10.9.0.1", ["203.0.113.1"], "203.0.113.1"),
        ("10.9.0.1", ["203.0.113.1, 10.9.3.3"], "203.0.113.1"),  # two trusted hops
        ("10.9.0.1", ["6.6.6.6, 203.0.113.1"], "203.0.113.1"),  # the client wrote 6.6.6.6
        ("10.9.0.1", ["6.6.6.6", "203.0.113.1"], "203.0.113.1"),  # two header lines
        ("10.9.0.1", ["not-an-ip"], "10.9.0.1"),
        ("10.9.0.1", [], "10.9.0.1"),
        ("::ffff:10.9.0.1", ["2001:db8::1"], "2001:db8::1"),
        ("testclient", ["203.0.113.1"], None),
    ],
)
def test_the_client_address(peer: str, forwarded: list[str], expected: str | None) -> None:
    trusted = [ip_network("10.9.0.0/16"), ip_network("127.0.0.2/32")]
    assert client_address(peer, forwarded, trusted) == expected
    assert client_address(peer, forwarded, []) == (
        None if expected is None else peer.removeprefix("::ffff:")
    )


def key_of(served: Served, tenant: str | None = None) -> dict[str, str]:
    store = open_store(served.url)
    try:
        scopes = frozenset({"publish", "read", "mint"})
        return {"Authorization": f"Bearer {new_key(store, tenant=tenant, scopes=scopes)}"}
    finally:
        store.close()


def test_every_api_route_of_the_app_runs_the_rate_limit_first(tmp_path: Path) -> None:
    """The routers' routes are the app's own (matched by pattern, no router included), and
    each API route still has the rate limit as its first dependency."""
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/kansa.db"))
    assert all(isinstance(route, Route) for route in app.router.routes)
    api = [r for r in app.router.routes if isinstance(r, APIRoute) and r.path.startswith("/api/")]
    assert len(api) > 30
    assert all(route.dependencies[0].dependency is rate_limit for route in api)


def test_a_key_over_its_rate_gets_429_with_retry_after(edge: Served) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    hasty, calm = key_of(edge), key_of(edge)
    with edge.client() as http:
        answers = [
            http.post("/api/v1/events", json=pca_event(tenant, n), headers=hasty) for n in range(6)
        ]
        assert [a.status_code for a in answers] == [201] * 5 + [429]
        refused = answers[-1]
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["content-type"] == "application/problem+json"
        body = refused.json()
        assert (body["status"], body["title"]) == (429, "Too many requests")
        assert body["problems"][0]["path"] == "authorization"
        # the refused event was not stored; another key is not held back
        again = http.post("/api/v1/events", json=pca_event(tenant, 5), headers=calm)
        assert again.status_code == 201 and again.json()["accepted"] == 1
        # a read counts too: the limit is per key, over every API route
        assert http.get("/api/v1/catalog", headers=hasty).status_code == 429
        assert http.get("/healthz").status_code == 200


def viewer_tokens(http: httpx.Client, tenant: str, key: dict[str, str], count: int) -> list[str]:
    """``count`` viewer tokens minted with ``key`` (each costs the key one request)."""
    body = {"tenant": tenant, "actor": {"id": "u-1"}, "role": "admin"}
    minted = [http.post("/api/v1/viewer-tokens", json=body, headers=key) for _ in range(count)]
    assert [m.status_code for m in minted] == [201] * count
    return [m.json()["token"] for m in minted]


def test_a_key_and_the_viewer_tokens_it_mints_share_one_rate(edge: Served) -> None:
    tenant = tenant_with_account(edge)
    key = key_of(edge)
    with edge.client() as http:
        first, second = viewer_tokens(http, tenant, key, 2)  # 3 of the burst of 5 are left
        turns = [{"Authorization": f"Bearer {t}"} for t in (first, second)] + [key]
        statuses = [
            http.get("/api/v1/events", params={"tenant": tenant}, headers=turns[n % 3]).status_code
            for n in range(12)
        ]
        # one bucket for the three: a token minted does not bring a burst of its own
        assert statuses.count(429) >= 5, statuses
        secret = token_secret(Settings(database_url=edge.url))
        # a token minted before tokens named their key keeps a bucket of its own
        old = tokens.mint(
            secret, tenant=tenant, actor_id="u-2", name="u-2", role="user", ttl=60, now=utcnow()
        )
        headers = {"Authorization": f"Bearer {old.token}"}
        answer = http.get("/api/v1/events", params={"tenant": tenant}, headers=headers)
        assert answer.status_code == 200


def key_id(key: dict[str, str]) -> str:
    return split_token(key["Authorization"].removeprefix("Bearer "))[0]


def forge(secret: bytes, tenant: str, victim: str) -> dict[str, str]:
    """A viewer token naming ``victim`` as its key, signed with a secret that is not kansa's."""
    made = tokens.mint(
        b"not the secret" + secret,
        tenant=tenant,
        actor_id="x",
        name="x",
        role="admin",
        ttl=60,
        now=utcnow(),
        key=victim,
    )
    return {"Authorization": f"Bearer {made.token}"}


def test_a_forged_claim_does_not_drain_the_key_it_names(edge: Served) -> None:
    tenant = tenant_with_account(edge)
    victim = key_of(edge)
    secret = token_secret(Settings(database_url=edge.url))
    with edge.client() as http:
        forged = forge(secret, tenant, key_id(victim))
        answers = [
            http.get("/api/v1/events", params={"tenant": tenant}, headers=forged).status_code
            for _ in range(8)
        ]
        assert 429 in answers and 200 not in answers
        assert (
            http.get("/api/v1/events", params={"tenant": tenant}, headers=victim).status_code == 200
        )


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(edge: Served) -> None:
    auth = key_of(edge)["Authorization"]
    head = (
        "POST /api/v1/events HTTP/1.1\nHost: kansa\nContent-Type: application/json\n"
        f"Authorization: {auth}\nContent-Length: {50 * 1024 * 1024}\n"
    )
    status, answer, sent = raw_request(edge, head)
    assert status == 413 and sent == 0
    assert b"application/problem+json" in answer


def test_a_chunked_body_over_the_limit_is_refused_while_it_arrives(edge: Served) -> None:
    auth = key_of(edge)["Authorization"]
    head = (
        "POST /api/v1/events HTTP/1.1\nHost: kansa\nContent-Type: application/json\n"
        f"Authorization: {auth}\nTransfer-Encoding: chunked\n"
    )
    piece = b"x" * 16384
    chunk = b"%x\r\n%b\r\n" % (len(piece), piece)
    total = 64 * 1024 * 1024
    status, answer, sent = raw_request(edge, head, iter([chunk] * (total // len(piece))))
    assert status == 413
    # refused long before the end: what was sent beyond the limit sits in socket buffers
    assert sent < total // 4


def test_chunked_bodies_are_refused_on_every_route_that_reads_one(edge: Served) -> None:
    headers = key_of(edge) | {"content-type": "application/json"}
    big = b'{"reason": "' + b"x" * (2 * BODY_LIMIT) + b'"}'
    with edge.client() as http:
        for path in ("/api/v1/viewer-tokens", "/api/v1/tenants/nobody/legal-hold"):
            answer = http.post(path, content=iter([big[:1000], big[1000:]]), headers=headers)
            assert answer.status_code == 413, path
            assert answer.json()["problems"] == [
                {
                    "path": "body",
                    "message": f"the body is larger than {BODY_LIMIT} bytes; send smaller batches",
                }
            ]


def tenant_with_account(served: Served) -> str:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    store = open_store(served.url)
    try:
        store.create_tenant(
            tenant, name="境界", layout="kddi-business-id", tz="Asia/Tokyo", lang="ja"
        )
        store.create_account(
            tenant, "admin", name="管理 太郎", role="admin", password_hash=password_hash(PASSWORD)
        )
    finally:
        store.close()
    return tenant


def sign_in(
    http: httpx.Client, tenant: str, login: str, password: str, **headers: str
) -> httpx.Response:
    page = http.get("/console/signin")
    nonce = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    form = {"tenant": tenant, "login": login, "password": password, "csrf": nonce}
    return http.post("/console/signin", data=form, headers=headers, follow_redirects=False)


def signin_events(served: Served, tenant: str) -> list[StoredEvent]:
    store = open_store(served.url)
    try:
        query = Query(tenant=tenant, filters=Filters(actions=("console.*",)), descending=False)
        return store.search(query).events
    finally:
        store.close()


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(edge: Served) -> None:
    tenant = tenant_with_account(edge)
    with edge.client("127.0.0.1") as direct:  # not a trusted proxy: its header is the client's
        assert (
            sign_in(
                direct, tenant, "nobody", "guess-1", **{"X-Forwarded-For": "203.0.113.7"}
            ).status_code
            == 401
        )
    with edge.client("127.0.0.2") as proxy:  # the trusted proxy
        forwarded = {"X-Forwarded-For": "6.6.6.6, 198.51.100.23"}
        assert sign_in(proxy, tenant, "nobody", "guess-2", **forwarded).status_code == 401
        assert sign_in(proxy, tenant, "admin", PASSWORD, **forwarded).status_code == 303
    recorded = signin_events(edge, tenant)
    assert [(e["action"], e["ip"]) for e in recorded] == [
        ("console.signin_failed", "127.0.0.1"),
        ("console.signin_failed", "198.51.100.23"),
        ("console.signin", "198.51.100.23"),
    ]


def test_an_address_that_keeps_failing_is_refused_even_the_right_password(edge: Served) -> None:
    tenant = tenant_with_account(edge)
    with edge.client("127.0.0.3") as guesser:
        for n in range(3):  # unknown logins lock no account; the address is counted instead
            assert sign_in(guesser, tenant, f"guess-{n}", "whatever-1").status_code == 401
        refused = sign_in(guesser, tenant, "admin", PASSWORD)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        assert PASSWORD not in refused.text
        assert "しばらくの間この接続元からはログインできません" in refused.text
    with edge.client("127.0.0.4") as colleague:
        assert sign_in(colleague, tenant, "admin", PASSWORD).status_code == 303
    with edge.client("127.0.0.2") as proxy:  # behind the proxy, each client is counted alone
        fresh = {"X-Forwarded-For": "198.51.100.99"}
        assert sign_in(proxy, tenant, "admin", PASSWORD, **fresh).status_code == 303
    actions = [e["action"] for e in signin_events(edge, tenant)]
    assert actions == ["console.signin_failed"] * 3 + ["console.signin"] * 2


def test_served_stderr_is_quiet(edge: Served, tmp_path: Path) -> None:
    """Nothing above went wrong on the server's side (no traceback, no 'request failed')."""
    text = edge.stderr.read_text(errors="replace")
    assert "Traceback" not in text and "request failed" not in text
