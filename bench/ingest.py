"""Store-level ingest beside the engine's raw insert limit, on the very same rows.

The demo events go through in batches of 1,000. For each batch, untimed: generate the events,
and make the raw rows (the store's exact tuples, chained); timed, each on its own clock:
``prepare`` (validation, catalog, rendering, canonical JSON), the raw insert of the rows in
one transaction into one fresh database, and ``Store.append`` of the prepared events into
another. Interleaving batch by batch keeps memory small and lets both inserts see the same
machine at the same moment, so the ratio holds up on a shared, noisy machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from bench.engines import Engine
from kansa.catalog import Catalog
from kansa.demo import generate
from kansa.events.prepare import PreparedEvent, prepare
from kansa.store import open_store

BATCH = 1_000


@dataclass
class Timing:
    rows: int = 0
    seconds: float = 0.0
    url: str = ""
    marks: list[float] = field(default_factory=list)
    """Seconds spent after each batch of :data:`BATCH` rows."""

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def add(self, rows: int, seconds: float) -> None:
        self.rows += rows
        self.seconds += seconds
        self.marks.append(self.seconds)

    def rate_between(self, first: int, last: int) -> float | None:
        """Rows/s while the database grew from ``first`` to ``last`` rows (to the nearest
        batch); ``None`` when this run did not reach ``last``."""
        start, end = first // BATCH, -(-last // BATCH)
        if end > len(self.marks) or end <= start:
            return None
        before = self.marks[start - 1] if start else 0.0
        return (end - start) * BATCH / (self.marks[end - 1] - before)


@dataclass
class Ingest:
    prepare: Timing
    raw: Timing
    store: Timing
    generate_seconds: float
    core_bytes: int = 0
    tenants: set[str] = field(default_factory=set)
    actors: set[tuple[str, str | None]] = field(default_factory=set)


def run_ingest(engine: Engine, catalog: Catalog, count: int, progress: bool = True) -> Ingest:
    result = Ingest(Timing(), Timing(url=engine.fresh_url("raw")),
                    Timing(url=engine.fresh_url("store")), 0.0)  # fmt: skip
    make_rows = engine.row_maker()
    raw = engine.raw_inserter(result.raw.url)
    store = open_store(result.store.url)
    started = time.perf_counter()
    try:
        store.migrate()
        source = generate(catalog, count)
        while True:
            mark = time.perf_counter()
            items: list[Any] = list(islice(source, BATCH))
            result.generate_seconds += time.perf_counter() - mark
            if not items:
                break
            mark = time.perf_counter()
            events = prepare(items, catalog)
            result.prepare.add(len(events), time.perf_counter() - mark)
            _note(result, events)
            rows = make_rows(events)
            result.raw.add(len(rows), raw.insert(rows))
            mark = time.perf_counter()
            store.append(events)
            result.store.add(len(events), time.perf_counter() - mark)
            done = result.store.rows
            if progress and done % 100_000 == 0:
                print(f"  {done:,} events: prepare {result.prepare.rate:,.0f} ev/s, raw "
                      f"{result.raw.rate:,.0f} rows/s, store {result.store.rate:,.0f} rows/s "
                      f"(at {time.perf_counter() - started:.0f} s)", flush=True)  # fmt: skip
    finally:
        raw.close()
        store.close()
    for timing in (result.raw, result.store):
        stored = engine.count_events(timing.url)
        if stored != timing.rows:
            raise SystemExit(f"bench: {timing.url} holds {stored} events, not {timing.rows}")
    return result


def _note(result: Ingest, events: list[PreparedEvent]) -> None:
    for event in events:
        result.core_bytes += len(event.core)
        result.tenants.add(event.tenant_id)
        result.actors.add((event.tenant_id, event.actor_id))
