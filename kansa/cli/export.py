"""Exports by kansa's operator at the command line: the same rules and the same record as a
download through the API, as an administrator of every tenant."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, BinaryIO, TextIO

import typer

from kansa.access.readers import Reader
from kansa.access.scope import Asked
from kansa.cli.common import CatalogOption, DbOption, existing, settings_for
from kansa.export.csv import Tally
from kansa.export.plan import Export, Options, plan, write
from kansa.server.runtime import Runtime
from kansa.timeutil import parse_period_bound, utcnow

OPERATOR = Reader("operator", "admin", None, "cli", "kansa export")
"""The actor of an export made with ``kansa export``."""


def export_as_operator(
    rt: Runtime,
    tenant: str,
    name: str,
    period: tuple[str | None, str | None],
    options: Options,
    out: BinaryIO,
    progress: Callable[[Tally], None] | None = None,
) -> tuple[Export, Tally]:
    """Write the file ``name`` of ``tenant`` for ``period`` (``from``, ``to`` as a request
    gives them) to ``out``, then record the export in the tenant's log."""
    record = rt.tenant(tenant)
    options = options if options.lang else replace(options, lang=record.lang)
    since, until = period
    asked = Asked(
        tenant=record.id,
        since=parse_period_bound(since, record.tz, "from") if since else None,
        until=parse_period_bound(until, record.tz, "to", end=True) if until else None,
    )
    job = plan(
        OPERATOR,
        asked,
        name=name,
        tenant=record,
        layout=rt.layout_of(record),
        catalog=rt.catalog,
        now=utcnow(),
        options=options,
    )
    tally = Tally()
    chunks = job.chunks(rt.store, rt.catalog, tally, rt.signer)
    write(chunks, out, None if progress is None else lambda: progress(tally))
    record_export = rt.record(OPERATOR, record.id, "log.export", job.record(tally), None)
    # A loop of its own on a thread of its own: the caller's thread may be running one.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, record_export).result()
    return job, tally


@contextmanager
def part_file(path: str) -> Iterator[BinaryIO]:
    """``path`` for writing, as ``path.part`` renamed to ``path`` once complete: a failed
    export leaves no file that looks whole. Made 0600 whatever the umask: it holds a
    tenant's log."""
    part = Path(path + ".part")
    try:
        made = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(made, "wb") as out:
            yield out
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    part.replace(path)


def counter(stream: TextIO, every: float = 0.2) -> Callable[[Tally], None]:
    """A progress line for a terminal: the row count, redrawn at most every ``every`` s."""
    shown = [0.0]

    def show(tally: Tally) -> None:
        if time.monotonic() - shown[0] >= every:
            shown[0] = time.monotonic()
            stream.write(f"\r{tally.rows:,} rows …")
            stream.flush()

    return show


def export_file(
    tenant: Annotated[str, typer.Option(help="The tenant whose log is exported.")],
    output: Annotated[str, typer.Option("--output", "-o", help="The file to write; - for stdout.")],
    name: Annotated[str, typer.Option(help="The layout's file: events, access-log …")] = "events",
    from_: Annotated[str | None, typer.Option("--from", help="First day, or ISO time.")] = None,
    to: Annotated[str | None, typer.Option(help="Last day (included), or ISO time.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    encoding: Annotated[str, typer.Option(help="utf-8 (with BOM) or cp932.")] = "utf-8",
    newline: Annotated[str, typer.Option(help="crlf or lf.")] = "crlf",
    lang: Annotated[str | None, typer.Option(help="Headers and labels: ja or en.")] = None,
    db: DbOption = None,
    catalog: CatalogOption = None,
) -> None:
    """Write a layout's file as an administrator downloads it; recorded in the tenant's log."""
    import sys
    from contextlib import ExitStack

    from kansa.cli.export import counter, export_as_operator, part_file

    rt, started = Runtime.from_settings(existing(settings_for(db, catalog))), time.perf_counter()
    tty = sys.stderr.isatty()
    rt.start()
    try:
        with ExitStack() as files:
            out = sys.stdout.buffer if output == "-" else files.enter_context(part_file(output))
            job, tally = export_as_operator(
                rt,
                tenant,
                name,
                (from_, to),
                Options(fmt, encoding, newline, lang or ""),
                out,
                counter(sys.stderr) if tty else None,
            )
    finally:
        rt.close()
    lost = f", {tally.unmappable} unmappable (written as ?)" if encoding == "cp932" else ""
    typer.echo(
        f"{chr(13) + chr(27) + '[K' if tty else ''}exported {job.filename} to {output}: "
        f"{tally.rows} rows, {tally.bytes} bytes, {time.perf_counter() - started:.2f} s{lost}",
        err=True,
    )
