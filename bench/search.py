"""Searches over HTTP to one ``kansa serve`` worker, each beside the same SQL run raw.

For each search, the bench builds the :class:`~kansa.events.query.Query` the server builds for the
same request (through :func:`kansa.scope.scope`, with the same reader, layout and catalog),
asks :func:`kansa.store.search.build` for the SQL the store runs, and times that SQL with the
plain driver (``fetchall``, on a connection set up as the store's) — the engine's limit. The
HTTP side is N sequential requests on one keep-alive connection: per-query p50/p95 as a
client sees them (routing, auth, scope, the store, ``present``, JSON).
"""

from __future__ import annotations

import http.client
import json
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench import http as bench_http
from bench.engines import Engine
from bench.noise import Meter, process_cpu
from kansa.access import tokens
from kansa.access.keys import split_token
from kansa.access.readers import Reader
from kansa.access.scope import Asked, scope
from kansa.catalog import Catalog
from kansa.catalog.layout import DEFAULT_LAYOUT, default_layout_paths, load_layouts
from kansa.events.query import Filters, parse_q
from kansa.integrity.keyfile import token_secret
from kansa.settings import Settings
from kansa.store import open_store
from kansa.store import postgres as pg
from kansa.store.search import build, needles_of
from kansa.store.terms import SQLITE_COUNT, Via, sqlite_choice
from kansa.timeutil import parse_period_bound, utcnow

PREFERRED_TENANT = "hikari-logistics"
"""A KDDI Business ID tenant: its layout lets admins and users read 30 days and more."""
WRK_SECONDS = 5.0
WRK_CONNECTIONS = 4
PAGE = 100
"""The page reached by cursor (fewer when the window holds fewer)."""
PAGED = 5
"""Where :func:`cases_for` puts the page reached by cursor."""


@dataclass
class Latency:
    samples: list[float] = field(default_factory=list)
    """Seconds per query."""

    def pct(self, share: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return self.pct(0.95)


@dataclass
class Case:
    name: str
    params: dict[str, Any]
    token: str
    reader: Reader
    rows: int = 0
    http: Latency = field(default_factory=Latency)
    raw: Latency = field(default_factory=Latency)
    cursor: str | None = None


@dataclass
class Outcome:
    tenant: str
    actor: str
    cases: list[Case]
    signing_seconds: float
    settle_seconds: float
    noise: str
    wrk: dict[str, float] | None
    rss_kib: int | None


class Client:
    """One keep-alive connection to the server, opened again when the server has closed it
    (uvicorn closes a connection idle for 5 s, as it is while the raw SQL is timed)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def reconnect(self) -> None:
        self.conn.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self.conn.connect()

    def get(self, path: str, token: str) -> tuple[float, dict[str, Any]]:
        try:
            return self._get(path, token)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.reconnect()
            return self._get(path, token)

    def _get(self, path: str, token: str) -> tuple[float, dict[str, Any]]:
        started = time.perf_counter()
        self.conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        reply = self.conn.getresponse()
        body = reply.read()
        elapsed = time.perf_counter() - started
        if reply.status != 200:
            raise SystemExit(f"bench: GET {path} got {reply.status}: {body[:400]!r}")
        return elapsed, json.loads(body)

    def close(self) -> None:
        self.conn.close()


def _pick(engine: Engine, url: str) -> tuple[str, str, str]:
    """The tenant searched (a KDDI one when there is one) and its busiest actor's id, name."""
    conn = engine.connect(url)
    try:
        mark = "?" if engine.dialect == "sqlite" else "%s"
        tenants = [r[0] for r in conn.execute("SELECT id FROM tenants ORDER BY id").fetchall()]
        tenant = PREFERRED_TENANT if PREFERRED_TENANT in tenants else tenants[0]
        row = conn.execute(
            "SELECT actor_id, max(actor_name), count(*) FROM events WHERE tenant_id = "
            f"{mark} AND actor_id IS NOT NULL GROUP BY actor_id ORDER BY 3 DESC LIMIT 1",
            (tenant,),
        ).fetchone()
    finally:
        conn.close()
    return tenant, str(row[0]), str(row[1] or row[0])


def _wait_idle(pid: int, timeout: float = 600.0) -> float:
    """Wait until the server has used (almost) no CPU for longer than one tick of its
    background jobs (10 s): checkpoint signing verifies the events since the last
    checkpoint, a slice per tick."""
    started = time.monotonic()
    last, quiet = process_cpu(pid), 0
    while time.monotonic() - started < timeout:
        time.sleep(0.5)
        now = process_cpu(pid)
        quiet = quiet + 1 if now - last < 0.02 else 0
        last = now
        if quiet >= 22:
            break
    return time.monotonic() - started


def _path(params: dict[str, Any]) -> str:
    return "/api/v1/events?" + urllib.parse.urlencode(params, doseq=True)


def _query_of(case: Case, catalog: Catalog, url: str) -> Any:
    """The Query the server makes of ``case``'s request."""
    store = open_store(url)
    try:
        record = store.get_tenant(case.params["tenant"])
    finally:
        store.close()
    assert record is not None
    layouts = load_layouts(default_layout_paths())
    p = case.params
    filters = Filters(
        categories=tuple(p.get("category", ())),
        results=tuple(p.get("result", ())),
        levels=tuple(p.get("level", ())),
    )
    if p.get("q"):
        filters = filters.merge(parse_q(p["q"]))
    asked = Asked(
        tenant=record.id,
        since=parse_period_bound(p["from"], record.tz, "from"),
        filters=filters,
        limit=int(p.get("limit", 50)),
        cursor=p.get("cursor"),
    )
    return scope(
        case.reader,
        asked,
        tenant=record,
        layout=layouts.get(record.layout or "", DEFAULT_LAYOUT),
        catalog=catalog,
        now=utcnow(),
    )


def _time_raw(engine: Engine, url: str, case: Case, catalog: Catalog, repeat: int) -> None:
    query = _query_of(case, catalog, url)
    # SQLite: as the store, count the index's rows for the terms first (timed)
    needles = needles_of(query)
    conn = engine.connect(url)
    # PostgreSQL's best read of the stored bytes is binary, as the store reads them; a search
    # the store prepares is prepared here too (its five plans for the values, before
    # PostgreSQL weighs the generic one, are the five untimed runs)
    extra: dict[str, Any] = (
        {"binary": True, "prepare": pg.prepared(query)} if engine.dialect == "postgresql" else {}
    )
    try:
        for number in range(repeat + 5):
            started = time.perf_counter()
            via: Via = None
            if engine.dialect == "sqlite":
                via = sqlite_choice(query.tenant, needles, partial(_held, conn))
            text, params = build(query, engine.dialect, via_index=via)
            rows = conn.execute(text, params, **extra).fetchall()
            elapsed = time.perf_counter() - started
            if number >= 5:  # the first few warm the cache
                case.raw.samples.append(elapsed)
        case.rows = min(len(rows), query.limit)
    finally:
        conn.close()


def _held(conn: Any, match: str, limit: int) -> int:
    """The store's count of the index's rows for ``match`` (up to ``limit``)."""
    return int(conn.execute(SQLITE_COUNT, (match, limit)).fetchone()[0])


def _time_http(client: Client, case: Case, repeat: int) -> None:
    path = _path(case.params)
    client.reconnect()  # a fresh connection, opened before the clock starts
    for number in range(repeat + 5):
        elapsed, page = client.get(path, case.token)
        if number >= 5:
            case.http.samples.append(elapsed)
    if len(page["events"]) != case.rows:
        raise SystemExit(
            f"bench: {case.name}: HTTP gave {len(page['events'])} events, the raw SQL {case.rows}"
        )


def _walk(client: Client, params: dict[str, Any], token: str, pages: int) -> tuple[str, int]:
    """The cursor of page ``pages`` (following ``next_cursor`` from page 1), or of the last
    page when there are fewer; and that page's number."""
    cursor: str | None = None
    number = 1
    for _ in range(pages - 1):
        _, page = client.get(_path(params | ({"cursor": cursor} if cursor else {})), token)
        if page["next_cursor"] is None:
            break
        cursor, number = page["next_cursor"], number + 1
    if cursor is None:
        raise SystemExit(f"bench: a single page of {params}: nothing to page through")
    return cursor, number


def cases_for(tenant: str, actor: str, key: str, key_id: str, viewer: str, tz: str) -> list[Case]:
    today = datetime.now(ZoneInfo(tz)).date()
    days30, days7 = (
        (today - timedelta(days=30)).isoformat(),
        (today - timedelta(days=7)).isoformat(),
    )
    admin = Reader("key", "admin", None, key_id, "bench")
    user = Reader("viewer", "user", tenant, actor, "bench user")
    window = {"tenant": tenant, "from": days30, "limit": 50}
    return [
        Case(
            "admin: 30 days, login failures, newest 50",
            window | {"category": ["login"], "result": ["failure"]},
            key,
            admin,
        ),
        Case(
            "user: own history, 7 days, newest 50",
            {"tenant": tenant, "from": days7, "limit": 50},
            viewer,
            user,
        ),
        Case("free text q=ichiro, 30 days, newest 50", window | {"q": "ichiro"}, key, admin),
        Case("q matching nothing, 30 days", window | {"q": "zzzznothing"}, key, admin),
        Case("30 days, page 1", dict(window), key, admin),
        Case(f"30 days, page {PAGE} by cursor", dict(window), key, admin),
        Case("free text q=削除 (two characters), newest 50", window | {"q": "削除"}, key, admin),
        Case("free text q=変更 (two characters), newest 50", window | {"q": "変更"}, key, admin),
        Case("free text q=削 (one character: scanned)", window | {"q": "削"}, key, admin),
        # a kind no event of the window has: every row's kinds tested, the worst case
        Case(
            "30 days, a level no event has (level=error)", window | {"level": ["error"]}, key, admin
        ),
    ]


def run_search(
    engine: Engine, url: str, catalog: Catalog, repeat: int, *, grown: bool = False
) -> Outcome:
    """The searches on ``url``; a ``grown`` database (:mod:`bench.scale`) holds copies that
    are no chain, so nothing is signed first and the server runs without its jobs."""
    tenant, actor, actor_name = _pick(engine, url)
    workdir = Path(tempfile.mkdtemp(prefix="kansa-bench-search-"))
    try:
        # Sign every head first (untimed), as a server that has been running would have:
        # otherwise the server's checkpoint job walks the million unsigned events in slices,
        # one every tick, all through the searches.
        started = time.monotonic()
        bench_http._kansa("init", "--db", url)
        if not grown:
            bench_http._kansa("checkpoint", "--db", url)
        signing = time.monotonic() - started
        jobs = {"KANSA_JOBS": "false"} if grown else {}
        with bench_http.server(url, workdir, env=jobs) as running:
            made = json.loads(
                bench_http._kansa(
                    "apikey", "create", "--app", "bench", "--scopes", "read", "--json", "--db", url
                )
            )
            key = made["key"]
            settle = _wait_idle(running.process.pid)
            raw_secret = token_secret(Settings(database_url=url))
            store = open_store(url)
            try:
                record = store.get_tenant(tenant)
            finally:
                store.close()
            assert record is not None
            viewer = tokens.mint(
                raw_secret,
                tenant=tenant,
                actor_id=actor,
                name=actor_name,
                role="user",
                ttl=3600,
                now=utcnow(),
            ).token
            cases = cases_for(tenant, actor, key, split_token(key)[0], viewer, record.tz)
            client = Client(running.port)
            meter = Meter(lambda: [running.process.pid])
            try:
                paged = cases[PAGED]
                cursor, number = _walk(client, paged.params, key, PAGE)
                paged.params["cursor"] = cursor
                paged.name = paged.name.replace(str(PAGE), str(number))
                for case in cases:
                    _time_raw(engine, url, case, catalog, repeat)
                    _time_http(client, case, repeat)
            finally:
                client.close()
            noise = meter.text()
            wrk = _wrk(running.port, _path(cases[0].params), key)
            rss = running.peak_rss_kib()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return Outcome(tenant, actor, cases, signing, settle, noise, wrk, rss)


def _wrk(port: int, path: str, key: str) -> dict[str, float] | None:
    """Requests/s of the admin search with a few connections (wrk, no script)."""
    found = bench_http.wrk_path()
    if found is None:
        return None
    out = subprocess.run(
        [
            found,
            "-t2",
            f"-c{WRK_CONNECTIONS}",
            f"-d{WRK_SECONDS:g}s",
            "--latency",
            "-H",
            f"Authorization: Bearer {key}",
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    result: dict[str, float] = {}
    for line in out.stdout.splitlines():
        words = line.split()
        if line.startswith("Requests/sec:"):
            result["rps"] = float(words[1])
        elif len(words) == 2 and words[0] in ("50%", "99%"):
            result[words[0]] = _ms(words[1])
        elif "Non-2xx" in line:
            result["non2xx"] = float(words[-1])
    return result or None


def _ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)
