"""The console's free text: a term too short for the free-text index is read across the
period, and a note under the results says so; a term the index serves has no note."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.web.test_auth import sign_in


def test_a_scanned_term_is_said_so_under_the_results(client: TestClient, kddi: str) -> None:
    assert sign_in(client, kddi, "admin").status_code == 303
    scanned = client.get("/console/log", params={"text": "証"})
    assert scanned.status_code == 200
    assert 'data-testid="scanned"' in scanned.text and "「証」は短いため" in scanned.text
    served = client.get("/console/log", params={"text": "ワンタイム"})
    assert served.status_code == 200 and 'data-testid="scanned"' not in served.text
