"""GET /api/v1/exports/{name}: each layout's file, read back with independent parsers, on
every engine."""

from __future__ import annotations

import csv
import hashlib
import io
import threading
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from fastapi.testclient import TestClient

from kansa.access import tokens
from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.events.query import Filters, Query
from kansa.events.stored import StoredEvent
from kansa.integrity.files import verify_file
from kansa.integrity.signing import PublicKey
from kansa.server.runtime import Runtime
from kansa.store import Store
from kansa.timeutil import utcnow
from tests.helpers import actor_of, new_key, pca_event

JST = ZoneInfo("Asia/Tokyo")
ICHIRO = {"id": "acc-1001", "name": "飯田橋 一郎", "login": "ichiro"}
JIRO = {"id": "acc-1002", "name": "飯田橋 二郎", "login": "jiro"}
PCA_HEADER = [
    "ログ種類",
    "日時",
    "アプリケーション名",
    "IPアドレス",
    "組織ID",
    "組織名",
    "アカウントID",
    "ユーザー名",
    "ログイン名",
    "データ種類",
    "操作",
    "内容",
    "詳細",
    "トレースID",
    "エラー情報",
]


def ago(**delta: float) -> datetime:
    return (utcnow() - timedelta(**delta)).replace(microsecond=0)


def rows(data: bytes, encoding: str = "utf-8") -> list[list[str]]:
    """An independent reading: strip the BOM, decode, Python's csv module."""
    if encoding == "utf-8":
        assert data.startswith(b"\xef\xbb\xbf")
        data = data[3:]
    return list(csv.reader(io.StringIO(data.decode(encoding), newline="")))


def local(moment: datetime, tz: ZoneInfo = JST) -> str:
    return moment.astimezone(tz).strftime("%Y/%m/%d %H:%M:%S")


def viewer(runtime: Runtime, tenant: str, role: str) -> dict[str, str]:
    minted = tokens.mint(
        runtime.secret_key(),
        tenant=tenant,
        actor_id=ICHIRO["id"],
        name=ICHIRO["name"],
        role=role,
        ttl=600,
        now=utcnow(),
    )
    return {"Authorization": f"Bearer {minted.token}"}


def store_events(store: Store, catalog: Catalog, events: list[dict[str, Any]]) -> None:
    store.append(prepare(events, catalog))


@pytest.fixture
def pca(store: Store, catalog: Catalog, tenant_id: str) -> list[datetime]:
    """A PCA ID tenant with a plain event, a formula in a name, an error and a wave dash."""
    store.create_tenant(
        tenant_id, name="飯田橋カンパニー", layout="pca-id", tz="Asia/Tokyo", lang="ja"
    )
    times = [ago(days=3), ago(days=2), ago(days=1)]
    store_events(
        store,
        catalog,
        [
            pca_event(tenant_id, 1, occurred_at=times[0].isoformat()),
            pca_event(
                tenant_id,
                2,
                occurred_at=times[1].isoformat(),
                actor={"id": "acc-9", "name": '=HYPERLINK("http://x")', "login": "@evil"},
                params={"login": "-jiro"},
                error={"code": "E1234", "message": "失敗しました\r\n再試行"},
            ),
            pca_event(
                tenant_id,
                3,
                action="auth.login",
                params={},
                occurred_at=times[2].isoformat(),
                actor={"id": "acc-3", "name": "波〜ダッシュ 😀", "login": "wave"},
                details={"note": "改行\r\nあり", "quote": 'say "hi"'},
            ),
        ],
    )
    return times


def bound(store: Store, tenant: str) -> dict[str, str]:
    """A read key bound to ``tenant``."""
    return {"Authorization": f"Bearer {new_key(store, tenant=tenant, scopes=frozenset({'read'}))}"}


@pytest.fixture
def reader(store: Store, tenant_id: str, pca: list[datetime]) -> dict[str, str]:
    """A read key of the PCA ID tenant."""
    return bound(store, tenant_id)


def test_the_pca_file_is_the_seed_spec(
    client: TestClient, reader: dict[str, str], tenant_id: str, pca: list[datetime]
) -> None:
    reply = client.get("/api/v1/exports/events", headers=reader)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "text/csv; charset=utf-8"
    today = utcnow().astimezone(JST).strftime("%Y%m%d")
    assert reply.headers["content-disposition"] == (
        f"attachment; filename=\"events_{today}.csv\"; filename*=UTF-8''events_{today}.csv"
    )
    body = reply.content
    table = rows(body)
    assert table[0] == PCA_HEADER
    assert len(table) == 4 and all(len(r) == 15 for r in table)
    # Every line ends in CRLF; the only other line breaks are inside quoted cells.
    assert body.count(b"\r\n") == 5 and body.endswith(b"\r\n")
    plain, formula, wave = table[1:]
    assert plain[:10] == [
        "情報",
        local(pca[0]),
        "PCA Hub",
        "12.34.56.78",
        tenant_id,
        "iidabashi-company",
        "acc-1001",
        "飯田橋 一郎",
        "ichiro",
        "ユーザー",
    ]
    assert plain[10:] == ["作成", "ユーザー[jiro]を作成", '{"changed":["role"]}', "7f9c0000aa", ""]
    assert formula[7:9] == ['\'=HYPERLINK("http://x")', "'@evil"]
    assert formula[11] == "ユーザー[-jiro]を作成"  # only a cell's first character counts
    assert formula[14] == "E1234: 失敗しました\r\n再試行"  # kept inside its quotes
    assert orjson.loads(wave[12]) == {"note": "改行\r\nあり", "quote": 'say "hi"'}
    # Every string is quoted, embedded quotes doubled.
    line = (
        f'"情報","{local(pca[0])}","PCA Hub","12.34.56.78","{tenant_id}","iidabashi-company",'
        '"acc-1001","飯田橋 一郎","ichiro","ユーザー","作成","ユーザー[jiro]を作成",'
        '"{""changed"":[""role""]}","7f9c0000aa",""\r\n'
    )
    assert body[3:].split(b"\r\n", 1)[1].startswith(line.encode())
    assert b'""quote"":""say \\""hi\\""""' in body


def test_times_are_written_in_the_tenants_zone(
    client: TestClient, store: Store, catalog: Catalog, tenant_id: str
) -> None:
    store.create_tenant(tenant_id, name="x", layout="pca-id", tz="America/New_York", lang="en")
    reader = bound(store, tenant_id)
    moment = ago(days=1)
    store_events(store, catalog, [pca_event(tenant_id, occurred_at=moment.isoformat())])
    table = rows(client.get("/api/v1/exports/events", headers=reader).content)
    assert table[0][:2] == ["Level", "Date"]
    assert table[1][:2] == ["Information", local(moment, ZoneInfo("America/New_York"))]


def test_cp932_counts_what_it_replaced_and_writes_the_wave_dash_as_windows_does(
    client: TestClient, reader: dict[str, str], pca: list[datetime]
) -> None:
    reply = client.get("/api/v1/exports/events", params={"encoding": "cp932"}, headers=reader)
    assert reply.headers["content-type"] == "text/csv; charset=Windows-31J"
    body = reply.content
    assert not body.startswith(b"\xef\xbb\xbf")
    assert "波〜ダッシュ".encode("cp932") in body and b"\x81\x60" in body
    table = rows(body, "cp932")
    assert table[3][7] == "波～ダッシュ ?"
    assert reply.headers["trailer"] == "X-Kansa-Rows, X-Kansa-Unmappable"
    trailers = dict(reply.extensions["http.response.trailers"])
    assert trailers == {b"x-kansa-rows": b"3", b"x-kansa-unmappable": b"1"}


def test_lf_and_english_on_request(
    client: TestClient, reader: dict[str, str], pca: list[datetime]
) -> None:
    body = client.get(
        "/api/v1/exports/events", params={"newline": "lf", "lang": "en"}, headers=reader
    ).content
    assert body.count(b"\n") == 5 and body.count(b"\r\n") == 1  # the one inside a cell
    table = rows(body)
    assert table[0][:3] == ["Level", "Date", "Application"]
    assert table[1][0] == "Information" and table[1][11] == "Created user [jiro]"


def test_filters_apply_to_the_pca_file(
    client: TestClient, reader: dict[str, str], pca: list[datetime]
) -> None:
    body = client.get("/api/v1/exports/events", params={"actor": "ichiro"}, headers=reader).content
    assert [r[8] for r in rows(body)[1:]] == ["ichiro"]


def test_only_admins_download_and_only_within_the_window(
    client: TestClient, runtime: Runtime, tenant_id: str, pca: list[datetime]
) -> None:
    user = client.get("/api/v1/exports/events", headers=viewer(runtime, tenant_id, "user"))
    assert user.status_code == 403
    admin = viewer(runtime, tenant_id, "admin")
    assert client.get("/api/v1/exports/events", headers=admin).status_code == 200
    old = (utcnow() - timedelta(days=800)).astimezone(JST).date().isoformat()
    reply = client.get("/api/v1/exports/events", params={"from": old}, headers=admin)
    assert reply.status_code == 400
    problem = reply.json()["problems"][0]
    assert problem["path"] == "from" and "the last 730 days" in problem["message"]


def test_bad_requests(client: TestClient, reader: dict[str, str], pca: list[datetime]) -> None:
    assert client.get("/api/v1/exports/nope", headers=reader).status_code == 404
    for params in ({"format": "xml"}, {"encoding": "latin-1"}, {"newline": "cr"}):
        reply = client.get("/api/v1/exports/events", params=params, headers=reader)
        assert reply.status_code == 400, params
        assert reply.json()["problems"][0]["path"] == next(iter(params))
    jsonl = client.get(
        "/api/v1/exports/events", params={"format": "jsonl", "actor": "x"}, headers=reader
    )
    assert jsonl.status_code == 400


def test_every_export_is_recorded_after_its_last_row(
    client: TestClient, store: Store, reader: dict[str, str], tenant_id: str, pca: list[datetime]
) -> None:
    since = pca[0].astimezone(JST).date()
    reply = client.get("/api/v1/exports/events", params={"from": since.isoformat()}, headers=reader)
    assert reply.status_code == 200
    recorded = _exports(store, tenant_id)
    assert len(recorded) == 1
    event = recorded[0]
    today = utcnow().astimezone(JST)
    assert event["params"] == {
        "file": f"events_{today:%Y%m%d}.csv",
        "rows": 3,
        "period": f"{since:%Y/%m/%d}〜{today:%Y/%m/%d}",
    }
    assert actor_of(event)["type"] == "api_key" and event["level"] == "important"
    assert event["message"]["ja"].startswith(f"ログ[events_{today:%Y%m%d}.csv]をダウンロード（3件")


def _exports(store: Store, tenant: str) -> list[StoredEvent]:
    query = Query(tenant=tenant, filters=Filters(actions=("log.export",)))
    return list(store.stream(query))


def test_jsonl_lines_are_the_stored_chain(
    client: TestClient, store: Store, reader: dict[str, str], tenant_id: str, pca: list[datetime]
) -> None:
    reply = client.get("/api/v1/exports/events", params={"format": "jsonl"}, headers=reader)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/jsonl; charset=utf-8"
    assert reply.headers["content-disposition"].endswith(".jsonl")
    *lines, manifest, end = reply.content.split(b"\n")
    assert end == b"" and manifest.startswith(b'{"manifest":')
    stored = {link.seq: link for link in store.chain(tenant_id)}
    for line in lines:
        envelope = orjson.loads(line)
        link = stored[envelope["seq"]]
        assert line == link.body and hashlib.sha256(line).hexdigest() == link.hash
    assert [orjson.loads(line)["seq"] for line in lines] == [1, 2, 3]
    # Exact values: the formula is not neutralised here.
    assert orjson.loads(lines[1])["event"]["actor"]["name"] == '=HYPERLINK("http://x")'
    # The signed manifest proves the file complete and unchanged, offline (docs/integrity.md).
    key = PublicKey.from_pem(client.get("/api/v1/public-key").json()["public_key"].encode())
    report = verify_file(reply.content.splitlines(), key)
    assert report.intact and report.lines == 3, report.problem


def test_a_large_export_streams_before_the_last_row_is_read(
    client: TestClient,
    runtime: Runtime,
    catalog: Catalog,
    tenant_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    total = 6000
    store = runtime.store
    store.create_tenant(tenant_id, name="big", layout="pca-id", tz="Asia/Tokyo", lang="ja")
    reader = bound(store, tenant_id)
    start = ago(days=20)
    store_events(
        store,
        catalog,
        [
            pca_event(tenant_id, n, occurred_at=(start + timedelta(seconds=n)).isoformat())
            for n in range(total)
        ],
    )
    read = {"rows": 0, "exhausted": False, "closed": False}
    original = store.stream

    def counting(query: Any, batch: int = 2000) -> Any:
        try:
            for event in original(query, batch):
                read["rows"] += 1
                yield event
            read["exhausted"] = True
        finally:
            read["closed"] = True

    monkeypatch.setattr(store, "stream", counting)
    with client.stream("GET", "/api/v1/exports/events", headers=reader) as reply:
        chunks = reply.iter_raw()
        first = next(chunks)
        assert first.startswith(b"\xef\xbb\xbf")
        assert 0 < read["rows"] < total and not read["exhausted"]
        size = len(first) + sum(len(c) for c in chunks)
    assert read["exhausted"] and read["closed"] and read["rows"] == total
    assert size > 64 * 1024 * 8


def test_kddi_files_are_named_by_the_download_day_and_only_the_period_applies(
    client: TestClient, store: Store, catalog: Catalog, tenant_id: str
) -> None:
    store.create_tenant(
        tenant_id, name="ひかり物流", layout="kddi-business-id", tz="Asia/Tokyo", lang="ja"
    )
    reader = bound(store, tenant_id)
    app = "KDDI Business ID"
    job = {"targets": [{"id": "jiro@hikari.example.jp", "name": "飯田橋 二郎"}]}
    started, finished = ago(hours=8), ago(hours=7)

    def kddi(
        n: int, action: str, result: str, actor: dict[str, str], at: datetime, **extra: Any
    ) -> dict[str, Any]:
        return {
            "id": f"e{n}",
            "tenant": {"id": tenant_id, "name": "ひかり物流"},
            "app": app,
            "action": action,
            "result": result,
            "actor": actor,
            "occurred_at": at.isoformat(),
            "ip": "203.0.113.9",
            **extra,
        }

    service = {"service": "Microsoft 365"}
    store_events(
        store,
        catalog,
        [
            kddi(1, "login.password", "success", JIRO, ago(hours=50), params={"os": "Windows"}),
            kddi(2, "login.failed.password", "failure", ICHIRO, ago(hours=40)),
            kddi(3, "user.add", "done", ICHIRO, ago(hours=10), targets=[{"id": "jiro"}]),
            kddi(
                4,
                "provision.user.create",
                "processing",
                ICHIRO,
                started,
                params=service,
                correlation_id="j",
                **job,
            ),
            kddi(
                5,
                "provision.user.create",
                "ok",
                ICHIRO,
                finished,
                params=service,
                correlation_id="j",
                **job,
            ),
        ],
    )
    today = utcnow().astimezone(JST).strftime("%Y%m%d")
    ignored = {
        "actor": "ichiro",
        "result": "failure",
        "group": "sso",
        "service": "Google Workspace",
    }
    access = client.get("/api/v1/exports/access-log", params=ignored, headers=reader)
    assert f'filename="access-log_{today}.csv"' in access.headers["content-disposition"]
    table = rows(access.content)
    assert table[0] == ["日時", "ユーザID", "姓名", "結果", "詳細"]
    assert [r[1:4] for r in table[1:]] == [
        ["jiro", "飯田橋 二郎", "ログイン成功"],
        ["ichiro", "飯田橋 一郎", "ログインNG"],
    ]
    assert table[1][4] == "ID/パスワードによる認証成功[203.0.113.9 Windows]"
    operation = client.get("/api/v1/exports/operation-log", params=ignored, headers=reader)
    assert f'filename="operation-log_{today}.csv"' in operation.headers["content-disposition"]
    table = rows(operation.content)
    assert table[0] == ["日時", "種別", "ユーザID", "姓名", "詳細"]
    # The download just before is in kansa's own history, not KDDI's operations.
    assert [r[1] for r in table[1:]] == ["ユーザ追加"]
    assert table[1][4] == "ユーザ「jiro」を追加しました。"
    provisioning = client.get("/api/v1/exports/provisioning-log", params=ignored, headers=reader)
    assert f'filename="provisioning-log_{today}.csv"' in provisioning.headers["content-disposition"]
    table = rows(provisioning.content)
    assert table[0] == ["日時", "連携先サービス", "種別", "連携対象", "結果", "詳細"]
    assert table[1:] == [
        [local(started), "Microsoft 365", "ユーザ登録", "jiro@hikari.example.jp", "OK", ""]
    ]


def test_garoon_in_english_and_microcms_recorded_fields(
    client: TestClient, store: Store, catalog: Catalog, tenant_id: str
) -> None:
    garoon, cms = tenant_id + "-g", tenant_id + "-m"
    store.create_tenant(garoon, name="g", layout="cybozu", tz="Asia/Tokyo", lang="en")
    store.create_tenant(cms, name="m", layout="microcms", tz="Asia/Tokyo", lang="ja")
    at = ago(hours=3)
    store_events(
        store,
        catalog,
        [
            {
                "tenant": garoon,
                "app": "Garoon",
                "action": "login",
                "result": "failure",
                "actor": ICHIRO,
                "occurred_at": at.isoformat(),
                "params": {"login_name": "ichiro"},
            },
            {
                "tenant": garoon,
                "app": "Garoon",
                "action": "login API",
                "result": "failure",
                "actor": ICHIRO,
                "occurred_at": (at + timedelta(minutes=1)).isoformat(),
                "params": {"login_name": "ichiro", "api": "REST"},
            },
            {
                "tenant": garoon,
                "app": "Garoon",
                "action": "download certificate",
                "result": "success",
                "actor": ICHIRO,
                "occurred_at": (at + timedelta(minutes=2)).isoformat(),
                "targets": [{"id": "42", "name": "佐藤 昇"}],
                "params": {"module": "User Profile"},
            },
            {
                "tenant": cms,
                "app": "microCMS",
                "action": "content.csv_import.complete",
                "result": "success",
                "actor": ICHIRO,
                "occurred_at": at.isoformat(),
                "ip": "12.34.56.78",
                "params": {
                    "api_name": "blog",
                    "csv_import_count": 12,
                    "csv_import_saved_at": "2026-11-01T00:00:00Z",
                },
            },
        ],
    )
    key = new_key(store, scopes=frozenset({"read"}))
    auth = {"Authorization": f"Bearer {key}"}
    table = rows(
        client.get("/api/v1/exports/audit-log", params={"tenant": garoon}, headers=auth).content
    )
    assert table == [
        ["Date", "Level", "User", "Module", "Action", "Result", "Complement"],
        [
            local(at),
            "Information",
            "飯田橋 一郎",
            "System Administration",
            "login",
            "FAILED",
            "ichiro",
        ],
        # Garoon's login API(%s) with its value; the module the event names; Garoon's Notice
        [local(at + timedelta(minutes=1)), "Information", "飯田橋 一郎", "System Administration",
         "login API(REST)", "FAILED", "ichiro"],
        [local(at + timedelta(minutes=2)), "Notice", "飯田橋 一郎", "User Profile",
         "download certificate", "SUCCESS", "佐藤 昇 (42)"],
    ]  # fmt: skip
    assert (
        b"%s"
        not in client.get(
            "/api/v1/exports/audit-log", params={"tenant": garoon, "lang": "ja"}, headers=auth
        ).content
    )
    reply = client.get("/api/v1/exports/audit-log", params={"tenant": cms}, headers=auth)
    header, row = rows(reply.content)
    assert header[:4] == ["日時", "IPアドレス", "ユーザー", "操作内容"] and len(header) == 32
    cells = dict(zip(header, row, strict=True))
    assert cells["対象API名"] == "blog" and cells["対象APIキー ID"] == ""
    assert cells["CSVインポートデータ保存日時"] == "2026/11/01 09:00:00"
    assert b",12," in reply.content  # a number is not quoted


def test_a_download_cut_short_stops_reading_and_is_recorded_as_interrupted(
    client: TestClient,
    runtime: Runtime,
    catalog: Catalog,
    tenant_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = runtime.store
    store.create_tenant(tenant_id, name="big", layout="pca-id", tz="Asia/Tokyo", lang="ja")
    reader = bound(store, tenant_id)
    start = ago(days=20)
    events = [
        pca_event(tenant_id, n, occurred_at=(start + timedelta(seconds=n)).isoformat())
        for n in range(6000)
    ]
    store_events(store, catalog, events)
    closed = threading.Event()
    original = store.stream

    def watched(query: Any, batch: int = 2000) -> Any:
        try:
            yield from original(query, batch)
        finally:
            closed.set()

    monkeypatch.setattr(store, "stream", watched)
    with client.stream("GET", "/api/v1/exports/events", headers=reader) as reply:
        next(reply.iter_raw())
    assert closed.wait(5), "the store's cursor was not closed"
    for _ in range(50):
        recorded = _exports(store, tenant_id)
        if recorded:
            break
        time.sleep(0.1)
    assert len(recorded) == 1 and recorded[0]["params"]["interrupted"] is True
    assert 0 < recorded[0]["params"]["rows"] < 6000
