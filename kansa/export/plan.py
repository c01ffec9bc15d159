"""One export, from a reader's request to the bytes of its file.

:func:`plan` applies every rule — the layout's file, only the period where the layout says so,
who may download what for which period (through :func:`kansa.scope.scope` with ``purpose =
"export"``) — and gives an :class:`Export`, whose :meth:`Export.chunks` reads the store and
yields the file. The API and the CLI are thin shells around these two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from kansa.access.readers import Reader
from kansa.access.scope import Asked, scope
from kansa.catalog import Catalog
from kansa.catalog.layout import Layout
from kansa.errors import InvalidQuery, NotFound, Problem
from kansa.events.prepare import EARLIEST, MAX_AHEAD
from kansa.events.present import present
from kansa.events.query import Filters, Query
from kansa.events.stored import StoredEvent
from kansa.export.csv import ENCODINGS, NEWLINES, Tally, csv_chunks
from kansa.export.fields import Written, cells_builder, needs_job
from kansa.export.files import ExportFile
from kansa.export.jsonl import jsonl_lines
from kansa.integrity.checkpoints import manifest_line
from kansa.integrity.signing import Signer
from kansa.records import Tenant
from kansa.store import Store
from kansa.words import HISTORIES, LANGS, Lang, lang_of

FORMATS = ("csv", "jsonl")
JSONL_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Options:
    """How the file is written."""

    format: str = "csv"
    encoding: str = "utf-8"
    newline: str = "crlf"
    lang: str = "ja"

    def check(self) -> None:
        for name, value, allowed in (
            ("format", self.format, FORMATS),
            ("encoding", self.encoding, ENCODINGS),
            ("newline", self.newline, tuple(NEWLINES)),
            ("lang", self.lang, LANGS),
        ):
            if value not in allowed:
                raise InvalidQuery([Problem(name, f"must be one of: {', '.join(allowed)}")])
        if self.format == "jsonl" and self.encoding != "utf-8":
            raise InvalidQuery([Problem("encoding", "JSON Lines is always UTF-8 (and LF)")])

    @property
    def language(self) -> Lang:
        """``lang`` as a language (:meth:`check` refuses any other)."""
        return lang_of(self.lang, "ja")


@dataclass(frozen=True, slots=True)
class Export:
    """An export that passed every rule, ready to stream."""

    file: ExportFile
    query: Query
    tenant: Tenant
    options: Options
    now: datetime
    """When it was asked, in the tenant's zone."""

    @property
    def filename(self) -> str:
        return self.file.filename(
            tenant=self.tenant.id,
            now=self.now,
            since=self.query.since,
            until=self.query.until,
            fmt=self.options.format,
        )

    @property
    def media_type(self) -> str:
        if self.options.format == "jsonl":
            return "application/jsonl; charset=utf-8"
        charset = "Windows-31J" if self.options.encoding == "cp932" else "utf-8"
        return f"text/csv; charset={charset}"

    @property
    def period(self) -> str:
        """The period in the tenant's zone, ``2026/01/01〜2026/01/31``."""
        until = self.query.until
        last = (
            (until - timedelta(microseconds=1)).astimezone(self.now.tzinfo) if until else self.now
        )
        since = self.query.since
        start = f"{since.astimezone(self.now.tzinfo):%Y/%m/%d}" if since else ""
        return f"{start}〜{last:%Y/%m/%d}"

    @property
    def interval(self) -> str:
        """The period as ISO 8601 bounds, ``start/end`` (end exclusive; open when unbounded)."""
        since, until = self.query.since, self.query.until
        return f"{since.isoformat() if since else '..'}/{until.isoformat() if until else '..'}"

    def record(self, tally: Tally, complete: bool = True) -> dict[str, Any]:
        """The params of the ``log.export`` event recording this export."""
        params: dict[str, Any] = {"file": self.filename, "rows": tally.rows, "period": self.period}
        if self.options.encoding == "cp932":
            params["unmappable"] = tally.unmappable
        if not complete:
            params["interrupted"] = True
        return params

    def chunks(
        self,
        store: Store,
        catalog: Catalog,
        tally: Tally,
        signer: Callable[[], Signer] | None = None,
    ) -> Iterator[bytes]:
        """The file, a chunk at a time; ``tally`` counts as it goes. A JSON Lines file ends
        with the manifest ``signer()`` signs (see docs/integrity.md), when given."""
        if self.options.format == "jsonl":
            return self._jsonl(store, tally, signer)
        return csv_chunks(
            self.file.headers(self.options.language),
            self._rows(store, catalog),
            encoding=self.options.encoding,
            newline=self.options.newline,
            tally=tally,
            as_cells=True,
        )

    def _rows(self, store: Store, catalog: Catalog) -> Iterator[list[Written]]:
        lang = self.options.language
        build = cells_builder(self.file.columns, ZoneInfo(self.tenant.tz), lang)
        jobs = needs_job(self.file.columns)
        events = store.stream(self.query)
        try:
            for event in events:
                shown = present(event, catalog, lang, in_place=True, tz=self.tenant.tz)  # read once
                if jobs:
                    shown["job"] = {"started_at": _started(store, self.tenant.id, event)}
                yield build(shown)
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()

    def _jsonl(
        self, store: Store, tally: Tally, signer: Callable[[], Signer] | None
    ) -> Iterator[bytes]:
        since = self.query.since or EARLIEST
        until = self.query.until or self.now + MAX_AHEAD
        run = store.seq_range(self.tenant.id, since, until)
        if run is None:
            return
        # Signed before the first line is sent: a chain that does not verify is refused.
        manifest = manifest_line(store, signer(), self.tenant.id, *run) + b"\n" if signer else b""
        pending: list[bytes] = []
        size = 0
        for line in jsonl_lines(store, self.tenant.id, *run):
            pending.append(line)
            size += len(line)
            tally.rows += 1
            if size >= JSONL_CHUNK:
                tally.bytes += size
                yield b"".join(pending)
                pending, size = [], 0
        tally.bytes += size + len(manifest)
        yield b"".join(pending) + manifest


def _started(store: Store, tenant: str, event: StoredEvent) -> Any:
    job = event.get("correlation_id")
    states = store.job_states(tenant, job) if job else []
    return states[0]["occurred_at"] if states else event.get("occurred_at")


def plan(
    reader: Reader,
    asked: Asked,
    *,
    name: str,
    tenant: Tenant,
    layout: Layout,
    catalog: Catalog,
    now: datetime,
    options: Options,
) -> Export:
    """The export ``reader`` asked for, or the reason they may not have it."""
    options.check()
    file = layout.export(name)
    if file is None:
        known = ", ".join(layout.export_files())
        raise NotFound(f"no export {name!r} in the {layout.name} layout; known: {known}")
    filters = _filters(file, asked.filters, options)
    query = scope(
        reader,
        replace(asked, filters=filters, sort="occurred_at", order="asc", cursor=None),
        tenant=tenant,
        layout=layout,
        catalog=catalog,
        now=now,
        purpose="export",
    )
    return Export(file, query, tenant, options, now.astimezone(ZoneInfo(tenant.tz)))


def _filters(file: ExportFile, asked: Filters, options: Options) -> Filters:
    if options.format == "jsonl":
        if asked != Filters():
            raise InvalidQuery(
                [Problem("format", "JSON Lines is a run of the chain: only the period applies")]
            )
        if file.histories:
            raise InvalidQuery(
                [Problem("format", f"JSON Lines holds every history; {file.name!r} holds one")]
            )
        return Filters(histories=HISTORIES)  # kansa's own too: the chain has no gap
    filters = asked if file.filters_apply else Filters()
    return replace(filters, histories=file.histories) if file.histories else filters


def write(
    chunks: Iterable[bytes], out: BinaryIO, progress: Callable[[], None] | None = None
) -> None:
    """Write ``chunks`` to ``out``, calling ``progress`` after each."""
    for chunk in chunks:
        out.write(chunk)
        if progress is not None:
            progress()
