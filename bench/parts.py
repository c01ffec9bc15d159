"""Each part of the benchmark on one engine, as lines of the table, notes and verdicts."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import export, http, ingest, purge, scale, search
from bench.engines import Engine
from bench.noise import Meter
from kansa.catalog import Catalog
from kansa.demo import fill
from kansa.store import open_store

TARGET_STORE_RATIO = 0.50
TARGET_BATCH_EVENTS = 10_000
TARGET_SINGLE_REQUESTS = 3_000
TARGET_SERVE_RSS_MIB = 250
TARGET_EXPORT_RATIO = 0.50
TARGET_EXPORT_RSS_MIB = 150
TARGET_VERIFY_RATIO = 0.50
TARGET_PURGE_RATIO = 0.50
TARGET_PAGE_RATIO = 1.2
SEARCH_TARGETS_MS = {"admin": 10.0, "user": 5.0, "free": 50.0, "free_grown": 100.0}


def n(value: float) -> str:
    return f"{value:,.0f}"


def verdict(met: bool) -> str:
    return "ok" if met else "MISSED"


@dataclass
class Report:
    """What one engine's run gives: table rows, notes, verdicts."""

    engine: str
    rows: list[tuple[str, ...]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    verdicts: list[tuple[str, bool | None]] = field(default_factory=list)
    checks_ok: bool = True
    raw: ingest.Timing | None = None
    data_url: str | None = None
    """A database of demo events the read parts use (the ingest part's store database)."""

    def add(self, *cells: str) -> None:
        self.rows.append(cells)

    def judge(self, name: str, met: bool | None) -> str:
        self.verdicts.append((name, met))
        return "" if met is None else verdict(met)


def run_ingest(report: Report, engine: Engine, catalog: Catalog, events: int) -> None:
    raw_name = "executemany, 1,000/tx" if engine.dialect == "sqlite" else "COPY, 1,000/tx"
    print(
        f"\n[{engine.name} ingest] {events:,} demo events in batches of 1,000: prepare, "
        f"raw {engine.name} {raw_name} and store append, batch by batch"
    )
    meter = Meter()
    result = ingest.run_ingest(engine, catalog, events)
    noise = meter.text()
    raw, store, prep = result.raw, result.store, result.prepare
    report.raw, report.data_url = raw, store.url
    ratio = store.rate / raw.rate
    met = report.judge(f"store ≥ {TARGET_STORE_RATIO:.0%} of raw", ratio >= TARGET_STORE_RATIO)
    report.add(
        f"raw {engine.name} {raw_name}",
        n(raw.rows),
        f"{raw.seconds:.1f}",
        f"{n(raw.rate)} rows/s",
        "(is the limit)",
        "1.00",
        "",
        "",
    )
    report.add(
        "store append, batches of 1,000",
        n(store.rows),
        f"{store.seconds:.1f}",
        f"{n(store.rate)} rows/s",
        f"{n(raw.rate)} rows/s",
        f"{ratio:.2f}",
        "",
        f"≥ {TARGET_STORE_RATIO:.2f} of raw: {met}",
    )
    report.add(
        "prepare (validate, render, canonical JSON)",
        n(prep.rows),
        f"{prep.seconds:.1f}",
        f"{n(prep.rate)} ev/s",
        "",
        "",
        "",
        "(CPU, paid by HTTP ingest)",
    )
    report.notes.append(
        f"demo data: {len(result.tenants)} tenants, {len(result.actors)} actors, "
        f"canonical event {result.core_bytes / prep.rows:,.0f} bytes on average; "
        f"generating it took {result.generate_seconds:.1f} s (untimed)"
    )
    if noise:
        report.notes.append(f"noise during the ingest part: {noise}")
    raw_size, store_size = engine.size_bytes(raw.url), engine.size_bytes(store.url)
    if raw_size and store_size:
        report.notes.append(
            f"database size: raw {raw_size / 2**20:,.0f} MiB, store {store_size / 2**20:,.0f} MiB"
        )


def run_http(
    report: Report, engine: Engine, seconds: float, py_spy: bool, workers: int = 1
) -> None:
    """The HTTP ingest runs against ``kansa serve --workers N``: the targets are judged for
    one worker; more workers are reported beside it."""
    print(
        f"\n[{engine.name} HTTP ingest] kansa serve ({workers} worker{'s' * (workers > 1)}) + "
        f"wrk, {http.THREADS} threads, {http.CONNECTIONS} connections, {seconds:g} s per run"
    )
    outcome = http.run_http(engine, seconds, py_spy=py_spy, workers=workers)
    if outcome is None:
        report.notes.append(f"HTTP ingest skipped: wrk is missing (`{http.WRK_INSTALL}`)")
        report.judge("HTTP targets (wrk missing)", None)
        return
    runs, rss = outcome
    raw = report.raw
    judged = workers == 1
    label = "" if judged else f" ({workers} workers)"
    for run in runs:
        ev_rate, rq_rate = run.events / run.seconds, run.requests / run.seconds
        # The engine's limit while its database grew through the same sizes as the
        # server's did in this run (a small database inserts faster).
        if raw is None:
            limit, ratio_text = "n/a (--only http)", ""
        elif (same := raw.rate_between(run.rows_before, run.rows_before + run.stored)) is None:
            limit, ratio_text = f"{n(raw.rate)} rows/s*", f"{ev_rate / raw.rate:.2f}"
            report.notes.append(
                "* the raw run did not reach the size of the HTTP database: "
                "its overall rate is shown"
            )
        else:
            limit, ratio_text = f"{n(same)} rows/s", f"{ev_rate / same:.2f}"
            report.notes.append(
                f"HTTP {run.name} engine limit: raw inserts while the database "
                f"grew from {run.rows_before:,} to "
                f"{run.rows_before + run.stored:,} rows"
            )
        if run.size > 1:
            met = (
                report.judge(
                    f"HTTP batches ≥ {n(TARGET_BATCH_EVENTS)} ev/s", ev_rate >= TARGET_BATCH_EVENTS
                )
                if judged
                else "(1 worker judged)"
            )
            report.add(
                f"HTTP batches of {run.size}{label}: events",
                n(run.events),
                f"{run.seconds:.1f}",
                f"{n(ev_rate)} ev/s",
                limit,
                ratio_text,
                "",
                f"≥ {n(TARGET_BATCH_EVENTS)} ev/s: {met}",
            )
            report.add(
                f"HTTP batches of {run.size}{label}: requests",
                n(run.requests),
                f"{run.seconds:.1f}",
                f"{n(rq_rate)} req/s",
                "",
                "",
                "",
                "",
            )
        else:
            met = (
                report.judge(
                    f"HTTP single ≥ {n(TARGET_SINGLE_REQUESTS)} req/s",
                    rq_rate >= TARGET_SINGLE_REQUESTS,
                )
                if judged
                else "(1 worker judged)"
            )
            report.add(
                f"HTTP one event per request{label}",
                n(run.requests),
                f"{run.seconds:.1f}",
                f"{n(rq_rate)} req/s",
                limit,
                ratio_text,
                "",
                f"≥ {n(TARGET_SINGLE_REQUESTS)} req/s: {met}",
            )
        w = run.wrk
        report.notes.append(
            f"HTTP {run.name} latency: p50 {w['p50_us'] / 1000:.1f} ms, p90 "
            f"{w['p90_us'] / 1000:.1f} ms, p99 {w['p99_us'] / 1000:.1f} ms, max "
            f"{w['max_us'] / 1000:.0f} ms"
        )
        if run.noise:
            report.notes.append(f"noise during HTTP {run.name}: {run.noise}")
        if run.cpu:
            report.notes.append(f"HTTP {run.name} {run.cpu}")
        if run.spread:
            report.notes.append(
                f"HTTP {run.name}: wrk's {http.CONNECTIONS} connections held by worker, halfway"
                f' through: {run.spread} (docs/benchmarks.md, "Two workers on PostgreSQL")'
            )
        passed, text = run.check()
        report.checks_ok &= passed
        report.notes.append(f"HTTP {run.name} check {'OK' if passed else 'FAILED'}: {text}")
        if run.profile is not None:
            report.notes.append(f"HTTP {run.name} py-spy profile: {run.profile}")
    if rss is not None:
        met = report.judge(
            f"kansa serve RSS < {TARGET_SERVE_RSS_MIB} MiB (HTTP ingest{label})",
            rss / 1024 < TARGET_SERVE_RSS_MIB,
        )
        report.notes.append(
            f"kansa serve peak RSS (VmHWM of the serving process and its writer process added"
            f" up; with workers, the largest worker's with the writer process they share), HTTP"
            f" ingest{label}: "
            f"{rss / 1024:,.0f} MiB (< {TARGET_SERVE_RSS_MIB} MiB: {met})"
        )


def _analyse(engine: Engine, url: str) -> None:
    if engine.dialect == "postgresql":
        conn = engine.connect(url)
        try:
            conn.execute("ANALYZE")
        finally:
            conn.close()


def data_for(report: Report, engine: Engine, catalog: Catalog, events: int) -> str:
    """The database the read parts use: the ingest part's, else a fresh one filled now;
    on PostgreSQL analysed either way, as autovacuum does within a minute (where it runs:
    without statistics the planner misjudges the searches)."""
    if report.data_url is not None:
        _analyse(engine, report.data_url)
        return report.data_url
    url = engine.fresh_url("data")
    print(f"  filling {url} with {events:,} demo events (kansa.demo.fill, untimed) …", flush=True)
    started = time.perf_counter()
    store = open_store(url)
    try:
        store.migrate()
        fill(store, catalog, events, batch=1000)
    finally:
        store.close()
    _analyse(engine, url)
    report.notes.append(
        f"read parts: {events:,} demo events stored with kansa.demo.fill in "
        f"{time.perf_counter() - started:.0f} s (untimed)"
    )
    report.data_url = url
    return url


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def run_search(
    report: Report,
    engine: Engine,
    url: str,
    catalog: Catalog,
    repeat: int,
    grown: scale.Grown | None = None,
) -> None:
    at = f" at {n(grown.after)}" if grown else ""
    print(
        f"\n[{engine.name} search{at}] kansa serve (1 worker), {repeat} sequential keep-alive "
        "requests per search, each beside its SQL run raw",
        flush=True,
    )
    out = search.run_search(engine, url, catalog, repeat, grown=grown is not None)
    free_ms = SEARCH_TARGETS_MS["free_grown" if grown else "free"]
    first = out.cases[4]
    for number, case in enumerate(out.cases):
        h, r = case.http, case.raw
        target = ""
        limit = (
            free_ms
            if "q" in case.params
            else {0: SEARCH_TARGETS_MS["admin"], 1: SEARCH_TARGETS_MS["user"]}.get(number)
        )
        if limit is not None:
            met = report.judge(
                f"{case.name.split(':')[0]}{at} p95 < {limit:g} ms", h.p95 * 1000 < limit
            )
            target = f"p95 < {limit:g} ms: {met}"
        elif number == search.PAGED:
            paged = h.p50 / first.http.p50
            met = report.judge(
                f"page 100{at} ≤ {TARGET_PAGE_RATIO}× page 1", paged <= TARGET_PAGE_RATIO
            )
            target = f"p50 {paged:.2f}× page 1 (≤ {TARGET_PAGE_RATIO}): {met}"
        report.add(
            f"search{at} {case.name} ({case.rows} rows)",
            n(len(h.samples)),
            f"{sum(h.samples):.1f}",
            f"p50 {_ms(h.p50)} / p95 {_ms(h.p95)} ms",
            f"raw SQL p50 {_ms(r.p50)} / p95 {_ms(r.p95)} ms",
            f"{h.p50 / r.p50:.1f}× / {h.p95 / r.p95:.1f}×",
            "",
            target,
        )
    if grown:
        report.notes.append(
            f"search at {n(grown.after)}: the read parts' {n(grown.before)} events copied "
            f"{grown.copies} times onto themselves in SQL ({grown.seconds:.0f} s, untimed; "
            "bench/scale.py: the same texts and times, new seq and ids; not a chain, so "
            "searched with the server's jobs off and nothing signed)"
        )
        return
    report.notes.append(
        f"search: tenant {out.tenant}, user = actor {out.actor} (viewer token, "
        f"role user); every head signed first with kansa checkpoint ({out.signing_seconds:.0f} s, "
        f"untimed); the server's start-up jobs then took {out.settle_seconds:.0f} s "
        "(waited for, untimed)"
    )
    if out.wrk:
        w = out.wrk
        report.add(
            f"search admin, wrk {search.WRK_CONNECTIONS} connections",
            "",
            f"{search.WRK_SECONDS:g}",
            f"{n(w.get('rps', 0))} req/s",
            "",
            "",
            "",
            f"p50 {w.get('50%', 0):.1f} / p99 {w.get('99%', 0):.1f} ms",
        )
        if w.get("non2xx"):
            report.checks_ok = False
            report.notes.append(f"search wrk: {w['non2xx']:.0f} non-2xx replies")
    if out.noise:
        report.notes.append(f"noise during the searches: {out.noise}")
    if out.rss_kib:
        met = report.judge(
            f"kansa serve RSS < {TARGET_SERVE_RSS_MIB} MiB (searches)",
            out.rss_kib / 1024 < TARGET_SERVE_RSS_MIB,
        )
        report.notes.append(
            f"kansa serve peak RSS (VmHWM of the serving process and its writer process added"
            f" up), searches: {out.rss_kib / 1024:,.0f} MiB"
            f" (< {TARGET_SERVE_RSS_MIB} MiB: {met})"
        )


def _tenants(engine: Engine, url: str) -> list[str]:
    conn = engine.connect(url)
    try:
        return [r[0] for r in conn.execute("SELECT id FROM tenants ORDER BY id").fetchall()]
    finally:
        conn.close()


def _mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


def run_export(report: Report, engine: Engine, url: str) -> None:
    raw_name = "csv.writer" if engine.dialect == "sqlite" else "COPY … TO STDOUT WITH CSV"
    print(
        f"\n[{engine.name} export] kansa export (events CSV) beside raw {raw_name}, one tenant "
        "then every tenant, each in a process of its own",
        flush=True,
    )
    tenants = _tenants(engine, url)
    one = search.PREFERRED_TENANT if search.PREFERRED_TENANT in tenants else tenants[0]
    workdir = Path(tempfile.mkdtemp(prefix="kansa-bench-export-"))
    export.warm(url)
    try:
        for label, chosen in ((f"tenant {one}", [one]), ("every tenant", tenants)):
            run = export.run_export(url, chosen, label.split()[0], workdir)
            raw, mine = run.raw, run.kansa
            report.add(
                f"raw {raw_name}, {label}",
                n(raw.rows),
                f"{raw.seconds:.1f}",
                f"{n(raw.rate)} rows/s",
                "(is the limit)",
                "1.00",
                _mib(raw.rss_kib),
                "",
            )
            met = report.judge(
                f"export {label.split()[0]} ≥ {TARGET_EXPORT_RATIO:.0%} of raw",
                run.ratio >= TARGET_EXPORT_RATIO,
            )
            rss_ok = report.judge(
                f"export {label.split()[0]} RSS < {TARGET_EXPORT_RSS_MIB} MiB",
                mine.rss_kib / 1024 < TARGET_EXPORT_RSS_MIB,
            )
            report.add(
                f"kansa export, {label}",
                n(mine.rows),
                f"{mine.seconds:.1f}",
                f"{n(mine.rate)} rows/s",
                f"{n(raw.rate)} rows/s",
                f"{run.ratio:.2f}",
                _mib(mine.rss_kib),
                f"≥ {TARGET_EXPORT_RATIO:.2f}: {met}; RSS < {TARGET_EXPORT_RSS_MIB} MiB: {rss_ok}",
            )
            report.notes.append(
                f"export {label}: kansa {mine.bytes / 2**20:,.0f} MiB of CSV, raw "
                f"{raw.bytes / 2**20:,.0f} MiB; {mine.noise or 'noise n/a'}"
            )
    finally:
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()


def run_verify(report: Report, engine: Engine, url: str) -> None:
    print(f"\n[{engine.name} verify] kansa verify beside SHA-256 of the stored bytes", flush=True)
    run = export.run_verify(url)
    raw, mine = run.raw, run.kansa
    report.add(
        "raw read + SHA-256 of every body",
        n(raw.rows),
        f"{raw.seconds:.1f}",
        f"{n(raw.rate)} rows/s",
        "(is the limit)",
        "1.00",
        _mib(raw.rss_kib),
        "",
    )
    met = report.judge(
        f"verify ≥ {TARGET_VERIFY_RATIO:.0%} of SHA-256", run.ratio >= TARGET_VERIFY_RATIO
    )
    report.add(
        "kansa verify (every tenant)",
        n(mine.rows),
        f"{mine.seconds:.1f}",
        f"{n(mine.rate)} rows/s",
        f"{n(raw.rate)} rows/s",
        f"{run.ratio:.2f}",
        _mib(mine.rss_kib),
        f"≥ {TARGET_VERIFY_RATIO:.2f}: {met}",
    )
    if mine.noise:
        report.notes.append(f"noise during kansa verify: {mine.noise}")


def run_purge(report: Report, engine: Engine, catalog: Catalog, events: int) -> None:
    print(
        f"\n[{engine.name} purge] {events:,} events twice; kansa purge beside one plain UPDATE",
        flush=True,
    )
    run = purge.run_purge(engine, catalog, events)
    raw_rate = run.raw_rows / run.raw_seconds if run.raw_seconds else 0.0
    report.add(
        "plain UPDATE of the expired rows",
        n(run.raw_rows),
        f"{run.raw_seconds:.1f}",
        f"{n(raw_rate)} rows/s",
        "(is the limit)",
        "1.00",
        "",
        "",
    )
    for what, seconds, judged in (
        ("kansa purge: prune alone", run.prune_seconds, True),
        ("kansa purge: verify + prune", run.kansa_seconds, False),
    ):
        rate = run.pruned / seconds if seconds else 0.0
        ratio = rate / raw_rate if raw_rate else 0.0
        target = ""
        if judged:  # the verify walk reads every event, not only the expired ones
            met = report.judge(f"prune ≥ {TARGET_PURGE_RATIO:.0%}", ratio >= TARGET_PURGE_RATIO)
            target = f"≥ {TARGET_PURGE_RATIO:.2f}: {met}"
        report.add(
            what,
            n(run.pruned),
            f"{seconds:.1f}",
            f"{n(rate)} rows/s",
            f"{n(raw_rate)} rows/s",
            f"{ratio:.2f}",
            "",
            target,
        )
    for what, times in (("before", run.quiet_searches), ("during", run.purge_searches)):
        if times:
            ranked = sorted(times)
            p50, p95 = ranked[len(ranked) // 2], ranked[int(len(ranked) * 0.95)]
            report.notes.append(
                f"purge: a tenant's newest 50 {what} the prunes, {len(ranked):,} searches:"
                f" p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"
            )
    # The two databases are filled seconds apart, so an event or two may sit on either side
    # of the 30 days; more than that is a fault.
    if abs(run.pruned - run.raw_rows) > max(2, run.raw_rows // 1000):
        report.checks_ok = False
        report.notes.append(f"purge: kansa pruned {run.pruned:,}, the UPDATE {run.raw_rows:,}")


def run_grown_search(
    report: Report, engine: Engine, url: str, catalog: Catalog, repeat: int, total: int
) -> None:
    """The searches again once ``url`` is grown to ``total`` events (:mod:`bench.scale`):
    the last part to read it."""
    print(f"\n[{engine.name} grow] copying the events of {url} up to {total:,} …", flush=True)
    grown = scale.grow(engine, url, total)
    run_search(report, engine, url, catalog, repeat, grown)
