"""docs/scale.md gives the PostgreSQL settings deploy/cluster.sh runs with, and the same
values."""

from __future__ import annotations

import re

from tests.helpers import ROOT

LOCAL = {"listen_addresses", "unix_socket_directories", "max_connections", "port"}
"""What only a cluster on one machine needs."""


def test_the_settings_the_script_uses_are_documented() -> None:
    script = (ROOT / "deploy" / "cluster.sh").read_text(encoding="utf-8")
    doc = (ROOT / "docs" / "scale.md").read_text(encoding="utf-8")
    conf = script.split("# -- deploy/cluster.sh --", 1)[1].split("\nEOF", 1)[0]
    written = dict(re.findall(r"^(\w+) = (\S+)", conf, re.MULTILINE))
    written["synchronous_standby_names"] = re.findall(
        r"synchronous_standby_names = ('[^']*')", script
    )[0].replace("''", "'")
    assert {"synchronous_commit", "wal_level", "synchronous_standby_names"} <= set(written)
    for name, value in written.items():
        if name in LOCAL:
            continue
        row = re.search(rf"^\| `{name}` \| `([^`]*)` \|", doc, re.MULTILINE)
        assert row is not None, f"{name} is not in docs/scale.md"
        assert row.group(1) == value.strip("'\"") or row.group(1) == value, name
