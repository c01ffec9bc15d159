"""The event contract: what is accepted, what is refused and where, what is rendered."""

from __future__ import annotations

import pickle
from dataclasses import astuple
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from kansa.catalog import Catalog
from kansa.errors import InvalidInput
from kansa.events.prepare import prepare
from tests.helpers import pca_event


def problems(catalog: Catalog, items: list[Any], **kwargs: Any) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        prepare(items, catalog, **kwargs)
    return {p.path: p.message for p in caught.value.problems}


def test_a_valid_event_is_prepared_with_rendered_messages(catalog: Catalog) -> None:
    (event,) = prepare([pca_event("org-42")], catalog)
    assert event.tenant_id == "org-42"
    assert (event.product, event.category, event.history) == ("pca-id", "user", "operation")
    assert event.level == "info"
    assert event.message_ja == "ユーザー[jiro]を作成"
    assert event.message_en == "Created user [jiro]"
    record = orjson.loads(event.core)
    assert record["occurred_at"] == "2026-11-21T01:00:00.000000Z"  # stored as UTC
    assert record["actor"]["name"] == "飯田橋 一郎"
    assert record["message"] == {"ja": "ユーザー[jiro]を作成", "en": "Created user [jiro]"}


def test_a_prepared_event_goes_to_the_writer_process_and_back_the_same(catalog: Catalog) -> None:
    # pickled, as the serving process sends events to its writer process: every field, in
    # its own place, and the times in UTC (one zone for every event, pickled once)
    items = [
        pca_event("org-42", id="c-1", correlation_id="corr-1", trace_id="t-1"),
        pca_event("org-43", occurred_at="2026-11-21T10:00:00-05:00"),
        {**pca_event("org-44"), "actor": None, "anonymous": True, "targets": []},
    ]
    events = prepare(items, catalog)
    for event in events:
        back = pickle.loads(pickle.dumps(event, pickle.HIGHEST_PROTOCOL))
        assert back == event
        assert astuple(back) == astuple(event)
    assert events[1].occurred_at == datetime(2026, 11, 21, 15, tzinfo=UTC)
    assert all(event.occurred_at.tzinfo is UTC for event in events)  # the one object
    assert events[0].occurred_at == datetime(2026, 11, 21, 10, tzinfo=timezone(timedelta(hours=9)))


def test_canonical_bytes_have_sorted_keys_and_no_spaces(catalog: Catalog) -> None:
    (event,) = prepare([pca_event("org-42", details={"z": 1, "a": {"y": 2, "b": 3}})], catalog)
    assert b'"details":{"a":{"b":3,"y":2},"z":1}' in event.core
    assert b": " not in event.core and b", " not in event.core


def test_a_naive_timestamp_is_refused(catalog: Catalog) -> None:
    found = problems(catalog, [pca_event("t", occurred_at="2026-11-21T10:00:00")])
    assert "UTC offset" in found["events[0].occurred_at"]


def test_every_problem_of_a_batch_is_listed_with_its_path(catalog: Catalog) -> None:
    good = pca_event("t")
    found = problems(
        catalog,
        [
            good,
            pca_event("t", action="user.creat"),
            pca_event("t", actor={"name": "no id"}),
            pca_event("t", result="maybe"),
            pca_event("t", params={}, targets=[]),
            pca_event("t", ip="999.1.1.1"),
            pca_event("t", colour="red"),
            pca_event("t", tenant={"id": "bad id with spaces"}),
        ],
    )
    assert "did you mean 'user.create'" in found["events[1].action"]
    assert found["events[2].actor.id"] == "is required"
    assert "allowed: success, failure" in found["events[3].result"]
    assert "{login}" in found["events[4].params.login"]
    assert "IPv4 or IPv6" in found["events[5].ip"]
    assert found["events[6].colour"] == "is not a field of an event"
    assert "events[7].tenant.id" in found
    assert "events[0]" not in " ".join(found)


def test_a_single_event_has_paths_without_a_prefix(catalog: Catalog) -> None:
    found = problems(catalog, [pca_event("t", result="maybe")], single=True)
    assert list(found) == ["result"]


def test_actor_or_anonymous(catalog: Catalog) -> None:
    missing = pca_event("t")
    del missing["actor"]
    assert "anonymous" in problems(catalog, [missing])["events[0]"]
    both = pca_event("t", anonymous=True)
    assert "one or the other" in problems(catalog, [both])["events[0]"]
    failed_login = {
        "tenant": "t",
        "app": "PCA Hub",
        "action": "auth.login_failed",
        "result": "failure",
        "anonymous": True,
        "ip": "2001:db8::1",
        "params": {"login_name": "nobody"},
    }
    (event,) = prepare([failed_login], catalog)
    assert event.actor_id is None and event.level == "warning"
    assert event.ip == "2001:db8::1"


def test_ipv6_is_normalised(catalog: Catalog) -> None:
    (event,) = prepare([pca_event("t", ip="2001:0DB8:0000::0001")], catalog)
    assert event.ip == "2001:db8::1"


def test_the_app_decides_the_product_and_an_ambiguous_action_asks_for_it(
    catalog: Catalog,
) -> None:
    garoon = {
        "tenant": "t",
        "app": "Garoon",
        "action": "logout",
        "result": "success",
        "actor": {"id": "u1", "name": "Sato"},
    }
    (event,) = prepare([garoon], catalog)
    assert event.product == "cybozu"
    # An unknown app: the action alone must name one product.
    (event,) = prepare([pca_event("t", app="Some other app")], catalog)
    assert event.product == "pca-id"
    # The key's application stands in for a missing app.
    no_app = pca_event("t")
    del no_app["app"]
    (event,) = prepare([no_app], catalog, default_app="PCA ID 管理コンソール")
    assert event.app == "PCA ID 管理コンソール"


def test_the_level_defaults_from_the_catalog_and_a_failure_may_raise_it(
    catalog: Catalog,
) -> None:
    (ok,) = prepare([pca_event("t", action="user.disable")], catalog)
    assert ok.level == "important"
    (failed,) = prepare([pca_event("t", result="failure")], catalog)
    assert failed.level == "error"  # PCA ID: an unexpected failure is エラー
    (given,) = prepare([pca_event("t", level="warning")], catalog)
    assert given.level == "warning"


def test_a_param_with_listed_values_must_be_one_of_them(catalog: Catalog) -> None:
    job = {
        "tenant": "t",
        "app": "KDDI Business ID",
        "action": "provision.user.create",
        "result": "processing",
        "actor": {"id": "system"},
        "targets": [{"id": "jiro@example.jp"}],
        "params": {"service": "Nonexistent 365"},
        "correlation_id": "job-1",
    }
    assert "Microsoft 365" in problems(catalog, [job])["events[0].params.service"]
    job["params"] = {"service": "Microsoft 365"}
    (event,) = prepare([job], catalog)
    assert event.correlation_id == "job-1" and event.message_ja == ""


def test_kddi_login_message_fills_ip_from_the_event(catalog: Catalog) -> None:
    login = {
        "tenant": "t",
        "app": "KDDI Business ID",
        "action": "login.password_otp",
        "result": "success",
        "actor": {"id": "jiro", "name": "飯田橋 二郎"},
        "ip": "12.34.56.78",
        "params": {"os": "Windows"},
    }
    (event,) = prepare([login], catalog)
    expected = "ID/パスワード+ワンタイムパスワード認証による認証成功[12.34.56.78 Windows]"
    assert event.message_ja == expected
    del login["params"]
    (event,) = prepare([login], catalog)
    assert event.message_ja.endswith("[12.34.56.78]")


def test_limits_on_sizes(catalog: Catalog) -> None:
    found = problems(catalog, [pca_event("t", details={"blob": "x" * 70_000})])
    assert "larger than" in found["events[0].details"]
    found = problems(catalog, [pca_event("t", user_agent="x" * 3000)])
    assert "events[0].user_agent" in found


def test_occurred_at_must_be_plausible(catalog: Catalog) -> None:
    found = problems(
        catalog,
        [
            pca_event("t", occurred_at="1999-12-31T23:59:59Z"),
            pca_event("t", occurred_at="9999-01-01T00:00:00Z"),
        ],
    )
    assert set(found) == {"events[0].occurred_at", "events[1].occurred_at"}


def test_every_value_a_catalog_lists_is_enforced_with_the_allowed_values(catalog: Catalog) -> None:
    """Garoon's FAILED reset mail names its reason in its message only (not in params):
    still only the seed's reasons are accepted."""
    failed = {
        "tenant": "t",
        "app": "Garoon",
        "action": "send password reset mail",
        "result": "failure",
        "anonymous": True,
        "params": {"email": "a@example.jp", "reason": "forgot"},
    }
    assert problems(catalog, [failed])["events[0].params.reason"] == (
        "'forgot' is not one of: unregistered, duplicated"
    )
    failed["params"] = {"email": "a@example.jp", "reason": "duplicated"}
    assert prepare([failed], catalog)[0].message_en == "a@example.jp duplicated"


def test_an_event_logged_by_several_modules_says_which(catalog: Catalog) -> None:
    download = {
        "tenant": "t",
        "app": "Garoon",
        "action": "download certificate",
        "result": "success",
        "actor": {"id": "sato"},
        "targets": [{"id": "42", "name": "佐藤 昇"}],
    }
    assert "User Profile" in problems(catalog, [download])["events[0].params.module"]
    download["params"] = {"module": "Garoon"}
    assert (
        "System Administration, User Profile"
        in (problems(catalog, [download])["events[0].params.module"])
    )
    download["params"] = {"module": "User Profile"}
    assert prepare([download], catalog)[0].message_en == "佐藤 昇 (42)"
