"""A kansa cluster for the tests, made by deploy/cluster.sh (what `make cluster` runs): a
PostgreSQL primary and a synchronous standby on ports of their own in a temp dir, two
`kansa serve` nodes, nginx in front. One per test module; always taken down afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from kansa.store import open_store
from tests import pg
from tests.helpers import ROOT, new_key
from tests.net import free_port
from tests.served import KANSA

SCRIPT = ROOT / "deploy" / "cluster.sh"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@dataclass
class Cluster:
    directory: Path
    lb: str
    """The load balancer's base URL."""
    database_url: str
    read_url: str
    pg_ports: tuple[int, int]
    node_ports: tuple[int, ...]
    key: str
    """A publish+read API key of the PCA Hub application."""
    env: dict[str, str]
    """What deploy/cluster.sh was run with (ports, binaries)."""

    def run(self, command: str, *args: str, timeout: float = 120) -> None:
        """``deploy/cluster.sh COMMAND DIR ARGS``."""
        done = subprocess.run(
            ["bash", str(SCRIPT), command, str(self.directory), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
        )
        assert done.returncode == 0, f"cluster.sh {command}: {done.stderr}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.lb, headers=self.auth, timeout=30)

    def query(self, port: int, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of ``text`` on the server at ``port`` alone (primary or standby)."""
        url = f"postgresql://postgres@127.0.0.1:{port}/kansa?connect_timeout=5"
        with psycopg.connect(url, autocommit=True) as conn:
            return list(conn.execute(text.encode(), params).fetchall())

    def verify(self) -> subprocess.CompletedProcess[str]:
        """``kansa verify`` of the whole database, with the nodes' signing key."""
        key = {"KANSA_SIGNING_KEY_FILE": str(self.directory / "kansa-signing.key")}
        return subprocess.run(
            [KANSA, "verify", "--db", self.database_url],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, **key},
        )

    def primary_port(self) -> int:
        name = (self.directory / "primary").read_text().strip()
        return self.pg_ports[0] if name == "a" else self.pg_ports[1]

    def standby_port(self) -> int:
        return self.pg_ports[1] if self.primary_port() == self.pg_ports[0] else self.pg_ports[0]


def start_cluster(nodes: int = 2) -> Iterator[Cluster]:
    """deploy/cluster.sh up, on free ports; down afterwards, whatever happened."""
    if not Path(NGINX).exists():
        pytest.skip("cluster NOT TESTED: nginx is not installed (.ci/run installs it)")
    if pg.bindir() is None:
        pg.unavailable("no PostgreSQL binaries for the cluster's servers")
    directory = Path(tempfile.mkdtemp(prefix="kansa-cluster-")) / "cluster"
    directory.parent.chmod(0o711)  # the postgres user passes through to its own directory
    pg_ports = (free_port(), free_port())
    node_ports = tuple(free_port() for _ in range(nodes))
    lb_port = free_port()
    env = {
        **os.environ,
        "NODES": str(nodes),
        "KANSA": KANSA,
        "PG_PORTS": " ".join(map(str, pg_ports)),
        "NODE_PORTS": " ".join(map(str, node_ports)),
        "LB_PORT": str(lb_port),
        "PG_EXTRA": "fsync = off",
        "INITDB_OPTS": "--no-sync",
        "PGBIN": str(pg.bindir()),
    }
    up = subprocess.run(
        ["bash", str(SCRIPT), "up", str(directory)], env=env, capture_output=True, text=True
    )
    try:
        assert up.returncode == 0, f"cluster.sh up: {up.stderr}"
        values = dict(
            line.split("=", 1) for line in (directory / "cluster.env").read_text().splitlines()
        )
        store = open_store(values["DATABASE_URL"])
        key = new_key(store)
        store.close()
        cluster = Cluster(
            directory,
            values["LB_URL"],
            values["DATABASE_URL"],
            values["READ_DATABASE_URL"],
            pg_ports,
            node_ports,
            key,
            env,
        )
        yield cluster
    finally:
        subprocess.run(["bash", str(SCRIPT), "down", str(directory)], env=env, capture_output=True)
        shutil.rmtree(directory.parent, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    yield from start_cluster()
