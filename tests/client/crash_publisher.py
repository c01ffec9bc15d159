"""A publisher for the crash test, run as its own process with ``sys.executable``.

    crash_publisher.py URL KEY SPOOL TENANT TOTAL RATE STATE

Publishes events ``crash-000000`` .. ``crash-<TOTAL-1>`` through :class:`kansa.client.Client`
on the spool file SPOOL, about RATE a second. Every ``CHECKPOINT`` events it records, durably,
the index it has reached (``STATE.progress``); a restarted publisher resumes from there, so
the events published since the last checkpoint are published a second time with the same
ids — as an application that cannot tell what it sent before a crash would — and it is the
client's ids that keep them from being stored twice. It writes its stats to ``STATE.stats``
(JSON) five times a second, and ``"done": true`` once everything is acknowledged.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kansa.client import Client

CHECKPOINT = 200


def event(tenant: str, index: int) -> dict[str, Any]:
    return {
        "id": f"crash-{index:06d}",
        "tenant": {"id": tenant, "name": "crash-test"},
        "app": "PCA Hub",
        "action": "user.create",
        "occurred_at": "2026-11-21T10:00:00+09:00",
        "result": "success",
        "actor": {"id": "acc-1001", "name": "飯田橋 一郎", "login": "ichiro"},
        "targets": [{"type": "user", "id": f"acc-{index}", "name": "飯田橋 二郎"}],
        "params": {"login": f"user{index}"},
    }


def write(path: Path, text: str) -> None:
    """Replace ``path`` atomically and durably."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def main(url: str, key: str, spool: str, tenant: str, total: int, rate: float, state: str) -> None:
    progress_file, stats_file = Path(state + ".progress"), Path(state + ".stats")
    start = int(progress_file.read_text()) if progress_file.exists() else 0
    client = Client(
        url, key, spool_path=spool, batch_size=250, max_latency=0.1, backoff_base=0.05,
        backoff_max=0.5, request_timeout=5,
    )  # fmt: skip
    pending_at_start = client.stats.pending
    began = time.monotonic()
    last_report = 0.0

    def report(index: int, done: bool = False) -> None:
        figures = {"index": index, "start": start, "pending_at_start": pending_at_start}
        write(stats_file, json.dumps({**figures, **asdict(client.stats), "done": done}))

    for index in range(start, total):
        client.publish(event(tenant, index))
        if (index + 1) % CHECKPOINT == 0:
            write(progress_file, str(index + 1))
        if time.monotonic() - last_report > 0.2:
            report(index + 1)
            last_report = time.monotonic()
        ahead = began + (index - start + 1) / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    write(progress_file, str(total))
    while not client.flush(timeout=1):
        report(total)
    report(total, done=True)
    client.close(timeout=5)


if __name__ == "__main__":
    url, key, spool, tenant, total, rate, state = sys.argv[1:]
    main(url, key, spool, tenant, int(total), float(rate), state)
