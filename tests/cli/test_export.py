"""``kansa export`` through its runner, on every engine."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import stat
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from kansa.catalog import Catalog
from kansa.cli import app
from kansa.events.prepare import prepare
from kansa.events.query import Filters, Query
from kansa.store import Store
from kansa.timeutil import utcnow
from tests.helpers import pca_event

runner = CliRunner()


def kansa(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    failure = result.exception if not isinstance(result.exception, SystemExit) else None
    return result.exit_code, result.stdout, result.stderr + (repr(failure) if failure else "")


def make(store: Store, catalog: Catalog, tenant: str) -> None:
    store.create_tenant(tenant, name="飯田橋", layout="pca-id", tz="Asia/Tokyo", lang="ja")
    moment = utcnow() - timedelta(days=1)
    events = [
        pca_event(tenant, 1, occurred_at=moment.isoformat()),
        pca_event(
            tenant,
            2,
            occurred_at=moment.isoformat(),
            actor={"id": "a", "name": "〜☃", "login": "x"},
        ),
    ]
    store.append(prepare(events, catalog))


def test_export_writes_the_file_reports_and_is_recorded(
    store_url: str, store: Store, catalog: Catalog, tenant_id: str, tmp_path: Path
) -> None:
    make(store, catalog, tenant_id)
    target = tmp_path / "out.csv"
    args = ["export", "--db", store_url, "--tenant", tenant_id, "-o", str(target)]
    code, out, err = kansa(*args, "--encoding", "cp932", "--newline", "lf", "--lang", "en")
    assert code == 0, err
    assert out == "" and not (tmp_path / "out.csv.part").exists()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # a tenant's log: its owner's alone
    data = target.read_bytes()
    table = list(csv.reader(io.StringIO(data.decode("cp932"), newline="")))
    assert table[0][:2] == ["Level", "Date"] and len(table) == 3
    assert table[2][7] == "～?" and b"\r\n" not in data
    summary = err.strip().splitlines()[-1]
    assert summary.startswith("exported events_") and f"to {target}: 2 rows, " in summary
    assert f"{len(data)} bytes" in summary and "1 unmappable" in summary
    recorded = list(store.stream(Query(tenant=tenant_id, filters=Filters(actions=("log.export",)))))
    assert len(recorded) == 1
    assert recorded[0]["actor"] == {
        "id": "cli",
        "name": "kansa export",
        "type": "operator",
        "email": None,
        "login": None,
    }
    assert recorded[0]["params"]["rows"] == 2 and recorded[0]["params"]["unmappable"] == 1


def test_export_jsonl_to_stdout_and_its_refusals(
    store_url: str, store: Store, catalog: Catalog, tenant_id: str, tmp_path: Path
) -> None:
    make(store, catalog, tenant_id)
    base = ["export", "--db", store_url, "--tenant", tenant_id]
    code, out, err = kansa(*base, "--format", "jsonl", "-o", "-")
    assert code == 0, err
    hashes = [link.hash for link in store.chain(tenant_id)][:2]
    *lines, manifest = out.encode().splitlines()
    assert [hashlib.sha256(line).hexdigest() for line in lines] == hashes
    assert manifest.startswith(b'{"manifest":')  # signed: see tests/integrity/test_files.py
    old = (utcnow() - timedelta(days=900)).date().isoformat()
    code, _, err = kansa(*base, "--from", old, "-o", str(tmp_path / "x.csv"))
    assert code == 2 and "730 days" in err and not list(tmp_path.iterdir())
    code, _, err = kansa(*base, "--name", "access-log", "-o", str(tmp_path / "x.csv"))
    assert code == 2 and "no export 'access-log'" in err
    code, _, err = kansa("export", "--db", store_url, "--tenant", "nope", "-o", "-")
    assert code == 2 and "no tenant 'nope'" in err


def test_export_works_inside_a_running_event_loop(
    store_url: str, store: Store, catalog: Catalog, tenant_id: str, tmp_path: Path
) -> None:
    """As in a notebook, or a test session with a browser driven by an event loop."""
    make(store, catalog, tenant_id)

    async def inside() -> tuple[int, str, str]:
        return kansa("export", "--db", store_url, "--tenant", tenant_id, "-o", str(tmp_path / "x"))

    code, _, err = asyncio.run(inside())
    assert code == 0, err
