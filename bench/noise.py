"""How much CPU *other* processes took while a part ran: the machine's busy time (/proc/stat)
less the benchmark's own (this process, its finished children, and any running process it
names, such as the server). Linux only; elsewhere nothing is reported."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from pathlib import Path


def _tick() -> int:
    return os.sysconf("SC_CLK_TCK")


def machine_busy() -> float | None:
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return (sum(fields[:8]) - fields[3] - fields[4]) / _tick()


def process_cpu(pid: int, thread: int | None = None) -> float:
    """CPU-seconds of process ``pid`` (or of its ``thread`` alone) so far; 0 once it is gone."""
    where = f"/proc/{pid}/task/{thread}/stat" if thread is not None else f"/proc/{pid}/stat"
    try:
        fields = Path(where).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _tick()


def backends_of(database: str) -> list[int]:
    """The PostgreSQL server processes serving connections to ``database`` on this machine
    (their command lines read ``postgres: [cluster name:] user database host …``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            words = (entry / "cmdline").read_bytes().decode(errors="replace").split()
        except OSError:
            continue
        if words[:1] != ["postgres:"]:
            continue
        named = words[2:] if len(words) > 1 and words[1].endswith(":") else words[1:]
        if len(named) > 1 and named[1] == database:
            found.append(int(entry.name))
    return found


def connections_held(port: int, pids: list[int]) -> list[int]:
    """How many established TCP connections to local ``port`` each of ``pids`` that listens
    on it holds open (the sockets of /proc/net/tcp and tcp6 found among each process's open
    files); a process not listening on ``port`` is left out. An empty list where /proc tells
    nothing."""
    wanted = f":{port:04X}"
    established, listening = set(), set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[1].endswith(wanted):
                if fields[3] == "01":
                    established.add(f"socket:[{fields[9]}]")
                elif fields[3] == "0A":
                    listening.add(f"socket:[{fields[9]}]")
    held = []
    for pid in pids:
        links = set()
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                links.add(os.readlink(fd))
            except OSError:  # closed meanwhile
                continue
        if links & listening:
            held.append(len(links & established))
    return held


def own_cpu() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


class CpuSplit:
    """Where a server's CPU went during a run, per request: the event loop's thread (each
    serving process's main thread), the rest of the serving processes (their other
    threads), the processes they started (the writer processes), and the database's own
    processes (``backends``: PostgreSQL's for the server's database; none on SQLite). Each
    process counts from the start of the run, or from its own start if later; one that ended
    during the run is not counted."""

    def __init__(self, serving: list[int], started: list[int], backends: Callable[[], list[int]]):
        self._serving, self._started, self._backends = serving, started, backends
        self._at = self._read()

    def _read(self) -> dict[str, dict[int, float]]:
        loops = {pid: process_cpu(pid, pid) for pid in self._serving}
        return {
            "event loop": loops,
            "other threads": {pid: process_cpu(pid) - loops[pid] for pid in self._serving},
            "writer processes": {pid: process_cpu(pid) for pid in self._started},
            "database": {pid: process_cpu(pid) for pid in self._backends()},
        }

    def text(self, requests: int) -> str:
        if not requests:
            return ""
        spent = {
            name: sum(cpu - self._at[name].get(pid, 0.0) for pid, cpu in now.items())
            for name, now in self._read().items()
        }
        parts = [f"{name} {cpu / requests * 1e6:,.0f}" for name, cpu in spent.items() if cpu > 0]
        return "CPU a request (µs): " + ", ".join(parts)


class Meter:
    """``Meter(pids)`` … ``meter.others()``: CPU-seconds per second used by other processes."""

    def __init__(self, pids: Callable[[], list[int]] = list) -> None:
        self._pids = pids
        self._busy = machine_busy()
        self._own = own_cpu() + sum(process_cpu(p) for p in pids())
        self._wall = time.perf_counter()

    def others(self) -> float | None:
        busy = machine_busy()
        if busy is None or self._busy is None:
            return None
        own = own_cpu() + sum(process_cpu(p) for p in self._pids()) - self._own
        wall = time.perf_counter() - self._wall
        return max(0.0, busy - self._busy - own) / wall if wall > 0 else None

    def text(self) -> str:
        value = self.others()
        if value is None:
            return ""
        return f"other processes used {value:.2f} of {os.cpu_count()} cores"
