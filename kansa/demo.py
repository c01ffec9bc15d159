"""Realistic demo events for every loaded product: a few tenants each, spread over the
last 90 days, in business hours, mostly successes, some failures and lockouts, provisioning
jobs that go 処理中 → OK / NG. Every event goes through the same checks as a published one.

Generation is pure (a seeded random source); :func:`fill` writes through the store. The demo
accounts' password is random, made once and kept in a file readable by its owner only.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from kansa.catalog import Catalog, EventType, Product
from kansa.dburl import path_of
from kansa.events.prepare import prepare
from kansa.records import TenantChanges
from kansa.store import Store
from kansa.timeutil import utcnow

JST = ZoneInfo("Asia/Tokyo")


@dataclass(frozen=True)
class DemoTenant:
    id: str
    name: str
    product: str
    domain: str
    region: str | None = None


TENANTS = (
    DemoTenant("iidabashi-company", "飯田橋カンパニー", "pca-id", "iidabashi.example.jp"),
    DemoTenant("kagurazaka-shoji", "神楽坂商事", "pca-id", "kagurazaka.example.jp"),
    DemoTenant("hikari-logistics", "ひかり物流", "kddi-business-id", "hikari.example.jp"),
    DemoTenant("minato-kensetsu", "みなと建設", "kddi-business-id", "minato.example.jp"),
    DemoTenant("sakura-trading", "さくら商事", "cybozu", "sakura.example.jp", "JP"),
    DemoTenant("tsubame-media", "つばめメディア", "microcms", "tsubame.example.jp"),
)

_FAMILY = [
    "飯田橋",
    "佐藤",
    "鈴木",
    "高橋",
    "田中",
    "伊藤",
    "渡辺",
    "山本",
    "中村",
    "小林",
    "加藤",
    "吉田",
    "山田",
    "佐々木",
    "松本",
    "井上",
    "木村",
    "林",
    "清水",
    "山口",
]
_GIVEN = [
    ("一郎", "ichiro"),
    ("二郎", "jiro"),
    ("花子", "hanako"),
    ("健太", "kenta"),
    ("美咲", "misaki"),
    ("翔", "sho"),
    ("陽菜", "hina"),
    ("大輔", "daisuke"),
    ("さくら", "sakura"),
    ("拓也", "takuya"),
    ("結衣", "yui"),
    ("直樹", "naoki"),
]
_ROMAJI = {
    "飯田橋": "iidabashi",
    "佐藤": "sato",
    "鈴木": "suzuki",
    "高橋": "takahashi",
    "田中": "tanaka",
    "伊藤": "ito",
    "渡辺": "watanabe",
    "山本": "yamamoto",
    "中村": "nakamura",
    "小林": "kobayashi",
    "加藤": "kato",
    "吉田": "yoshida",
    "山田": "yamada",
    "佐々木": "sasaki",
    "松本": "matsumoto",
    "井上": "inoue",
    "木村": "kimura",
    "林": "hayashi",
    "清水": "shimizu",
    "山口": "yamaguchi",
}
_AGENTS = [
    (
        "Windows 11",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    ),
    (
        "macOS",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    ),
    ("iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15"),
    ("Android", "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 Chrome/131.0"),
]
_GOOD = {"success", "ok", "done"}


def _people(rng: random.Random, tenant: DemoTenant, count: int) -> list[dict[str, str]]:
    people = []
    for number in range(count):
        family = rng.choice(_FAMILY)
        given, given_r = rng.choice(_GIVEN)
        login = f"{given_r}.{_ROMAJI[family]}{number or ''}"
        people.append(
            {
                "id": f"acc-{abs(hash((tenant.id, number))) % 10_000_000:07d}",
                "name": f"{family} {given}",
                "login": login,
                "email": f"{login}@{tenant.domain}",
            }
        )
    return people


class _Source:
    """The random source of one demo run."""

    def __init__(self, catalog: Catalog, seed: int, now: datetime, days: int) -> None:
        self.rng = random.Random(seed)
        self.catalog = catalog
        self.now = now
        self.days = days
        self.tenants = [t for t in TENANTS if t.product in catalog.products]
        self.people = {t.id: _people(self.rng, t, 40) for t in self.tenants}
        self.ips = {
            t.id: [f"203.0.113.{self.rng.randint(1, 254)}" for _ in range(6)]
            + ["2001:db8::" + format(self.rng.randint(1, 0xFFFF), "x")]
            for t in self.tenants
        }
        self.types = {t.id: self._weighted(catalog.products[t.product]) for t in self.tenants}

    @staticmethod
    def _weighted(product: Product) -> tuple[list[EventType], list[float]]:
        types = list(product.events.values())
        share = {"login": 0.6, "operation": 0.33, "provisioning": 0.07}
        present = {t.history for t in types}
        total = sum(share[h] for h in present)
        counts = {h: sum(1 for t in types if t.history == h) for h in present}
        weights = []
        for event_type in types:
            weight = share[event_type.history] / total / counts[event_type.history]
            if event_type.history == "login" and not set(event_type.results) & _GOOD:
                weight *= 0.15
            weights.append(weight)
        return types, weights

    def moment(self) -> datetime:
        day = self.now.astimezone(JST) - timedelta(days=self.rng.random() * self.days)
        hour = min(23, max(0, int(self.rng.gauss(13, 3))))
        local = day.replace(
            hour=hour,
            minute=self.rng.randint(0, 59),
            second=self.rng.randint(0, 59),
            microsecond=self.rng.randint(0, 999_999),
        )
        return min(local, self.now.astimezone(JST))

    def result(self, event_type: EventType) -> str:
        good = [r for r in event_type.results if r in _GOOD]
        bad = [r for r in event_type.results if r not in _GOOD and r != "processing"]
        if good and (not bad or self.rng.random() < 0.9):
            return self.rng.choice(good)
        return self.rng.choice(bad or list(event_type.results))

    def value(self, name: str, tenant: DemoTenant, target: dict[str, str]) -> Any:
        product = self.catalog.products[tenant.product]
        rng = self.rng
        if name in product.values:
            return rng.choice(product.values[name])
        if name in _NAMED:
            return rng.choice(_NAMED[name])
        if name in ("member", "reviewer", "new_author"):
            return target["name"]
        if name in ("org", "source_org", "from_org"):
            return rng.choice(["営業部", "開発部", "総務部", "経理部", tenant.name])
        if name in ("target_org", "to_org"):
            return rng.choice(["東京支社", "大阪支社", "名古屋支社"])
        if name in ("login", "login_name"):
            return target["login"]
        if name in ("email",):
            return target["email"]
        if name in ("count", "ok", "csv_import_count"):
            return rng.randint(1, 120)
        if name in ("ng", "aborted"):
            return rng.randint(0, 3)
        if name == "file":
            return f"users_{self.now:%Y%m%d}.csv"
        if name == "os":
            return rng.choice(_AGENTS)[0]
        if name == "api":
            return rng.choice(["REST", "SOAP"])
        if name == "reason":
            return "ライセンスが不足しています (E4031)"
        if name == "condition":
            return rng.choice(["社内ネットワークのみ", "勤務時間内のみ"])
        if name == "targets":
            return [p["name"] for p in rng.sample(self.people[tenant.id], 3)]
        if name in product.times:  # a time, as a publisher sends it (ISO 8601, its offset)
            later = self.now + timedelta(days=rng.randint(1, 30), hours=rng.randint(0, 23))
            return later.astimezone(JST).replace(minute=0, second=0, microsecond=0).isoformat()
        if name.endswith(("_at", "_from", "_until")):
            return f"{self.now.astimezone(JST):%Y/%m/%d}"
        if name.endswith("_id"):
            return f"{name.removesuffix('_id')}-{rng.randint(1000, 9999)}"
        return f"{name.replace('_', '-')}-{rng.randint(1, 99)}"

    def event(self, tenant: DemoTenant, number: int) -> list[dict[str, Any]]:
        types, weights = self.types[tenant.id]
        event_type = self.rng.choices(types, weights)[0]
        actor = self.rng.choice(self.people[tenant.id])
        target = self.rng.choice(self.people[tenant.id])
        os_name, agent = self.rng.choice(_AGENTS)
        result = self.result(event_type)
        occurred = self.moment()
        params = {
            name: self.value(name, tenant, target)
            for name in event_type.required_params(result)
            if name not in ("ip", "actor", "target", "target_id", "target_login", "tenant")
        }
        for name in event_type.message.optional:
            # what a product records when it has it (microCMS's fields): the demo has it
            if name == "os":
                params["os"] = os_name
            elif event_type.product != "kansa" and name not in params:
                params[name] = self.value(name, tenant, target)
        if event_type.modules:
            params["module"] = self.rng.choice(event_type.modules)
        base: dict[str, Any] = {
            "id": f"demo-{tenant.id}-{number}",
            "tenant": {"id": tenant.id, "name": tenant.name},
            "app": self.catalog.products[tenant.product].apps[0],
            "action": event_type.action,
            "occurred_at": occurred.isoformat(),
            "result": result,
            "actor": actor if event_type.history != "login" else actor | {"id": actor["id"]},
            "ip": self.rng.choice(self.ips[tenant.id]),
            "user_agent": agent,
            "targets": [
                {
                    "type": "user",
                    "id": target["login"],
                    "name": target["name"],
                    "login": target["login"],
                }
            ],
            "params": params,
            "trace_id": f"{self.rng.getrandbits(64):016x}",
        }
        if result not in _GOOD and result != "processing":
            base["error"] = {
                "code": f"E{self.rng.randint(1000, 9999)}",
                "message": "処理中にエラーが発生しました",
            }
        if event_type.history != "provisioning" or "processing" not in event_type.results:
            return [base]
        job = f"job-{tenant.id}-{number}"
        start = base | {
            "id": f"{base['id']}-start",
            "result": "processing",
            "params": {k: v for k, v in params.items() if k == "service"},
            "correlation_id": job,
        }
        start.pop("error", None)
        finish = base | {
            "correlation_id": job,
            "occurred_at": (occurred + timedelta(seconds=self.rng.randint(2, 90))).isoformat(),
        }
        return [start, finish]


_NAMED: dict[str, list[str]] = {
    "api_name": ["ブログ", "お知らせ", "製品情報", "採用情報", "イベント"],
    "api_key_name": ["本番サイト用", "プレビュー用", "社内ツール用"],
    "custom_field_name": ["著者情報", "関連記事", "SEO設定"],
    "custom_status_name": ["校正待ち", "法務確認中", "公開準備OK"],
    "media_name": ["hero-2026-winter.jpg", "logo.png", "product-a.webp", "team.jpg"],
    "media_tag_name": ["製品写真", "ロゴ", "イベント", "採用"],
    "role_name": ["編集者", "ライター", "閲覧のみ", "レビュアー"],
    "review_title": ["新製品発表のお知らせ", "年末年始の営業について", "採用ページの更新"],
    "environment_name": ["ステージング", "開発", "検証"],
    "content_custom_id": ["winter-campaign", "about-us", "news-1201"],
}
"""Names the demo gives the things microCMS's messages name."""


def generate(
    catalog: Catalog, count: int, *, seed: int = 42, now: datetime | None = None, days: int = 90
) -> Iterator[dict[str, Any]]:
    """``count`` demo events (as publishers send them), tenants taking turns."""
    source = _Source(catalog, seed, now or utcnow(), days)
    if not source.tenants:
        return
    made = 0
    number = 0
    while made < count:
        tenant = source.tenants[number % len(source.tenants)]
        for event in source.event(tenant, number):
            if made < count:
                yield event
                made += 1
        number += 1


def fill(store: Store, catalog: Catalog, count: int, *, seed: int = 42, batch: int = 2000) -> int:
    """Create the demo tenants with their layouts and store ``count`` demo events."""
    for tenant in TENANTS:
        if tenant.product in catalog.products and store.get_tenant(tenant.id) is None:
            layout = catalog.products[tenant.product].layout
            store.create_tenant(
                tenant.id, name=tenant.name, layout=layout, tz="Asia/Tokyo", lang="ja"
            )
            if tenant.region:
                store.update_tenant(tenant.id, TenantChanges(region=tenant.region))
    stored = 0
    pending: list[dict[str, Any]] = []
    for event in generate(catalog, count, seed=seed):
        pending.append(event)
        if len(pending) >= batch:
            stored += sum(1 for r in store.append(prepare(pending, catalog)) if not r.duplicate)
            pending = []
    if pending:
        stored += sum(1 for r in store.append(prepare(pending, catalog)) if not r.duplicate)
    return stored


def is_empty(store: Store) -> bool:
    """No tenant and no event: a database the demo may fill (``kansa demo --if-empty``)."""
    return not store.list_tenants() and store.count_events() == 0


PASSWORD_FILE = "kansa-demo-password.txt"


def password_file(database_url: str) -> Path | None:
    """Where the demo accounts' password is kept: beside a SQLite database. (With
    PostgreSQL it is only printed.)"""
    if database_url.startswith("sqlite://") and path_of(database_url) != ":memory:":
        return Path(path_of(database_url)).parent / PASSWORD_FILE
    return None


def demo_password(path: Path | None) -> str:
    """The demo accounts' password kept at ``path``; a new random one, kept there (mode
    0600) if there is none yet. Never a constant: anyone may read kansa's source."""
    from kansa.access.accounts import generate_password

    if path is None:
        return generate_password()
    try:
        kept = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        kept = ""
    if kept:
        return kept
    password = generate_password()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(password + "\n")
    return password


@dataclass(frozen=True)
class DemoAccount:
    tenant: str
    login: str
    role: str
    name: str
    created: bool
    """Made now, with the password given; else there before, with its own."""


def demo_accounts(store: Store, catalog: Catalog, password: str) -> list[DemoAccount]:
    """An administrator (``admin``) and a general user in each demo tenant, those missing
    made with ``password``. The general user is the person of the tenant's latest login
    (their account's login is their actor id, which is how kansa finds a person's own
    events), so their own history is not empty."""
    from kansa.access.accounts import hash_password
    from kansa.events.query import Filters, Query

    made = []
    hashed = hash_password(password)
    for tenant in TENANTS:
        if tenant.product not in catalog.products or store.get_tenant(tenant.id) is None:
            continue
        app = catalog.products[tenant.product].apps[0]
        latest = None
        for histories in (("login",), ()):
            page = store.search(
                Query(tenant=tenant.id, filters=Filters(histories=histories, apps=(app,)), limit=1)
            )
            if page.events:
                latest = page.events[0].get("actor")
                break
        people = [("admin", "admin", f"{tenant.name} 管理者")]
        if latest:
            people.append((str(latest["id"]), "user", str(latest.get("name") or latest["id"])))
        for login, role, name in people:
            account = store.get_account(tenant.id, login)
            created = account is None
            if account is None:
                account = store.create_account(
                    tenant.id, login, name=name, role=role, password_hash=hashed
                )
            made.append(DemoAccount(tenant.id, account.login, account.role, account.name, created))
    return made
