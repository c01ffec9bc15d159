"""``python -m bench``: measure, then print one table (see docs/benchmarks.md)."""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from datetime import datetime

import kansa
from bench import http, ingest
from bench.engines import engine_for
from bench.noise import Meter
from kansa.catalog import default_catalog_paths, load_catalog

TARGET_STORE_RATIO = 0.50
TARGET_BATCH_EVENTS = 10_000
TARGET_SINGLE_REQUESTS = 1_000


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="kansa ingest benchmark: store API and HTTP, each beside the engine's "
        "own insert limit measured in the same run.",
    )
    parser.add_argument("--events", type=int, default=None,
                        help="events for the store-level part (default 1,000,000; "
                        "--quick: 100,000)")  # fmt: skip
    parser.add_argument("--db", default=None,
                        help="database URL; default a fresh SQLite file in a temp dir. With "
                        "sqlite:///dir/NAME.db the files dir/NAME-raw.db, -store.db, -http.db "
                        "are created and must not exist")  # fmt: skip
    parser.add_argument("--http-seconds", type=float, default=None,
                        help="seconds of wrk per HTTP run (default 15; --quick: 5)")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 100,000 events, 5 s per HTTP run")  # fmt: skip
    parser.add_argument("--only", choices=("ingest", "http"), default=None,
                        help="run one part only")  # fmt: skip
    parser.add_argument("--py-spy", action="store_true",
                        help="record the server with py-spy during the HTTP runs (raw "
                        "collapsed stacks under $TMPDIR/kansa-bench-profiles)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args(argv)
    if args.events is None:
        args.events = 100_000 if args.quick else 1_000_000
    if args.http_seconds is None:
        args.http_seconds = 5.0 if args.quick else 15.0
    if args.events < 1 or args.http_seconds <= 0:
        parser.error("--events and --http-seconds must be positive")
    return args


def _cpu() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _mem_gib() -> str:
    try:
        for line in open("/proc/meminfo", encoding="utf-8"):
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return "?"


def _n(value: float) -> str:
    return f"{value:,.0f}"


class Table:
    HEAD = ("what", "rows/reqs", "seconds", "rate", "engine limit", "ratio", "target")

    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []

    def add(self, *cells: str) -> None:
        self.rows.append(cells)

    def print(self) -> None:
        widths = [max(len(r[i]) for r in (self.HEAD, *self.rows)) for i in range(len(self.HEAD))]
        left = {0, 6}
        for number, row in enumerate((self.HEAD, *self.rows)):
            cells = [c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in
                     enumerate(zip(row, widths, strict=True))]  # fmt: skip
            print("  ".join(cells).rstrip())
            if number == 0:
                print("  ".join("-" * w for w in widths))


def _verdict(value: float, target: float) -> str:
    return "ok" if value >= target else "MISSED"


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    engine = engine_for(args.db, keep=args.keep)
    print(f"kansa benchmark — {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"  kansa {kansa.__version__}, Python {platform.python_version()}, "
          f"{engine.name} {engine.version()}, wrk: {http.wrk_version()}")  # fmt: skip
    print(f"  machine: {os.cpu_count()} cores ({_cpu()}), {_mem_gib()} RAM, "
          f"{platform.system()} {platform.release()}")  # fmt: skip
    print(f"  {engine.name}: {engine.settings()}; databases in {getattr(engine, 'where', '-')}")
    started = time.perf_counter()
    table = Table()
    notes: list[str] = []
    verdicts: list[tuple[str, bool | None]] = []
    checks_ok = True
    raw: ingest.Timing | None = None
    try:
        if args.only in (None, "ingest"):
            print(f"\n[ingest] {args.events:,} demo events in batches of 1,000: prepare, "
                  f"raw {engine.name} insert and store append, batch by batch")  # fmt: skip
            catalog = load_catalog(default_catalog_paths())
            meter = Meter()
            result = ingest.run_ingest(engine, catalog, args.events)
            ingest_noise = meter.text()
            raw, store, prep = result.raw, result.store, result.prepare
            ratio = store.rate / raw.rate
            met = ratio >= TARGET_STORE_RATIO
            verdicts.append((f"store ≥ {TARGET_STORE_RATIO:.0%} of raw", met))
            table.add(f"raw {engine.name} executemany, 1,000/tx", _n(raw.rows),
                      f"{raw.seconds:.1f}", f"{_n(raw.rate)} rows/s", "(is the limit)", "1.00",
                      "")  # fmt: skip
            table.add("store append, batches of 1,000", _n(store.rows), f"{store.seconds:.1f}",
                      f"{_n(store.rate)} rows/s", f"{_n(raw.rate)} rows/s", f"{ratio:.2f}",
                      f"≥ {TARGET_STORE_RATIO:.2f} of raw: "
                      f"{_verdict(ratio, TARGET_STORE_RATIO)}")  # fmt: skip
            table.add("prepare (validate, render, canonical JSON)", _n(prep.rows),
                      f"{prep.seconds:.1f}", f"{_n(prep.rate)} ev/s", "", "",
                      "(CPU, paid by HTTP ingest)")  # fmt: skip
            notes.append(f"demo data: {len(result.tenants)} tenants, {len(result.actors)} "
                         f"actors, canonical event {result.core_bytes / prep.rows:,.0f} bytes "
                         f"on average; generating it took {result.generate_seconds:.1f} s "
                         f"(untimed)")  # fmt: skip
            if ingest_noise:
                notes.append(f"noise during the ingest part: {ingest_noise}")
            sizes = [engine.size_bytes(raw.url), engine.size_bytes(store.url)]
            if all(sizes):
                notes.append(f"database size: raw {sizes[0] / 2**20:,.0f} MiB, "
                             f"store {sizes[1] / 2**20:,.0f} MiB (with WAL)")  # fmt: skip
        if args.only in (None, "http"):
            print(f"\n[HTTP] kansa serve (1 worker) + wrk, {http.THREADS} threads, "
                  f"{http.CONNECTIONS} connections, {args.http_seconds:g} s per run")  # fmt: skip
            outcome = http.run_http(engine, args.http_seconds, py_spy=args.py_spy)
            if outcome is None:
                notes.append(f"HTTP ingest skipped: wrk is missing (`{http.WRK_INSTALL}`)")
                verdicts.append(("HTTP targets (wrk missing)", None))
            else:
                runs, rss = outcome
                for run in runs:
                    ev_rate = run.events / run.seconds
                    rq_rate = run.requests / run.seconds
                    # The engine's limit while its database grew through the same sizes as
                    # the server's did in this run (a small database inserts faster).
                    if raw is None:
                        limit, ratio_text = "n/a (--only http)", ""
                    elif (
                        same := raw.rate_between(run.rows_before, run.rows_before + run.stored)
                    ) is None:
                        limit = f"{_n(raw.rate)} rows/s*"
                        ratio_text = f"{ev_rate / raw.rate:.2f}"
                        notes.append("* the raw run did not reach the size of the HTTP "
                                     "database: its overall rate is shown")  # fmt: skip
                    else:
                        limit = f"{_n(same)} rows/s"
                        ratio_text = f"{ev_rate / same:.2f}"
                        notes.append(f"HTTP {run.name} engine limit: raw inserts while the "
                                     f"database grew from {run.rows_before:,} to "
                                     f"{run.rows_before + run.stored:,} rows")  # fmt: skip
                    if run.size > 1:
                        verdicts.append(
                            (
                                f"HTTP batches ≥ {_n(TARGET_BATCH_EVENTS)} ev/s",
                                ev_rate >= TARGET_BATCH_EVENTS,
                            )
                        )
                        table.add(f"HTTP batches of {run.size}: events", _n(run.events),
                                  f"{run.seconds:.1f}", f"{_n(ev_rate)} ev/s", limit,
                                  ratio_text, f"≥ {_n(TARGET_BATCH_EVENTS)} ev/s: "
                                  f"{_verdict(ev_rate, TARGET_BATCH_EVENTS)}")  # fmt: skip
                        table.add(f"HTTP batches of {run.size}: requests", _n(run.requests),
                                  f"{run.seconds:.1f}", f"{_n(rq_rate)} req/s", "", "",
                                  "")  # fmt: skip
                    else:
                        verdicts.append(
                            (
                                f"HTTP single ≥ {_n(TARGET_SINGLE_REQUESTS)} req/s",
                                rq_rate >= TARGET_SINGLE_REQUESTS,
                            )
                        )
                        table.add("HTTP one event per request", _n(run.requests),
                                  f"{run.seconds:.1f}", f"{_n(rq_rate)} req/s", limit,
                                  ratio_text, f"≥ {_n(TARGET_SINGLE_REQUESTS)} req/s: "
                                  f"{_verdict(rq_rate, TARGET_SINGLE_REQUESTS)}")  # fmt: skip
                    w = run.wrk
                    notes.append(f"HTTP {run.name} latency: p50 {w['p50_us'] / 1000:.1f} ms, "
                                 f"p90 {w['p90_us'] / 1000:.1f} ms, p99 "
                                 f"{w['p99_us'] / 1000:.1f} ms, max "
                                 f"{w['max_us'] / 1000:.0f} ms")  # fmt: skip
                    if run.noise:
                        notes.append(f"noise during HTTP {run.name}: {run.noise}")
                    passed, text = run.check()
                    checks_ok &= passed
                    notes.append(f"HTTP {run.name} check {'OK' if passed else 'FAILED'}: {text}")
                    if run.profile is not None:
                        notes.append(f"HTTP {run.name} py-spy profile: {run.profile}")
                if rss is not None:
                    notes.append(f"kansa serve peak RSS (VmHWM): {rss / 1024:,.0f} MiB")
    finally:
        engine.cleanup()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    notes.append(f"benchmark process peak RSS: {own:,.0f} MiB")
    print(f"\nResults ({time.perf_counter() - started:.0f} s in all)\n")
    if table.rows:
        table.print()
    else:
        print("nothing was measured")
    print()
    for note in notes:
        print(f"  {note}")
    words = {True: "ok", False: "MISSED", None: "not measured"}
    print("\ntargets: " + "; ".join(f"{name}: {words[met]}" for name, met in verdicts))
    if not checks_ok:
        print("a stored-count CHECK FAILED: see the notes above")
    sys.stdout.flush()
    return 0 if checks_ok else 1
