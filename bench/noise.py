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


def process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _tick()


def own_cpu() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


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
