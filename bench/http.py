"""HTTP ingest: ``kansa serve`` (one worker, or ``--workers N``) on a fresh database, driven
by wrk."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from bench.engines import Engine
from bench.noise import CpuSplit, Meter, backends_of, connections_held, process_cpu

SCRIPT = Path(__file__).with_name("publish.lua")
CONNECTIONS = 16
THREADS = 2
WRK_INSTALL = "apt-get install -y wrk"
KANSA = [sys.executable, "-c", "from kansa.cli import main; main()"]


def template_event() -> dict[str, Any]:
    """A valid PCA ID ``user.create`` event (as tests/conftest.py ``pca_event``); its client
    id is put in per request by the wrk script."""
    return {
        "id": "__ID__",
        "tenant": {"id": "bench-pca", "name": "ベンチ株式会社"},
        "app": "PCA Hub",
        "action": "user.create",
        "occurred_at": "2026-11-21T10:00:00+09:00",
        "result": "success",
        "actor": {
            "id": "acc-1001",
            "name": "飯田橋 一郎",
            "login": "ichiro",
            "email": "ichiro@example.jp",
        },  # fmt: skip
        "ip": "12.34.56.78",
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
        "targets": [{"type": "user", "id": "acc-1002", "name": "飯田橋 二郎", "login": "jiro"}],
        "params": {"login": "jiro"},
        "details": {"changed": ["role"]},
        "trace_id": "7f9c0000aa",
    }


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_version() -> str:
    found = wrk_path()
    if found is None:
        return "not installed"
    out = subprocess.run([found, "-v"], capture_output=True, text=True, check=False)
    first = (out.stdout or out.stderr).splitlines()
    return first[0].split(" Copyright")[0] if first else "?"


@dataclass
class Run:
    name: str
    size: int
    seconds: float
    wrk: dict[str, Any]
    stored: int
    rows_before: int
    profile: Path | None = None
    noise: str = ""
    cpu: str = ""
    spread: str = ""
    """With workers: how many of wrk's connections each worker held, halfway through."""

    @property
    def events(self) -> int:
        return int(self.wrk["accepted"])

    @property
    def requests(self) -> int:
        return int(self.wrk["created"])

    @property
    def unanswered(self) -> int:
        return int(self.wrk["sent"]) - int(self.wrk["answered"])

    @property
    def failures(self) -> int:
        w = self.wrk
        return int(w["other"]) + sum(
            int(w[k])
            for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
        )

    def check(self) -> tuple[bool, str]:
        """Every event acknowledged is stored, nothing else is, apart from whole requests
        that were still in flight when wrk stopped at its deadline (sent, committed by the
        server, reply never read)."""
        extra = self.stored - self.events
        whole = extra % self.size == 0
        ok = self.failures == 0 and whole and 0 <= extra // self.size <= self.unanswered
        text = f"stored {self.stored:,} = {self.events:,} acknowledged by 201"
        if extra:
            text += (
                f" + {extra:,} in {extra // self.size if whole else '?'} request(s) still in"
                f" flight at wrk's deadline (of {self.unanswered} unanswered)"
            )
        text += f"; non-2xx/errors {self.failures}"
        if self.wrk.get("sample_other"):
            text += f" (first: {self.wrk['sample_other']})"
        return ok, text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _kansa(*args: str) -> str:
    out = subprocess.run([*KANSA, *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"bench: kansa {' '.join(args)} failed:\n{out.stderr}")
    return out.stdout


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    key: str
    url: str
    log: Path
    workers: int = 1

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        """The server's process and, with workers, every process under it."""
        return [self.process.pid, *descendants(self.process.pid)]

    def serving(self, parents: dict[int, int]) -> list[int]:
        """The serving processes: the one, or each worker (``parents`` read by
        :func:`_parents`)."""
        top = self.process.pid
        if self.workers == 1:
            return [top]
        return [c for c, of in parents.items() if of == top and not _is_hub(c)]

    def hubs(self, parents: dict[int, int]) -> list[int]:
        """With workers, the writer process they share (the supervisor's child)."""
        top = self.process.pid
        return [c for c, of in parents.items() if of == top and _is_hub(c)]

    def serving_and_started(self) -> tuple[list[int], list[int]]:
        """The serving processes and the writer processes: those they started, or the one
        the workers share."""
        parents = _parents()
        serving = self.serving(parents)
        started = [p for pid in serving for p in descendants(pid, parents)]
        return serving, started + self.hubs(parents)

    def peak_rss_kib(self) -> int | None:
        """The peak RSS of a serving process with its writer process: their peaks (VmHWM)
        added up, which bounds their peak together from above. With workers, the largest
        worker's, with the writer process they share."""
        parents = _parents()  # one read of /proc for every worker
        shared = sum(p for pid in self.hubs(parents) if (p := peak_rss_kib(pid)))
        totals = [
            sum(peaks) + shared
            for worker in self.serving(parents)
            if (
                peaks := [
                    p for pid in (worker, *descendants(worker, parents)) if (p := peak_rss_kib(pid))
                ]
            )
        ]
        return max(totals, default=None)


def _is_hub(pid: int) -> bool:
    """Whether ``pid`` is the writer process the workers share (kansa.server.writer_hub)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"kansa.server.writer_hub" in command


def peak_rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def descendants(pid: int, parents: dict[int, int] | None = None) -> list[int]:
    """Every process whose parent, or parent's parent …, is ``pid`` (from /proc, or from
    ``parents`` when given, read by :func:`_parents`)."""
    parents = _parents() if parents is None else parents
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        below = [child for child, of in parents.items() if of == parent]
        found.extend(below)
        frontier.extend(below)
    return found


def _parents() -> dict[int, int]:
    """Each process's parent (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[1])
    return parents


@contextmanager
def server(
    db_url: str, workdir: Path, workers: int = 1, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """``kansa init``, a publish key, then ``kansa serve [--workers N]`` (its environment
    ours with ``env``) on a free port until /healthz answers; stopped (SIGINT, as Ctrl-C)
    on exit."""
    _kansa("init", "--db", db_url)
    made = json.loads(
        _kansa(
            "apikey", "create", "--app", "PCA Hub", "--scopes", "publish", "--json", "--db", db_url
        )  # fmt: skip
    )
    port = _free_port()
    log = workdir / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*KANSA, "serve", "--db", db_url, "--port", str(port), "--workers", str(workers)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    running = Server(process, port, made["key"], db_url, log, workers)
    try:
        _wait_healthy(running)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(running: Server, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise SystemExit(f"bench: kansa serve exited:\n{running.log.read_text()}")
        try:
            with urllib.request.urlopen(f"{running.base}/healthz", timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise SystemExit(f"bench: kansa serve did not answer /healthz within {timeout:.0f}s")


def warm_up(running: Server, template: dict[str, Any]) -> None:
    """One batch through the real path: checks the key and the template (201 expected)."""
    events = [template | {"id": f"warmup-{n}"} for n in range(100)]
    request = urllib.request.Request(
        f"{running.base}/api/v1/events",
        data=json.dumps({"events": events}).encode(),
        headers={"Authorization": f"Bearer {running.key}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            if reply.status != 201:
                raise SystemExit(f"bench: warm-up got {reply.status}: {reply.read()[:500]!r}")
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"bench: warm-up got {exc.code}: {exc.read()[:500]!r}") from None


def _settled_count(engine: Engine, running: Server, timeout: float = 120.0) -> int:
    """The event count once the server has finished what was in flight: the count has not
    moved and the server has used no CPU for a full second (a server busy with a background
    job may commit nothing for seconds, so a steady count alone is not enough)."""
    deadline = time.monotonic() + timeout
    pids = running.pids()
    last, cpu, quiet = -1, sum(map(process_cpu, pids)), 0
    while time.monotonic() < deadline:
        time.sleep(0.25)
        count, now = engine.count_events(running.url), sum(map(process_cpu, pids))
        quiet = quiet + 1 if count == last and now - cpu < 0.02 else 0
        if quiet >= 4:
            return count
        last, cpu = count, now
    return last


def drive(
    engine: Engine,
    running: Server,
    *,
    name: str,
    size: int,
    seconds: float,
    template_file: Path,
    py_spy: str | None = None,
    profile_dir: Path | None = None,
) -> Run:
    """wrk for ``seconds`` with 16 connections, 2 threads, ``size`` events per request."""
    before = engine.count_events(running.url)
    command = [
        wrk_path() or "wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds:g}s",
        "--timeout", "30s", "-s", str(SCRIPT), running.base,
        "--", str(size), str(template_file), name, running.key,
    ]  # fmt: skip
    spy = None
    profile = None
    if py_spy and profile_dir is not None:
        profile = profile_dir / f"py-spy-{name}.txt"
        spy = subprocess.Popen(
            [py_spy, "record", "--pid", str(running.process.pid), "--threads", "--format",
             "raw", "--rate", "100", "--duration", str(int(seconds)), "--output",
             str(profile), "--nonblocking", *(["--subprocesses"] if running.workers > 1 else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    pids = running.pids()
    meter = Meter(lambda: pids)
    serving, writers = running.serving_and_started()
    split = CpuSplit(serving, writers, lambda: _backends(running.url))
    held: list[int] = []
    if len(serving) > 1:  # the kernel gives each connection to the worker that accepts it
        halfway = threading.Timer(
            seconds / 2, lambda: held.extend(connections_held(running.port, serving))
        )
        halfway.start()
    started = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, errors="replace", check=False)
    elapsed = time.perf_counter() - started
    if spy is not None:
        spy.wait(timeout=seconds + 30)
    noise = meter.text()
    result = None
    for line in out.stdout.splitlines():
        if line.startswith("BENCH-WRK "):
            result = json.loads(line.removeprefix("BENCH-WRK "))
    if out.returncode != 0 or result is None:
        raise SystemExit(f"bench: wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    stored = _settled_count(engine, running) - before
    wrk_seconds = result["duration_us"] / 1e6 or elapsed
    cpu = split.text(int(result["created"]))
    spread = " + ".join(f"{n}" for n in sorted(held, reverse=True))
    return Run(name, size, wrk_seconds, result, stored, before, profile, noise, cpu, spread)


def _backends(url: str) -> list[int]:
    """PostgreSQL's processes serving the database of ``url`` (none for SQLite)."""
    if not url.startswith(("postgresql://", "postgres://")):
        return []
    return backends_of(str(conninfo_to_dict(url).get("dbname") or ""))


def run_http(
    engine: Engine, seconds: float, *, py_spy: bool = False, workers: int = 1
) -> tuple[list[Run], int | None] | None:
    """Both HTTP runs against one server of ``workers`` processes; ``None`` when wrk is
    missing."""
    if wrk_path() is None:
        print(
            f"wrk is not installed: HTTP ingest skipped. Install it with `{WRK_INSTALL}` "
            "(Debian/Ubuntu; macOS: brew install wrk) and run again."
        )
        return None
    spy = (shutil.which("py-spy") or _beside_python("py-spy")) if py_spy else None
    if py_spy and spy is None:
        print("py-spy not found (pip install py-spy): HTTP runs are not profiled")
    workdir = Path(tempfile.mkdtemp(prefix="kansa-bench-http-"))
    try:
        template_file = workdir / "event.json"
        template = template_event()
        template_file.write_text(json.dumps(template, ensure_ascii=False), encoding="utf-8")
        url = engine.fresh_url("http" if workers == 1 else f"http{workers}")
        suffix = "" if workers == 1 else f"-{workers}-workers"
        with server(url, workdir, workers) as running:
            warm_up(running, template)
            runs = [
                drive(engine, running, name=name + suffix, size=size, seconds=seconds,
                      template_file=template_file, py_spy=spy, profile_dir=_keep_dir(spy))
                for name, size in (("batch", 100), ("single", 1))
            ]  # fmt: skip
            rss = running.peak_rss_kib()
        return runs, rss
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _beside_python(name: str) -> str | None:
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() and os.access(candidate, os.X_OK) else None


def _keep_dir(spy: str | None) -> Path | None:
    if spy is None:
        return None
    where = Path(tempfile.gettempdir()) / "kansa-bench-profiles"
    where.mkdir(exist_ok=True)
    return where
