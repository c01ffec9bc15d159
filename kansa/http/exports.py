"""A layout's file streamed to whoever asked for it — the API's download and the console's
alike: the file is made on one of the Runtime's export threads (see
:func:`~kansa.http.streaming.threaded`), and the download is recorded in the tenant's log
(``log.export``) once its last chunk is sent, or as ``interrupted`` with the rows sent so far
when it is cut short."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from kansa.access.readers import Reader
from kansa.export.csv import Tally
from kansa.export.plan import Export
from kansa.http.streaming import threaded
from kansa.server.runtime import Runtime

_recording: set[asyncio.Task[Any]] = set()
"""Records of downloads cut short, being written after their response ended."""


async def stream_export(
    runtime: Runtime,
    job: Export,
    tally: Tally,
    who: Reader,
    ip: str | None,
) -> AsyncIterator[bytes]:
    """The file's chunks, counted in ``tally``. Closing this iterator early stops the export
    thread and closes its store cursor."""
    complete = False
    try:
        produce = threaded(
            lambda: job.chunks(runtime.store, runtime.catalog, tally, runtime.signer),
            runtime.exports,
        )
        async with aclosing(produce) as chunks:
            async for chunk in chunks:
                yield chunk
        complete = True
        await runtime.record(who, job.tenant.id, "log.export", job.record(tally), ip)
    finally:
        if not complete:  # cut short: record what was sent, without holding the response
            cut = runtime.record(who, job.tenant.id, "log.export", job.record(tally, False), ip)
            task = asyncio.get_running_loop().create_task(cut)
            _recording.add(task)
            task.add_done_callback(_recording.discard)
