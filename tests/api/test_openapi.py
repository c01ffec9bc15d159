"""The API's contract does not change by accident: the app's OpenAPI document equals the one
saved in ``tests/api/openapi.json``, except that an operation may gain responses (an error
it now documents). Anything else — a path, a parameter, a schema, a response changed or
taken away — fails here.

When the API changes on purpose, write the document again and commit it with the change:

    python -m tests.api.test_openapi
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from kansa.server.app import create_app
from kansa.settings import Settings

SAVED = Path(__file__).with_name("openapi.json")


def current() -> dict[str, Any]:
    """The OpenAPI document of an app built on a throwaway SQLite database."""
    with tempfile.TemporaryDirectory() as directory:
        app = create_app(Settings(database_url=f"sqlite:///{directory}/kansa.db"))
        document: dict[str, Any] = app.openapi()
    return document


def dumped(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def differences(saved: Any, now: Any, at: tuple[str, ...] = ()) -> list[str]:
    """Where ``now`` departs from ``saved``, each place written as its keys joined by " > ";
    an entry added to a ``responses`` object is not a departure."""
    where = " > ".join(at)
    if isinstance(saved, dict) and isinstance(now, dict):
        found = [f"{where} > {key}: removed" for key in saved if key not in now]
        if at[-1:] != ("responses",):
            found += [f"{where} > {key}: added" for key in now if key not in saved]
        for key in sorted(saved.keys() & now.keys()):
            found += differences(saved[key], now[key], (*at, key))
        return found
    if isinstance(saved, list) and isinstance(now, list) and len(saved) == len(now):
        pairs = enumerate(zip(saved, now, strict=True))
        return [d for i, (old, new) in pairs for d in differences(old, new, (*at, str(i)))]
    return [] if saved == now else [f"{where}: {saved!r} became {now!r}"]


def test_the_openapi_document_is_the_saved_one() -> None:
    saved = json.loads(SAVED.read_text(encoding="utf-8"))
    assert differences(saved, current()) == [], "the API changed: see this module's docstring"


def operation(responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"paths": {"/x": {"get": {"responses": responses, **more}}}}


def test_only_added_responses_are_tolerated() -> None:
    saved = operation({"200": {"description": "ok"}})
    assert differences(saved, operation({"200": {"description": "ok"}, "503": {}})) == []
    assert differences(operation({"200": {}, "503": {}}), operation({"200": {}})) == [
        "paths > /x > get > responses > 503: removed"
    ]
    assert differences(saved, operation({"200": {"description": "fine"}})) == [
        "paths > /x > get > responses > 200 > description: 'ok' became 'fine'"
    ]
    assert differences(saved, operation({"200": {"description": "ok"}}, deprecated=True)) == [
        "paths > /x > get > deprecated: added"
    ]
    assert differences({"a": [1, 2]}, {"a": [1, 2, 3]}) == ["a: [1, 2] became [1, 2, 3]"]


if __name__ == "__main__":
    SAVED.write_text(dumped(current()), encoding="utf-8")
    print(f"wrote {SAVED}")
