"""``python -m bench``: measure, then print one table (see docs/benchmarks.md)."""

from __future__ import annotations

import argparse
import functools
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import kansa
from bench import http, parts
from bench.engines import DEFAULT_POSTGRES, Engine, engine_for
from kansa.catalog import Catalog, default_catalog_paths, load_catalog

PARTS = ("ingest", "http", "search", "export", "verify", "purge")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="kansa benchmark: ingest (store API and HTTP), search, export and "
        "verification on SQLite and PostgreSQL, each beside the engine's own limit measured "
        "in the same run.",
    )
    parser.add_argument(
        "--events",
        type=int,
        default=None,
        help="events stored and then searched, exported and verified "
        "(default 1,000,000; --quick: 100,000)",
    )
    parser.add_argument(
        "--engines",
        default=None,
        help="comma-separated: sqlite, postgresql (default both; with --db, the engine of its URL)",
    )
    parser.add_argument(
        "--db",
        default=None,
        help="a sqlite:///dir/NAME.db URL (files dir/NAME-raw.db, -store.db, "
        "-http.db … are made and kept; they must not exist) or a PostgreSQL "
        "server URL (fresh databases are made on it and dropped)",
    )
    parser.add_argument(
        "--postgres",
        default=None,
        help="the PostgreSQL server to use (default $KANSA_BENCH_POSTGRES_URL, "
        f"else {DEFAULT_POSTGRES}); the benchmark makes its own databases on it",
    )
    parser.add_argument(
        "--http-seconds",
        type=float,
        default=None,
        help="seconds of wrk per HTTP ingest run (default 15; --quick: 5)",
    )
    parser.add_argument(
        "--http-workers",
        default=None,
        help="`kansa serve --workers` counts of the HTTP ingest runs, comma-separated; the "
        "targets are judged for 1 (default: 1 on SQLite, 1,2 on PostgreSQL)",
    )
    parser.add_argument(
        "--searches",
        type=int,
        default=None,
        help="sequential requests per search (default 200; --quick: 50)",
    )
    parser.add_argument(
        "--search-events",
        type=int,
        default=None,
        help="after the read parts, grow their database to this many events by copying its "
        "rows in SQL (bench/scale.py) and run the searches again (e.g. 10000000)",
    )
    parser.add_argument(
        "--purge-events",
        type=int,
        default=None,
        help="events stored (twice) for the purge part, about two thirds of them expired "
        "(default 1,000,000; --quick: 100,000)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 100,000 events, 5 s per HTTP run, 50 searches",
    )
    parser.add_argument(
        "--only", default=None, help=f"run some parts only, comma-separated: {', '.join(PARTS)}"
    )
    parser.add_argument(
        "--py-spy",
        action="store_true",
        help="record the server with py-spy during the HTTP ingest runs (raw "
        "collapsed stacks under $TMPDIR/kansa-bench-profiles)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args(argv)
    if args.events is None:
        args.events = 100_000 if args.quick else 1_000_000
    if args.http_seconds is None:
        args.http_seconds = 5.0 if args.quick else 15.0
    if args.searches is None:
        args.searches = 50 if args.quick else 200
    if args.purge_events is None:
        args.purge_events = 100_000 if args.quick else 1_000_000
    if args.events < 1 or args.http_seconds <= 0 or args.searches < 1:
        parser.error("--events, --http-seconds and --searches must be positive")
    try:
        args.workers = (
            None
            if args.http_workers is None
            else tuple(int(w) for w in args.http_workers.split(","))
        )
    except ValueError:
        parser.error("--http-workers: comma-separated whole numbers, e.g. 1,2")
    if args.workers is not None and min(args.workers) < 1:
        parser.error("--http-workers: each count must be at least 1")
    args.parts = PARTS if args.only is None else tuple(p.strip() for p in args.only.split(","))
    if unknown := set(args.parts) - set(PARTS):
        parser.error(f"--only: unknown part(s) {', '.join(sorted(unknown))}")
    if args.engines is None:
        if args.db is None:
            args.engines = "sqlite,postgresql"
        else:
            args.engines = "sqlite" if args.db.startswith("sqlite") else "postgresql"
    args.engine_names = tuple(e.strip() for e in args.engines.split(","))
    if unknown := set(args.engine_names) - {"sqlite", "postgresql"}:
        parser.error(f"--engines: unknown engine(s) {', '.join(sorted(unknown))}")
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


class Table:
    HEAD = ("what", "rows/reqs", "seconds", "rate", "engine limit", "ratio", "peak RSS", "target")

    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []

    def add(self, *cells: str) -> None:
        self.rows.append(cells)

    def print(self) -> None:
        widths = [max(len(r[i]) for r in (self.HEAD, *self.rows)) for i in range(len(self.HEAD))]
        left = {0, 7}
        for number, row in enumerate((self.HEAD, *self.rows)):
            cells = [
                c.ljust(w) if i in left else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ]
            print("  ".join(cells).rstrip())
            if number == 0:
                print("  ".join("-" * w for w in widths))


def _engine(name: str, args: argparse.Namespace) -> Engine | None:
    """The engine ``name`` as asked; None (with a line saying why) when PostgreSQL was not
    asked for by name and does not answer."""
    if name == "sqlite":
        return engine_for(
            args.db if args.db and args.db.startswith("sqlite") else None, keep=args.keep
        )
    url = args.db if args.db and not args.db.startswith("sqlite") else args.postgres
    url = url or os.environ.get("KANSA_BENCH_POSTGRES_URL") or DEFAULT_POSTGRES
    try:
        return engine_for(url, keep=args.keep)
    except SystemExit as exc:
        if args.engines_given:
            raise
        print(f"PostgreSQL skipped: {exc}")
        return None


def _part(
    report: parts.Report, name: str, args: argparse.Namespace, run: Callable[[], None]
) -> None:
    """Run one part if asked; a part that fails is reported and the next one runs."""
    if name not in args.parts:
        return
    # The parts before wrote gigabytes the kernel may still hold as dirty pages; written out
    # during this part they would slow its commits (each waits for the disk), so every part
    # starts from a disk at rest.
    started = time.perf_counter()
    os.sync()
    if (waited := time.perf_counter() - started) >= 1.0:
        print(f"  ({waited:.0f} s writing out the earlier parts' files first, untimed)")
    try:
        run()
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - reported, then the next part
        report.checks_ok = False
        report.notes.append(f"{name} part FAILED: {exc!r}")
        traceback.print_exc()


def _run_engine(engine: Engine, args: argparse.Namespace, catalog: Catalog) -> parts.Report:
    report = parts.Report(engine.name)
    print(
        f"\n== {engine.name} {engine.version()}: {engine.settings()}; databases in "
        f"{getattr(engine, 'where', '-')}"
    )
    keydir = tempfile.mkdtemp(prefix="kansa-bench-keys-")
    saved = os.environ.get("KANSA_SIGNING_KEY_FILE")
    # kansa init makes a signing key beside a SQLite file, else in the working directory:
    # give every kansa process of this engine's run one of its own.
    os.environ["KANSA_SIGNING_KEY_FILE"] = str(Path(keydir) / "signing.key")
    try:
        _part(
            report, "ingest", args, lambda: parts.run_ingest(report, engine, catalog, args.events)
        )
        workers = args.workers or ((1,) if engine.dialect == "sqlite" else (1, 2))
        for count in workers:
            _part(
                report,
                "http",
                args,
                functools.partial(
                    parts.run_http, report, engine, args.http_seconds, args.py_spy, count
                ),
            )
        if any(p in args.parts for p in ("search", "export", "verify")):
            url = parts.data_for(report, engine, catalog, args.events)
            _part(
                report,
                "search",
                args,
                lambda: parts.run_search(report, engine, url, catalog, args.searches),
            )
            _part(report, "export", args, lambda: parts.run_export(report, engine, url))
            _part(report, "verify", args, lambda: parts.run_verify(report, engine, url))
            if args.search_events and "search" in args.parts:
                _part(
                    report,
                    "search",
                    args,
                    lambda: parts.run_grown_search(
                        report, engine, url, catalog, args.searches, args.search_events
                    ),
                )
        _part(
            report,
            "purge",
            args,
            lambda: parts.run_purge(report, engine, catalog, args.purge_events),
        )
    finally:
        if saved is None:
            os.environ.pop("KANSA_SIGNING_KEY_FILE", None)
        else:
            os.environ["KANSA_SIGNING_KEY_FILE"] = saved
        shutil.rmtree(keydir, ignore_errors=True)
        engine.cleanup()
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    args.engines_given = args.engines is not None and "--engines" in (argv or sys.argv)
    print(f"kansa benchmark — {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(
        f"  kansa {kansa.__version__}, Python {platform.python_version()}, "
        f"wrk: {http.wrk_version()}; parts: {', '.join(args.parts)}; {args.events:,} events"
    )
    print(
        f"  machine: {os.cpu_count()} cores ({_cpu()}), {_mem_gib()} RAM, "
        f"{platform.system()} {platform.release()}"
    )
    started = time.perf_counter()
    catalog = load_catalog(default_catalog_paths())
    reports: list[parts.Report] = []
    for name in args.engine_names:
        engine = _engine(name, args)
        if engine is not None:
            reports.append(_run_engine(engine, args, catalog))
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\nResults ({time.perf_counter() - started:.0f} s in all; benchmark process peak "
        f"RSS {own:,.0f} MiB)"
    )
    words = {True: "ok", False: "MISSED", None: "not measured"}
    checks_ok = True
    for report in reports:
        print(f"\n{report.engine}\n")
        table = Table()
        table.rows = list(report.rows)
        if table.rows:
            table.print()
        else:
            print("nothing was measured")
        print()
        for note in report.notes:
            print(f"  {note}")
        print(
            f"\n{report.engine} targets: "
            + "; ".join(f"{name}: {words[met]}" for name, met in report.verdicts)
        )
        checks_ok &= report.checks_ok
    if not checks_ok:
        print("a CHECK FAILED: see the notes above")
    sys.stdout.flush()
    return 0 if checks_ok else 1
