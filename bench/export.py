"""Exports and verification, each beside the engine's own path over the same rows, each in a
process of its own (:mod:`bench.child`) for its peak RSS."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.noise import Meter


@dataclass
class Measured:
    what: str
    rows: int
    seconds: float
    bytes: int
    rss_kib: int
    """Peak resident set of the process (its ``VmHWM`` at the end)."""
    wall: float
    noise: str = ""

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def run_child(what: str, url: str, *args: str) -> Measured:
    """``python -m bench.child what url args…``; its timing and peak RSS."""
    command = [sys.executable, "-m", "bench.child", what, url, *args]
    meter = Meter()
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=out, stderr=err)
        process.wait()
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        text, problem = out.read().decode(), err.read().decode(errors="replace")
    if process.returncode != 0:
        raise SystemExit(f"bench: {' '.join(command[2:])} failed:\n{text}\n{problem}")
    line = next(x for x in text.splitlines() if x.startswith("BENCH-CHILD "))
    result = json.loads(line.removeprefix("BENCH-CHILD "))
    return Measured(
        what,
        int(result["rows"]),
        float(result["seconds"]),
        int(result["bytes"]),
        int(result["hwm_kib"]),
        wall,
        meter.text(),
    )


@dataclass
class ExportRun:
    label: str
    raw: Measured
    kansa: Measured

    @property
    def ratio(self) -> float:
        return self.kansa.rate / self.raw.rate if self.raw.rate else 0.0


def warm(url: str) -> None:
    """Read every stored row once (untimed), so neither side pays for a cold cache."""
    run_child("raw-hash", url)


def run_export(url: str, tenants: list[str], label: str, workdir: Path) -> ExportRun:
    """The raw export then kansa's, of ``tenants`` in turn, each to a file in ``workdir``
    (removed straight after)."""
    outputs = []
    try:
        raw_out, kansa_out = workdir / f"raw-{label}.csv", workdir / f"kansa-{label}.csv"
        outputs = [raw_out, kansa_out]
        raw = run_child("raw-csv", url, str(raw_out), *tenants)
        kansa = run_child("kansa-export", url, str(kansa_out), *tenants)
    finally:
        for path in outputs:
            path.unlink(missing_ok=True)
    return ExportRun(label, raw, kansa)


def run_verify(url: str) -> ExportRun:
    raw = run_child("raw-hash", url)
    kansa = run_child("kansa-verify", url)
    return ExportRun("verify", raw, kansa)
