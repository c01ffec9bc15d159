"""The demo data a newcomer sees first: valid for the catalogs, and every message names what
it is about (no empty 「」 where a product's message has a name); ``kansa demo --if-empty``
(run by every ``make run``) never touches a database in use, and the demo accounts' password
is random, never a constant of the code."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kansa.access.accounts import Lockout, attempt
from kansa.catalog import Catalog
from kansa.cli import app
from kansa.dburl import path_of
from kansa.demo import generate
from kansa.events.prepare import prepare
from kansa.store import open_store
from kansa.timeutil import utcnow
from tests.helpers import pca_event
from tests.raw import execute

runner = CliRunner()


def test_demo_events_are_valid_and_their_messages_are_whole(catalog: Catalog) -> None:
    prepared = prepare(list(generate(catalog, 4000, seed=7)), catalog)
    products = {event.app for event in prepared}
    assert {"microCMS", "KDDI Business ID", "Garoon"} <= products, products
    for event in prepared:
        assert "「」" not in event.message_ja, event.message_ja
        assert '""' not in event.message_en, event.message_en


def _contents(url: str) -> dict[str, object]:
    """Every table's row count, and the accounts as stored, of the database at ``url``."""
    listing = (
        "SELECT name FROM sqlite_master WHERE type = 'table'"
        if url.startswith("sqlite")
        else "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    )
    tables = sorted(name for (name,) in execute(url, listing))
    counts: dict[str, object] = {
        t: execute(url, f'SELECT count(*) FROM "{t}"')[0][0]  # noqa: S608 - names from the catalog
        for t in tables
    }
    counts["accounts as stored"] = sorted(
        execute(url, "SELECT tenant_id, login, role, password_hash FROM accounts")
    )
    return counts


@pytest.mark.parametrize("holds", ["one event", "one tenant"])
def test_demo_if_empty_adds_nothing_to_a_database_in_use(
    fresh_url: str, catalog: Catalog, tenant_id: str, holds: str
) -> None:
    """Not an event, not a tenant, not an account with a password anyone can read: a
    database with anything in it is not a demo's — even an event of a demo tenant's id."""
    store = open_store(fresh_url)
    try:
        if holds == "one event":
            store.append(prepare([pca_event("iidabashi-company")], catalog))
        else:
            store.create_tenant(tenant_id, name=None, layout="pca-id", tz="Asia/Tokyo", lang="ja")
    finally:
        store.close()
    before = _contents(fresh_url)
    result = runner.invoke(app, ["demo", "--if-empty", "--events", "50", "--db", fresh_url])
    assert result.exit_code == 0, result.output
    assert "nothing added" in result.stdout and "password" not in result.stdout
    assert _contents(fresh_url) == before


def test_demo_accounts_get_a_random_password_printed_once_and_kept_0600(
    fresh_url: str,
) -> None:
    result = runner.invoke(app, ["demo", "--if-empty", "--events", "200", "--db", fresh_url])
    assert result.exit_code == 0, result.output
    assert "stored 200 events" in result.stdout
    password = result.stdout.split("password: ")[1].split()[0]
    assert password != "kansa-demo-password" and len(password) >= 12
    store = open_store(fresh_url)
    try:
        admin = store.get_account("hikari-logistics", "admin")
        assert admin is not None and admin.role == "admin"
        check = attempt(admin, password, now=utcnow(), policy=Lockout())
        assert check.ok
    finally:
        store.close()
    again = runner.invoke(app, ["demo", "--if-empty", "--db", fresh_url])
    assert again.exit_code == 0 and "nothing added" in again.stdout
    assert password not in again.stdout
    if fresh_url.startswith("sqlite"):
        kept = Path(path_of(fresh_url)).parent / "kansa-demo-password.txt"
        assert kept.read_text(encoding="utf-8").strip() == password
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        assert str(kept) in again.stdout  # where to find it after the first run
