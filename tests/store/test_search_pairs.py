"""The (product, action) pairs a reader may see (and those of the groups asked for), on both
engines: on PostgreSQL one array parameter of ``product<US>action`` keys, whatever their
number, on SQLite a list of pairs — the same events found either way, and a pair holding
the separator (no key could tell it apart) kept as a list on PostgreSQL too."""

from __future__ import annotations

from kansa.catalog import Catalog
from kansa.events.prepare import prepare
from kansa.events.query import Query
from kansa.store.base import Store
from kansa.store.search import PAIR_SEPARATOR, build, pair_keys
from tests.helpers import pca_event
from tests.raw import execute

ACTIONS = ("user.create", "user.disable", "auth.login")


def test_a_readers_pairs_are_one_parameter_on_postgresql() -> None:
    pairs = frozenset((f"product-{n % 4}", f"action.{n}") for n in range(64))
    text, params = build(Query(tenant="t", visible=pairs), "postgresql")
    assert "VALUES" not in text
    (keys,) = [p for p in params if isinstance(p, str) and p.startswith("{")]
    assert keys == pair_keys(pairs)
    assert len(params) < 10
    text, params = build(Query(tenant="t", visible=pairs), "sqlite")
    assert "VALUES" in text and len(params) > 128
    held = pairs | {(f"product{PAIR_SEPARATOR}0", "action.0")}
    text, params = build(Query(tenant="t", visible=held), "postgresql")
    assert "VALUES" in text and len(params) > 128


def test_the_pairs_find_the_same_events_as_a_list_would(
    store: Store, catalog: Catalog, tenant_id: str
) -> None:
    events = [pca_event(tenant_id, n, action=a) for n, a in enumerate(ACTIONS, 1)]
    store.append(prepare(events, catalog))
    stored = store.search(Query(tenant=tenant_id)).events
    product = str(stored[0]["product"])
    created, login = (product, "user.create"), (product, "auth.login")
    for visible, found in (
        (frozenset({created}), {"user.create"}),
        (frozenset({created, login, ("other", "user.disable")}), {"user.create", "auth.login"}),
        (frozenset({(product, "user"), ("other", "x")}), set()),
        (frozenset({created, (f"{product}{PAIR_SEPARATOR}user", "disable")}), {"user.create"}),
        (frozenset(), set()),
    ):
        for query in (
            Query(tenant=tenant_id, visible=visible),
            Query(tenant=tenant_id, group_actions=visible),
        ):
            assert {e["action"] for e in store.search(query).events} == found, visible


def test_the_keys_reach_postgresql_as_they_are_whatever_they_hold(postgres_server: str) -> None:
    """The keys are sent as the text of an array, made once: quotes, backslashes, commas,
    braces, spaces, a name spelled NULL and Japanese reach the server unchanged, in order."""
    pairs = frozenset(
        {
            ("say", 'he said "hi"'),
            ("back\\slash", "a\\"),
            ("list", "a,b"),
            ("set", "{x}"),
            ("NULL", "NULL"),
            ("space", " padded "),
            ("人事", "ユーザー削除"),
            ("empty", ""),
        }
    )
    keys = pair_keys(pairs)
    assert keys is not None and pair_keys(pairs) is keys  # made once
    ((read,),) = execute(postgres_server, "SELECT CAST(? AS text[])", keys)
    assert read == sorted(f"{p}{PAIR_SEPARATOR}{a}" for p, a in pairs)
