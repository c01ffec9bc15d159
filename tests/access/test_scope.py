"""The access rules of :func:`kansa.access.scope.scope` that need no database: who may read
without naming an actor, and the one period rule the API, the console and the CLI share."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from kansa.access.readers import Reader
from kansa.access.scope import Asked, PeriodRefused, scope
from kansa.catalog import Catalog
from kansa.catalog.layout import Layout, default_layout_paths, load_layouts
from kansa.errors import Forbidden
from kansa.events.query import Query
from kansa.integrity.chain import GENESIS
from kansa.records import Tenant

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 21, 6, 30, tzinfo=UTC)  # 15:30 in Tokyo
TENANT = Tenant("org-s", "s", "pca-id", "Asia/Tokyo", "ja", NOW, 0, GENESIS)
ADMIN = Reader("viewer", "admin", "org-s", "acc-1", "一郎")


@pytest.fixture(scope="module")
def pca() -> Layout:
    return load_layouts(default_layout_paths())["pca-id"]


def scoped(reader: Reader, asked: Asked, layout: Layout, catalog: Catalog) -> Query:
    return scope(reader, asked, tenant=TENANT, layout=layout, catalog=catalog, now=NOW)


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=JST)


def test_a_user_reader_naming_no_actor_reads_nothing(pca: Layout, catalog: Catalog) -> None:
    nameless = Reader("viewer", "user", "org-s", None, "?")
    with pytest.raises(Forbidden, match="own events"):
        scoped(nameless, Asked(), pca, catalog)
    named = scoped(Reader("viewer", "user", "org-s", "acc-2", "二郎"), Asked(), pca, catalog)
    assert named.actor_id == "acc-2"


def test_the_period_rule(pca: Layout, catalog: Catalog) -> None:
    earliest = day("2026-11-14")  # PCA ID on screen: from midnight 7 days before today (JST)
    whole = scoped(ADMIN, Asked(), pca, catalog)
    assert (whole.since, whole.until) == (earliest, None)
    first_day = scoped(ADMIN, Asked(since=day("2026-11-14")), pca, catalog)
    assert first_day.since == earliest  # the first day a date picker offers: all of it
    today = scoped(ADMIN, Asked(since=day("2026-11-20"), until=day("2026-11-22")), pca, catalog)
    assert (today.since, today.until) == (day("2026-11-20"), day("2026-11-22"))
    refusals = {
        "from_after_to": Asked(since=day("2026-11-20"), until=day("2026-11-20")),
        "future": Asked(until=day("2026-11-23")),
        "before_window": Asked(since=day("2026-11-13")),
    }
    for fault, asked in refusals.items():
        with pytest.raises(PeriodRefused) as refused:
            scoped(ADMIN, asked, pca, catalog)
        assert refused.value.fault == fault
    assert refused.value.earliest == earliest
    assert "the last 7 days" in str(refused.value)
